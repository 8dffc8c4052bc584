"""Test confidence: intervals for accuracy-like figures and paired tests between systems.

Paper, Sec. 3.2 ("Test confidence"): a trial is a Bernoulli draw, so the accuracy over n
trials has the normal-approximation interval p +- z * sqrt(p (1 - p) / n)
(:func:`binomial_normal`). Trials that share identities are *not* independent, so that
interval is too narrow; :func:`cluster_bootstrap` resamples whole identities instead.
The paper's second analysis (Fig. 4b) repeats the test on R random test sets and uses a
t-interval over the R figures (:func:`t_interval`).

Paired comparison of two systems scored on the same trials: :func:`mcnemar_exact` and
:func:`paired_bootstrap` (difference of means, identity-level resampling).

All functions take outcomes in [0, 1] (fractional under the half-credit tie rule) and
return :class:`~vfbench.evaluate.results.Estimate` objects or plain numbers. Everything is
vectorised: a bootstrap replicate is one row of a (B, n_identities) weight matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from vfbench.errors import EvaluationError
from vfbench.evaluate.results import Estimate


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise EvaluationError(f"confidence level must be in (0, 1), got {level}")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def binomial_normal(successes: float, n: int, level: float = 0.95) -> Estimate:
    """The paper's interval p +- z sqrt(p(1-p)/n) (Sec. 3.2), clipped to [0, 1].

    ``successes`` may be fractional (half-credit ties). ``n`` = number of trials.
    """
    if n <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "binomial", level)
    p = float(successes) / n
    h = _z(level) * np.sqrt(max(p * (1.0 - p), 0.0) / n)
    return Estimate(p, max(0.0, p - h), min(1.0, p + h), int(n), "binomial", level)


def wilson(successes: float, n: int, level: float = 0.95) -> Estimate:
    """Wilson score interval for a binomial proportion (better than the normal one near 0/1)."""
    if n <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "wilson", level)
    z = _z(level)
    p = float(successes) / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    h = z * np.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - h), min(1.0, centre + h), int(n), "wilson", level)


def mean_normal(values: np.ndarray, level: float = 0.95) -> Estimate:
    """mean +- z * sd / sqrt(n) over independent-looking units (e.g. per-query AP)."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "normal", level)
    m = float(v.mean())
    sd = float(v.std(ddof=1)) if n > 1 else 0.0
    h = _z(level) * sd / np.sqrt(n)
    return Estimate(m, m - h, m + h, n, "normal", level)


def t_interval(values: np.ndarray, level: float = 0.95) -> Estimate:
    """Student-t interval of the mean of R repeated figures (paper Sec. 3.2 / Fig. 4b)."""
    v = np.asarray(values, dtype=np.float64)
    r = v.size
    if r == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "t", level)
    m = float(v.mean())
    if r == 1:
        return Estimate(m, float("nan"), float("nan"), 1, "t", level)
    sd = float(v.std(ddof=1))
    h = float(stats.t.ppf(0.5 + level / 2.0, df=r - 1)) * sd / np.sqrt(r)
    return Estimate(m, m - h, m + h, r, "t", level)


def _cluster_codes(clusters: np.ndarray) -> tuple[np.ndarray, int]:
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    return codes.reshape(-1), int(codes.max()) + 1 if codes.size else 0


def bootstrap_weights(n_clusters: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_clusters) multinomial counts: how often each identity is drawn.

    Each row draws ``n_clusters`` identities uniformly with replacement; counted with one
    ``bincount`` over row-offset draws (much faster than ``rng.multinomial``).
    """
    out = np.empty((n_boot, n_clusters), dtype=np.float64)
    step = max(1, (1 << 22) // max(n_clusters, 1))
    for a in range(0, n_boot, step):
        b = min(step, n_boot - a)
        draws = rng.integers(0, n_clusters, size=(b, n_clusters))
        draws += (np.arange(b) * n_clusters)[:, None]
        out[a : a + b] = np.bincount(draws.reshape(-1), minlength=b * n_clusters).reshape(
            b, n_clusters
        )
    return out


def cluster_bootstrap(
    values: np.ndarray,
    clusters: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    denominators: np.ndarray | None = None,
) -> Estimate:
    """Identity-level (cluster) percentile bootstrap of a ratio of sums.

    ``values`` (T,) per-unit outcomes (trial correctness, per-query AP ...), ``clusters``
    (T,) the identity each unit belongs to (the query identity). A replicate draws
    identities with replacement and recomputes sum(values) / sum(denominators)
    (denominators default to 1 per unit, i.e. the mean) from per-identity sums - so it costs
    O(B x n_identities), not O(B x T).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    d = np.ones_like(v) if denominators is None else np.asarray(denominators, np.float64)
    if v.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "bootstrap-identity", level)
    if d.shape != v.shape or np.asarray(clusters).shape[0] != v.size:
        raise EvaluationError(
            f"values {v.shape}, denominators {d.shape} and clusters {np.shape(clusters)} disagree"
        )
    codes, k = _cluster_codes(clusters)
    sums = np.bincount(codes, weights=v, minlength=k)
    dens = np.bincount(codes, weights=d, minlength=k)
    point = float(sums.sum() / dens.sum())
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    reps = np.empty(n_boot)
    step = max(1, int(4_000_000 // max(k, 1)))
    for a in range(0, n_boot, step):
        w = bootstrap_weights(k, min(step, n_boot - a), rng)
        num = w @ sums
        den = w @ dens
        with np.errstate(invalid="ignore", divide="ignore"):
            reps[a : a + w.shape[0]] = num / den
    reps = reps[np.isfinite(reps)]
    lo, hi = np.quantile(reps, [0.5 - level / 2, 0.5 + level / 2]) if reps.size else (np.nan,) * 2
    return Estimate(point, float(lo), float(hi), int(v.size), "bootstrap-identity", level)


def accuracy_intervals(
    outcomes: np.ndarray,
    clusters: np.ndarray | None,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
    methods: tuple[str, ...] = ("binomial", "wilson", "bootstrap-identity"),
) -> dict[str, Estimate]:
    """All intervals of an accuracy over trials with outcomes in [0, 1]."""
    o = np.asarray(outcomes, dtype=np.float64)
    s, n = float(o.sum()), int(o.size)
    out: dict[str, Estimate] = {}
    if "binomial" in methods:
        out["binomial"] = binomial_normal(s, n, level)
    if "wilson" in methods:
        out["wilson"] = wilson(s, n, level)
    if "bootstrap-identity" in methods and clusters is not None and n > 0:
        out["bootstrap-identity"] = cluster_bootstrap(o, clusters, n_boot, level, seed)
    return out


# --------------------------------------------------------------------------- paired tests
@dataclass(frozen=True)
class PairedTest:
    """Result of comparing system A with system B on the same trials."""

    diff: Estimate  # mean(A) - mean(B) with its paired identity-bootstrap interval
    p_bootstrap: float
    p_mcnemar: float | None
    n10: float  # trials (mass) A right, B wrong
    n01: float  # trials (mass) A wrong, B right

    def to_dict(self) -> dict[str, Any]:
        return {
            "diff": self.diff.to_dict(),
            "p_bootstrap": self.p_bootstrap,
            "p_mcnemar": self.p_mcnemar,
            "n10": self.n10,
            "n01": self.n01,
        }


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """McNemar's exact test of two systems' outcomes on the same trials.

    Returns ``(p_value, n10, n01)``: n10 = mass of trials A gets right and B wrong, n01 the
    reverse; the p-value is the two-sided exact binomial test of n10 out of n10 + n01 at 1/2
    (``scipy.stats.binomtest``). With half-credit ties an outcome is fractional; a trial then
    contributes its *partial* disagreement: n10 = sum(max(a - b, 0)), n01 = sum(max(b - a,
    0)), and both masses are rounded to integers for the binomial test (with 0/1 outcomes
    this is the classic test exactly).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise EvaluationError(f"paired outcomes differ in shape: {a.shape} vs {b.shape}")
    d = a - b
    n10 = float(np.clip(d, 0, None).sum())
    n01 = float(np.clip(-d, 0, None).sum())
    k, m = int(round(n10)), int(round(n10)) + int(round(n01))
    p = 1.0 if m == 0 else float(stats.binomtest(k, m, 0.5).pvalue)
    return p, n10, n01


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    clusters: np.ndarray,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> tuple[Estimate, float]:
    """Identity-level bootstrap of mean(a) - mean(b) over the same trials.

    Returns the difference with its percentile interval and a two-sided bootstrap p-value
    (2 x the smaller tail mass of the replicates beyond 0, at least 1/B).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise EvaluationError(f"paired outcomes differ in shape: {a.shape} vs {b.shape}")
    d = a - b
    codes, k = _cluster_codes(clusters)
    sums = np.bincount(codes, weights=d, minlength=k)
    cnt = np.bincount(codes, minlength=k).astype(np.float64)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    w = bootstrap_weights(k, n_boot, rng)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ sums) / (w @ cnt)
    reps = reps[np.isfinite(reps)]
    point = float(d.mean()) if d.size else float("nan")
    lo, hi = np.quantile(reps, [0.5 - level / 2, 0.5 + level / 2])
    if np.all(d == 0):
        p = 1.0
    else:
        tail = min(float(np.mean(reps <= 0)), float(np.mean(reps >= 0)))
        p = min(1.0, max(2 * tail, 1.0 / max(reps.size, 1)))
    return Estimate(point, float(lo), float(hi), int(d.size), "paired-bootstrap", level), p


def paired_test(
    a: np.ndarray,
    b: np.ndarray,
    clusters: np.ndarray,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    mcnemar: bool = True,
) -> PairedTest:
    """McNemar (for trial outcomes) + paired identity bootstrap in one call."""
    diff, p_boot = paired_bootstrap(a, b, clusters, n_boot, level, seed)
    p_mc, n10, n01 = mcnemar_exact(a, b) if mcnemar else (None, 0.0, 0.0)
    return PairedTest(diff, p_boot, p_mc, n10, n01)
