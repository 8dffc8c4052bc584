"""Typed results of an evaluation, with a lossless JSON round trip.

* :class:`Estimate` - one figure with its interval (``value``, ``low``, ``high``, ``n``,
  ``method``, ``level``).
* :class:`Metric` - one row of the report: task, direction, setting, metric name, the point
  value, every interval computed for it (binomial, Wilson, identity bootstrap, t ...) and
  the sanity anchors (chance level and the gender-only baseline).
* :class:`Curve` - x/y arrays for plots (ROC, CI width vs. number of identities ...).
* :class:`EvaluationResult` - all rows + curves + protocol + provenance; ``to_json`` /
  ``from_json``; :meth:`EvaluationResult.save` writes ``results.json`` atomically.

Per-trial outcomes (for ``vfbench compare``) live beside in ``outcomes.npz``
(:func:`save_outcomes` / :func:`load_outcomes`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.utils.io import atomic_save_npz, atomic_write_json

RESULTS_SCHEMA_VERSION = 1
#: Bump when the evaluation code changes the figures it writes for the same inputs (an
#: interval method, a tie rule, a default): stages that cache results (the demo, the methods
#: benchmark) re-evaluate instead of reusing figures of older code. 2: per-task seeding and
#: all-roles intervals (round 3); 3: retrieval intervals in every role, corrected crossed
#: bootstrap of matching (round 4); 4: variance-corrected verification bootstrap, retrieval
#: default jackknife-all-t (round 5).
FIGURES_VERSION = 4


def _f(x: float | None) -> float | None:
    """JSON-safe float (NaN -> None)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass(frozen=True)
class Estimate:
    """A figure with a two-sided confidence interval.

    ``value`` is the point estimate, ``[low, high]`` the interval at confidence ``level``,
    ``n`` the number of units it rests on (trials, pairs, queries, or test sets) and
    ``method`` how the interval was computed (``"binomial"``, ``"wilson"``, ``"bootstrap-all"``,
    ``"bootstrap-identity"``, ``"t"``, ``"normal"`` ...).
    """

    value: float
    low: float
    high: float
    n: int
    method: str
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def contains(self, x: float) -> bool:
        return bool(self.low <= x <= self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": _f(self.value),
            "low": _f(self.low),
            "high": _f(self.high),
            "n": int(self.n),
            "method": self.method,
            "level": float(self.level),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimate:
        return cls(
            value=_nan(d["value"]),
            low=_nan(d["low"]),
            high=_nan(d["high"]),
            n=int(d["n"]),
            method=str(d["method"]),
            level=float(d.get("level", 0.95)),
        )

    def __str__(self) -> str:
        return f"{self.value:.4f} [{self.low:.4f}, {self.high:.4f}] ({self.method}, n={self.n})"


@dataclass
class Metric:
    """One reported figure (one row of the report table).

    ``task``: ``match`` | ``verify`` | ``retrieve`` | ``joint_match`` | ``joint_retrieve`` |
    ``repeated``. ``direction``: ``v2f`` | ``f2v``. ``setting``: a short human label of the
    variant (``"1:2 U"``, ``"paper 100x5/40"``, ``"m_v=3 m_f=3"`` ...); ``params`` the same
    as data (``n``, ``constraint``, ``m_v`` ...). ``group``: ``"all"`` or a subgroup such as
    ``"gender=m"``. ``intervals`` maps a method name to an :class:`Estimate`.
    ``chance`` is the expected value of a random scorer and ``gender_baseline`` the value of
    a scorer that only knows gender (``None`` when gender is unknown or not applicable).
    ``key`` names the saved per-trial outcomes (``outcomes.npz``) when there are any.
    """

    task: str
    direction: str
    setting: str
    name: str
    value: float
    n: int
    params: dict[str, Any] = field(default_factory=dict)
    group: str = "all"
    intervals: dict[str, Estimate] = field(default_factory=dict)
    chance: float | None = None
    gender_baseline: float | None = None
    n_identities: int = 0
    key: str = ""
    higher_is_better: bool = True

    def interval(self, method: str | None = None) -> Estimate | None:
        """The interval of ``method``, or the preferred one (bootstrap > t > wilson > ...)."""
        if method is not None:
            return self.intervals.get(method)
        for m in (
            "jackknife-all-t",
            "jackknife-all",
            "bootstrap-all",
            "bootstrap-identity",
            "t",
            "wilson",
            "binomial",
            "normal",
        ):
            if m in self.intervals:
                return self.intervals[m]
        return next(iter(self.intervals.values()), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["value"] = _f(self.value)
        d["chance"] = _f(self.chance)
        d["gender_baseline"] = _f(self.gender_baseline)
        d["intervals"] = {k: v.to_dict() for k, v in self.intervals.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metric:
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        kw["value"] = _nan(d.get("value"))
        kw["intervals"] = {k: Estimate.from_dict(v) for k, v in (d.get("intervals") or {}).items()}
        for k in ("chance", "gender_baseline"):
            kw[k] = None if d.get(k) is None else float(d[k])
        return cls(**kw)


@dataclass
class Curve:
    """A named x/y series for plots (``kind``: ``roc``, ``1ton``, ``ci_vs_ids``, ``joint``)."""

    name: str
    kind: str
    x: list[float]
    y: list[float]
    low: list[float] | None = None
    high: list[float] | None = None
    x_label: str = ""
    y_label: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Curve:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class EvaluationResult:
    """Everything one ``evaluate`` call produced; rendered by :mod:`vfbench.report`."""

    metrics: list[Metric] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    protocol: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    trials_hash: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    schema_version: int = RESULTS_SCHEMA_VERSION
    # per-trial outcomes, key -> arrays (not in JSON; saved to outcomes.npz)
    outcomes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def find(self, **where: Any) -> list[Metric]:
        """Rows whose ``params`` entries (first) or attributes equal every ``where`` item.

        ``params`` win on a name clash, so ``find(n=2)`` means "1:2" (``params["n"]``), not
        a sample size of 2.
        """
        out = []
        for m in self.metrics:
            ok = True
            for k, v in where.items():
                have = m.params[k] if k in m.params else getattr(m, k, None)
                if have != v:
                    ok = False
                    break
            if ok:
                out.append(m)
        return out

    def get(self, **where: Any) -> Metric:
        rows = self.find(**where)
        if len(rows) != 1:
            raise EvaluationError(f"expected one result row for {where}, found {len(rows)}")
        return rows[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "trials_hash": self.trials_hash,
            "protocol": self.protocol,
            "provenance": self.provenance,
            "summary": self.summary,
            "warnings": list(self.warnings),
            "metrics": [m.to_dict() for m in self.metrics],
            "curves": [c.to_dict() for c in self.curves],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvaluationResult:
        version = d.get("schema_version")
        if version != RESULTS_SCHEMA_VERSION:
            raise EvaluationError(f"results schema_version {version!r} is not supported")
        return cls(
            metrics=[Metric.from_dict(m) for m in d.get("metrics", [])],
            curves=[Curve.from_dict(c) for c in d.get("curves", [])],
            protocol=dict(d.get("protocol") or {}),
            provenance=dict(d.get("provenance") or {}),
            trials_hash=str(d.get("trials_hash", "")),
            summary=dict(d.get("summary") or {}),
            warnings=list(d.get("warnings") or []),
        )

    @classmethod
    def from_json(cls, text: str) -> EvaluationResult:
        return cls.from_dict(json.loads(text))

    def save(self, directory: str | Path) -> Path:
        """Write ``results.json`` (+ ``outcomes.npz`` when outcomes exist) into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_json(d / "results.json", self.to_dict())
        if self.outcomes:
            save_outcomes(d / "outcomes.npz", self.outcomes)
        return d / "results.json"

    @classmethod
    def load(cls, directory: str | Path, with_outcomes: bool = False) -> EvaluationResult:
        d = Path(directory)
        p = d / "results.json" if d.is_dir() else d
        if not p.is_file():
            raise EvaluationError(f"{p}: results file not found (run `vfbench evaluate` first)")
        try:
            res = cls.from_json(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        except EvaluationError as exc:
            raise EvaluationError(f"{p}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise EvaluationError(f"{p}: malformed results ({exc!r})") from None
        if with_outcomes:
            o = p.parent / "outcomes.npz"
            if not o.is_file():
                raise EvaluationError(f"{o}: per-trial outcomes not found (needed for compare)")
            res.outcomes = load_outcomes(o)
        return res


def save_outcomes(path: str | Path, outcomes: dict[str, dict[str, np.ndarray]]) -> None:
    """Save ``{key: {array_name: array}}`` as one npz with entries ``key::array_name``."""
    flat = {}
    for key, arrays in outcomes.items():
        if "::" in key:
            raise EvaluationError(f"outcome key {key!r} may not contain '::'")
        for name, arr in arrays.items():
            flat[f"{key}::{name}"] = np.asarray(arr)
    # deflating 1M outcomes costs ~0.5 s for a few MB saved: compress small files only
    small = sum(a.nbytes for a in flat.values()) < (4 << 20)
    atomic_save_npz(path, compressed=small, **flat)


def load_outcomes(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for name in z.files:
                key, _, arr = name.partition("::")
                out.setdefault(key, {})[arr] = z[name]
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"{path}: cannot read outcomes ({exc})") from None
    return out
