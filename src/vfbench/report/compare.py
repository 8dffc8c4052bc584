"""Paired comparison of two runs scored on the same trials (``vfbench compare RUN_A RUN_B``).

Uses the per-trial outcomes each run saved (``outcomes.npz``):

* matching (``outcome`` in [0, 1] per trial): McNemar's exact test + paired identity
  bootstrap of the accuracy difference;
* retrieval (per-query AP): paired identity bootstrap of the mAP difference;
* verification (per-pair ``score`` + ``label``): paired identity bootstrap of the AUC
  difference (the same identity weights applied to both systems' ROC).

Both runs must have the same trial hash; otherwise the comparison is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate.confidence import bootstrap_weights, paired_test
from vfbench.evaluate.metrics import auc_from_roc, roc
from vfbench.evaluate.results import Estimate, EvaluationResult


@dataclass
class ComparisonRow:
    key: str
    metric: str
    a: float
    b: float
    diff: Estimate
    p_bootstrap: float
    p_mcnemar: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "metric": self.metric,
            "a": self.a,
            "b": self.b,
            "diff": self.diff.to_dict(),
            "p_bootstrap": self.p_bootstrap,
            "p_mcnemar": self.p_mcnemar,
            "n": self.n,
        }


def _auc_diff(
    oa: dict[str, np.ndarray], ob: dict[str, np.ndarray], n_boot: int, level: float, seed: int
) -> tuple[float, float, Estimate, float]:
    la, lb = oa["label"].astype(bool), ob["label"].astype(bool)
    if not np.array_equal(la, lb):
        raise EvaluationError("verification labels differ between the runs")
    a = float(auc_from_roc(roc(oa["score"], la)))
    b = float(auc_from_roc(roc(ob["score"], lb)))
    _, codes = np.unique(oa["cluster"], return_inverse=True)
    k = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    reps = []
    for s in range(0, n_boot, 100):
        w = bootstrap_weights(k, min(100, n_boot - s), rng)[:, codes]
        reps.append(
            np.asarray(auc_from_roc(roc(oa["score"], la, w)))
            - np.asarray(auc_from_roc(roc(ob["score"], lb, w)))
        )
    r = np.concatenate(reps)
    r = r[np.isfinite(r)]
    lo, hi = np.quantile(r, [0.5 - level / 2, 0.5 + level / 2])
    tail = min(float(np.mean(r <= 0)), float(np.mean(r >= 0)))
    p = 1.0 if a == b else min(1.0, max(2 * tail, 1.0 / r.size))
    return a, b, Estimate(a - b, float(lo), float(hi), int(la.size), "paired-bootstrap", level), p


def compare_results(
    a: EvaluationResult, b: EvaluationResult, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> list[ComparisonRow]:
    """Paired tests for every trial group the two runs share (outcomes must be loaded)."""
    if a.trials_hash != b.trials_hash:
        raise EvaluationError(
            f"runs were scored on different trials ({a.trials_hash[:12]} vs {b.trials_hash[:12]}); "
            "evaluate both with the same --trials file"
        )
    if not a.outcomes or not b.outcomes:
        raise EvaluationError(
            "per-trial outcomes are missing; load the runs with with_outcomes=True"
        )
    rows: list[ComparisonRow] = []
    for i, key in enumerate(k for k in a.outcomes if k in b.outcomes):
        oa, ob = a.outcomes[key], b.outcomes[key]
        if "score" in oa:
            va, vb, diff, p = _auc_diff(oa, ob, n_boot, level, seed + i)
            rows.append(ComparisonRow(key, "auc", va, vb, diff, p, None, diff.n))
            continue
        xa, xb = oa["outcome"].astype(np.float64), ob["outcome"].astype(np.float64)
        if xa.shape != xb.shape:
            raise EvaluationError(
                f"{key}: outcome arrays differ in length ({xa.size} vs {xb.size})"
            )
        is_match = key.startswith(("match", "joint_match"))
        t = paired_test(xa, xb, oa["cluster"], n_boot, level, seed + i, mcnemar=is_match)
        rows.append(
            ComparisonRow(
                key,
                "accuracy" if is_match else "mAP",
                float(xa.mean()),
                float(xb.mean()),
                t.diff,
                t.p_bootstrap,
                t.p_mcnemar,
                int(xa.size),
            )
        )
    if not rows:
        raise EvaluationError("the two runs share no trial group")
    return rows


def comparison_markdown(rows: list[ComparisonRow], name_a: str = "A", name_b: str = "B") -> str:
    out = [
        f"| trials | metric | {name_a} (%) | {name_b} (%) | diff (%) | 95% CI of diff (%) | p (bootstrap) | p (McNemar) | n |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mc = "-" if r.p_mcnemar is None else f"{r.p_mcnemar:.3g}"
        out.append(
            f"| {r.key} | {r.metric} | {100 * r.a:.2f} | {100 * r.b:.2f} | {100 * r.diff.value:+.2f} | "
            f"[{100 * r.diff.low:+.2f}, {100 * r.diff.high:+.2f}] | {r.p_bootstrap:.3g} | {mc} | {r.n} |"
        )
    return "\n".join(out) + "\n"


def print_comparison(
    rows: list[ComparisonRow], name_a: str = "A", name_b: str = "B", console: Any = None
) -> None:
    from rich.console import Console
    from rich.table import Table

    con = console or Console()
    t = Table(title=f"paired comparison: {name_a} vs {name_b}")
    for h in (
        "trials",
        "metric",
        f"{name_a} %",
        f"{name_b} %",
        "diff %",
        "95% CI %",
        "p boot",
        "p McNemar",
        "n",
    ):
        t.add_column(h)
    for r in rows:
        t.add_row(
            r.key,
            r.metric,
            f"{100 * r.a:.2f}",
            f"{100 * r.b:.2f}",
            f"{100 * r.diff.value:+.2f}",
            f"[{100 * r.diff.low:+.2f}, {100 * r.diff.high:+.2f}]",
            f"{r.p_bootstrap:.3g}",
            "-" if r.p_mcnemar is None else f"{r.p_mcnemar:.3g}",
            str(r.n),
        )
    con.print(t)
