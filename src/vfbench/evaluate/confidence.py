"""Test confidence: every interval and every paired test of vfbench, in one place.

Paper, Sec. 3.2 ("Test confidence"): a trial is a Bernoulli draw, so the accuracy over n
trials has the normal-approximation interval p +- z * sqrt(p (1 - p) / n)
(:func:`binomial_normal`). Trials that share identities are *not* independent, so that
interval is too narrow. The paper's second analysis (Fig. 4b) repeats the test on R random
test sets and uses a t-interval over the R figures (:func:`t_interval`).

**One resampling primitive** (:class:`Resampler`): a replicate draws the test identities
with replacement (multiplicities ``w_i``, one multinomial draw of I out of I) and weights
every trial by the product of the multiplicities of the *distinct* identities it involves:
in 1:n matching the query (= true candidate) identity and the n - 1 distractor identities;
in verification the anchor and, for a negative pair, the other identity. This is the
identity ("vertex") bootstrap for crossed designs: trials share identities in every role,
so resampling only the query identity (``roles="query"``, the older
``bootstrap-identity`` interval) misses the variance that distractor identities bring (a
strong or weak distractor shows up in many trials). Product weights make a replicate the
figure one would get on a test set whose identities were the resampled ones (a duplicated
identity duplicates every trial it takes part in), which is the pigeonhole bootstrap of
Owen (2007) for crossed random effects with the two factors being one identity set. Such
product-weight bootstraps are conservative (Owen 2007; Owen & Eckles 2012; McCullagh 2000:
no resampling scheme is exactly unbiased for crossed designs): each trial's own variance
(Bernoulli outcome, query-by-distractor interaction) enters the replicates' variance
2 k - 1 times for a trial of k distinct identities instead of once. With few trials per
identity pair that surplus is a large share (a quarter of the variance at 1:2 on 500
identities, half at 1:10), and the raw interval covered up to 99.3 % at nominal 95 %. The
replicates are therefore scaled about the point value by :func:`crossed_variance_scale`,
which removes the surplus from the first-order bootstrap variance and applies the
few-clusters t(I - 1) factor (same identity draws, same shape; the paired bootstrap too).
The coverage simulation (``benchmarks/bench_coverage.py``, table in docs/evaluation.md)
checks it: 93.1-95.3 % at 1:2, 1:5 and 1:10 on 80-500 identities.

**Verification** figures (AUC, EER, TAR@FAR of a weighted ROC) are not ratios of sums, but
each is linearised into per-pair contributions e_p (:func:`verification_contributions`:
the Hoeffding projection of the AUC, the threshold shift through the score densities for
EER and TAR@FAR), and the same first-order algebra gives the pigeonhole variance and its
corrected value from them (:func:`linearised_variance_scale`); a negative pair involves
two identities and carries the surplus, a positive pair one. The all-roles replicates of
each figure, and of ``vfbench compare``'s paired AUC difference, are scaled about the
point value by their own factor (:func:`verification_scales`; coverage table in
docs/evaluation.md).

Trials with **more than two** distinct identities (1:n matching, n >= 3) are a two-way
design between the query identity and the *set* of distractors: their weight is
``w_q * (1 + sum_j (w_j - 1))``, the query's multiplicity times the first-order (Hajek)
part of the distractors' product. The full product of k multiplicities has variance
``2^k - 1``, and with a *sampled* list of trials (each combination of distractors seen about
once) the distractor-by-distractor terms are pure noise on top of the identity effects (a
1:10 interval on 80 identities spanned 13-65 %). The form above keeps every identity's
effect in every role and the query-by-distractor interaction, drops only the interactions
among distractors, and equals the product when there is one distractor (1:2, where the
coverage simulation validates it); it is summed through I x I tables (``_qd_tables``).

**Retrieval** resamples query and gallery identities together with the same draws
(:func:`retrieval_replicates`): a replicate is the figure of the test set in which every
identity appears w_i times with its queries and its gallery items (a relevant item's rank
is linear in the multiplicities of the other identities: one matrix product per query
block), the query's own resampled copies left out of its gallery. AP and p@k are not
linear in the rank, so those replicates are biased upward by the duplication itself; the
interval is their percentile interval re-centred on the estimate (:func:`centred_interval`).
The default retrieval interval is the delete-one-identity jackknife from the same counts
(each leave-one-out set is a real test set) with a t quantile at the effective number of
identities (:func:`jackknife_t_interval`: Satterthwaite degrees of freedom from the
influence values' kurtosis, since a few strong-distractor identities carry most of the
variance); the plain ``estimate +- z se`` (:func:`jackknife_interval`) under-covered at 80
identities (91.8 % face->voice). Coverage in docs/evaluation.md.

Every bootstrap interval is a percentile interval of the replicates that are defined
(:func:`percentile_interval`; a replicate with, e.g., no positive pair is NaN and is
dropped, and the count is kept). **One p-value rule** (:func:`bootstrap_p_value`).

Paired comparison of two systems scored on the same trials: :func:`paired_bootstrap`
(identity-level, the same resampling) and a trial-level test (:func:`trial_test`: McNemar's
exact test when every outcome is 0 or 1, a sign-flip permutation test otherwise).

All functions take outcomes in [0, 1] (fractional under the half-credit tie rule) and
return :class:`~vfbench.evaluate.results.Estimate` objects or plain numbers. Everything is
vectorised: a bootstrap replicate is one row of a (B, n_identities) weight matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate import _kernels
from vfbench.evaluate.metrics import (
    AP_VARIANTS,
    auc_from_roc,
    eer_from_roc,
    relevant_slots,
    roc,
    tar_at_far,
)
from vfbench.evaluate.results import Estimate
from vfbench.evaluate.scoring import score_matrix
from vfbench.utils.parallel import blas_single_thread_if_small
from vfbench.utils.tdist import t_quantile


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise EvaluationError(f"confidence level must be in (0, 1), got {level}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


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
    # at p = 0 (p = 1) the bound is exactly 0 (1); rounding would leave ~1e-17 beside it
    low = 0.0 if p <= 0.0 else max(0.0, centre - h)
    high = 1.0 if p >= 1.0 else min(1.0, centre + h)
    return Estimate(p, low, high, int(n), "wilson", level)


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
    h = t_quantile(r - 1, 0.5 + level / 2.0) * sd / np.sqrt(r)
    return Estimate(m, m - h, m + h, r, "t", level)


ALL = "bootstrap-all"  # identities resampled in every role of a trial (the default)
QUERY = "bootstrap-identity"  # only the query identity resampled
PAIRED = "paired-bootstrap"
JACK = "jackknife-all"  # leave one identity out of every role (retrieval), estimate +- z se
#: the same leave-one-identity-out values with a t quantile at the effective number of
#: identities (:func:`jackknife_t_interval`): the default retrieval interval
JACK_T = "jackknife-all-t"


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


def dense_codes(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels -> codes 0..K-1 (in sorted label order) and K. Non-negative integer labels
    of moderate range (identity codes) are mapped in O(T) through a presence table, not a
    sort (np.unique of 2M labels costs ~0.5 s); anything else goes through np.unique."""
    x = np.asarray(labels).reshape(-1)
    if x.size and np.issubdtype(x.dtype, np.integer):
        lo, hi = int(x.min()), int(x.max())
        if lo >= 0 and hi < 4 * x.size + (1 << 20):
            present = np.zeros(hi + 1, dtype=bool)
            present[x] = True
            remap = np.cumsum(present) - 1
            return remap[x], int(remap[-1]) + 1
    _, inv = np.unique(x, return_inverse=True)
    inv = inv.reshape(-1)
    return inv, int(inv.max()) + 1 if inv.size else 0


def distinct_roles(roles: np.ndarray) -> np.ndarray:
    """(T, k) identity codes of each trial's roles -> the same with repeats replaced by -1.

    A trial's weight is the product over its *distinct* identities (a positive verification
    pair involves one identity, not two)."""
    r = np.asarray(roles, dtype=np.int64)
    if r.ndim == 1:
        return r[:, None]
    out = r.copy()
    for j in range(1, r.shape[1]):
        dup = (r[:, :j] == r[:, j : j + 1]).any(axis=1)
        out[dup, j] = -1
    return out


class Resampler:
    """Replicate weights of T trials for an identity bootstrap.

    ``roles`` (T,) or (T, k): identity labels of each trial's roles, column 0 the query
    (anchor) identity; -1 = no identity in that role. ``all_roles``: weight a trial by the
    product of the multiplicities of all its distinct identities (default; with more than
    two roles ``w_q * (1 + sum_j (w_j - 1))`` over the distractors, see the module doc),
    else by its query identity's multiplicity only. Iterate :meth:`weights` for (b, T) blocks.
    """

    def __init__(self, roles: np.ndarray, all_roles: bool = True) -> None:
        r = np.asarray(roles)
        if r.ndim == 1:
            r = r[:, None]
        if r.ndim != 2:
            raise EvaluationError(f"roles must be (T,) or (T, k), got shape {r.shape}")
        if not all_roles:
            r = r[:, :1]
        flat = r.reshape(-1)
        valid = flat >= 0 if np.issubdtype(flat.dtype, np.integer) else np.ones(flat.size, bool)
        if valid.all():
            codes, n_ids = dense_codes(flat)
        else:
            codes = np.full(flat.size, -1, dtype=np.int64)
            codes[valid], n_ids = dense_codes(flat[valid])
        self.codes = distinct_roles(codes.reshape(r.shape))
        self.n_identities = n_ids
        self.n_trials = int(r.shape[0])
        self.all_roles = bool(all_roles) and self.codes.shape[1] > 1
        self.linear = self.all_roles and self.codes.shape[1] > 2
        self.method = ALL if all_roles else QUERY

    def weights(
        self, n_boot: int, rng: np.random.Generator, max_elems: int = 1 << 23
    ) -> Iterator[np.ndarray]:
        """Blocks of (b, T) float32 trial weights, ``n_boot`` rows in all."""
        for m in self.multiplicities(n_boot, rng, max_elems):
            w = m.astype(np.float32).T.copy()  # (I, b)
            yield _trial_weights(w, self.codes, self.linear).T

    def multiplicities(
        self, n_boot: int, rng: np.random.Generator, max_elems: int = 1 << 23
    ) -> Iterator[np.ndarray]:
        """The (b, I) identity multiplicities behind :meth:`weights`' blocks: the same
        draws from ``rng`` in the same blocks (so a kernel that forms the trial weights
        itself resamples exactly as :meth:`weights` does)."""
        t = max(self.n_trials, 1)
        step = max(1, max_elems // t)
        for a in range(0, n_boot, step):
            yield bootstrap_weights(self.n_identities, min(step, n_boot - a), rng)


def _trial_weights(wt: np.ndarray, codes: np.ndarray, linear: bool) -> np.ndarray:
    """(I, b) identity multiplicities -> (T, b) trial weights (contiguous row gathers): the
    product over each trial's distinct identities, or with ``linear`` (more than two roles)
    ``w_q * (1 + sum_j (w_j - 1))`` over its distinct distractors (module doc)."""
    out = wt[codes[:, 0]]  # a gather: a new array, safe to update in place
    if linear:
        lin = np.ones_like(out)
        for j in range(1, codes.shape[1]):
            has = codes[:, j] >= 0
            lin[has] += wt[codes[has, j]] - 1.0
        return out * lin
    for j in range(1, codes.shape[1]):
        has = codes[:, j] >= 0
        if has.all():
            out *= wt[codes[:, j]]
        elif has.any():
            out[has] *= wt[codes[has, j]]
    return out


def percentile_interval(
    point: float, reps: np.ndarray, level: float, n: int, method: str
) -> Estimate:
    """Percentile interval of the defined (finite) replicates; NaN when none is."""
    r = np.asarray(reps, dtype=np.float64).reshape(-1)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return Estimate(point, float("nan"), float("nan"), n, method, level)
    lo, hi = np.quantile(r, [0.5 - level / 2, 0.5 + level / 2])
    return Estimate(point, float(lo), float(hi), n, method, level)


def centred_interval(
    point: float,
    reps: np.ndarray,
    level: float,
    n: int,
    method: str,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[Estimate, float]:
    """Percentile interval of the defined replicates shifted by their mean offset from
    ``point`` (the replicates re-centred on the estimate), clipped to ``bounds``; returns
    the interval and the shift mean(reps) - point. For figures whose replicates carry a
    resampling artefact rather than the estimator's bias (retrieval: a duplicated
    distractor identity brings no new chance of outranking a relevant item, see
    :func:`retrieval_figures` and docs/evaluation.md)."""
    r = np.asarray(reps, dtype=np.float64).reshape(-1)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return Estimate(point, float("nan"), float("nan"), n, method, level), float("nan")
    shift = float(r.mean()) - point
    lo, hi = np.quantile(r, [0.5 - level / 2, 0.5 + level / 2]) - shift
    lo, hi = max(bounds[0], float(lo)), min(bounds[1], float(hi))
    return Estimate(point, lo, hi, n, method, level), shift


def jackknife_interval(
    point: float,
    loo: np.ndarray,
    level: float,
    n: int,
    method: str = JACK,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> Estimate:
    """Normal interval ``point +- z * se`` with the delete-one jackknife standard error of
    the defined leave-one-out values ``loo`` (m of them): se^2 = (m - 1) / m *
    sum (loo - mean(loo))^2 (Quenouille-Tukey), clipped to ``bounds``."""
    x = np.asarray(loo, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return Estimate(point, float("nan"), float("nan"), n, method, level)
    se = float(np.sqrt((x.size - 1) / x.size * ((x - x.mean()) ** 2).sum()))
    h = _z(level) * se
    return Estimate(point, max(bounds[0], point - h), min(bounds[1], point + h), n, method, level)


@dataclass(frozen=True)
class JackknifeMoments:
    """Delete-one jackknife summary of leave-one-out values, from the influence values
    ``L_i = (m - 1) (mean(loo) - loo_i)`` of the ``m`` defined values (Efron's U_i; for a
    mean they are x_i - mean(x)):

    * ``se``: se^2 = sum L_i^2 / (m (m - 1)) (= Quenouille-Tukey's
      (m - 1) / m sum (loo_i - mean)^2);
    * ``skew``: sum L_i^3 / (sum L_i^2)^(3/2), the skewness of the estimator's first-order
      part (for a mean the sample skewness over sqrt(m); 6 x BCa's acceleration); at most 1
      in absolute value (|sum L^3| <= max |L| sum L^2 <= (sum L^2)^(3/2));
    * ``df``: the Satterthwaite degrees of freedom of se^2 as a sum of m independent
      squared influence values, 2 E[se^2]^2 / Var(se^2) = 2 m / (kurt - 1) with the
      influence values' kurtosis kurt = m sum L^4 / (sum L^2)^2 (m for normal ones), at most
      m - 1 and at least 1: the effective number of identities, small when a few
      identities carry most of the variance."""

    m: int
    se: float
    skew: float
    df: float


def jackknife_moments(loo: np.ndarray) -> JackknifeMoments:
    """:class:`JackknifeMoments` of the finite values of ``loo`` (NaN se / skew / df when
    fewer than two; skew 0 and df m - 1 when every value is equal)."""
    x = np.asarray(loo, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    m = int(x.size)
    if m < 2:
        return JackknifeMoments(m, float("nan"), float("nan"), float("nan"))
    lv = (m - 1) * (x.mean() - x)
    l2 = lv * lv
    s2 = float(l2.sum())
    if s2 <= 0.0:
        return JackknifeMoments(m, 0.0, 0.0, float(m - 1))
    se = math.sqrt(s2 / (m * (m - 1)))
    skew = float((l2 * lv).sum()) / s2**1.5
    excess = m * float((l2 * l2).sum()) / (s2 * s2) - 1.0  # kurt - 1 >= 0
    df = float(m - 1) if excess <= 2.0 * m / (m - 1) else max(1.0, 2.0 * m / excess)
    return JackknifeMoments(m, se, skew, df)


#: the skewness term of :func:`jackknife_t_interval` is kept within this share of the t
#: quantile (each arm 0.5-1.5 t se). The jackknife skewness is at most 1 in absolute value,
#: so the term, at most (z^2 - 1) / 6 (0.47 at 95 %), reaches the bound only above a
#: 99.9 % level, where the one-term expansion would otherwise shrink an arm towards 0
SKEW_SHIFT_MAX = 0.5

#: degrees-of-freedom rules of :func:`jackknife_t_interval`
JACK_DF_RULES = ("effective", "identities")


def jackknife_t_interval(
    point: float,
    loo: np.ndarray,
    level: float,
    n: int,
    method: str = JACK_T,
    bounds: tuple[float, float] = (0.0, 1.0),
    *,
    df: str = "effective",
    skew: bool = False,
) -> Estimate:
    """Jackknife t interval for few (effective) identities, optionally corrected for
    skewness: ``[point - se (t + d), point + se (t - d)]``, clipped to ``bounds``, with
    ``se``, ``skew`` = g and ``df`` of :func:`jackknife_moments`.

    ``t`` is the ``0.5 + level / 2`` quantile of Student's t with ``df = "effective"``
    (the default: the Satterthwaite degrees of freedom of se^2, rounded down; m - 1 at
    most, -> z as m grows) or ``"identities"`` (m - 1: the few-clusters critical value)
    degrees of freedom. The default retrieval interval is the first, without ``skew``.

    ``skew``: d = g (z^2 - 1) / 6 (z the normal quantile), bounded by
    :data:`SKEW_SHIFT_MAX` x t, the one-term Cornish-Fisher correction of the quantiles of
    (estimate - target) / se for a known se: a right-skewed estimator (g > 0) has a long
    upper tail, its upper quantile is se (z + d) and its lower one -se (z - d), so the
    interval [point - upper quantile, point - lower quantile] gets the longer *lower*
    arm; else d = 0 (symmetric)."""
    if df not in JACK_DF_RULES:
        raise EvaluationError(f"jackknife df rule must be one of {JACK_DF_RULES}, got {df!r}")
    z = _z(level)
    jm = jackknife_moments(loo)
    if jm.m < 2:
        return Estimate(point, float("nan"), float("nan"), n, method, level)
    nu = jm.m - 1 if df == "identities" else max(1, math.floor(jm.df))
    t = t_quantile(nu, 0.5 + level / 2.0)
    d = 0.0
    if skew:
        cap = SKEW_SHIFT_MAX * t
        d = min(cap, max(-cap, jm.skew * (z * z - 1.0) / 6.0))
    lo, hi = point - jm.se * (t + d), point + jm.se * (t - d)
    return Estimate(point, max(bounds[0], lo), min(bounds[1], hi), n, method, level)


def bootstrap_p_value(reps: np.ndarray, null: bool = False) -> float:
    """Two-sided bootstrap p-value of "the difference is 0": 2 x the smaller tail mass of
    the defined replicates at or beyond 0, at least 1/B, at most 1; ``null`` (the two
    systems' outcomes are identical) gives 1."""
    r = np.asarray(reps, dtype=np.float64).reshape(-1)
    r = r[np.isfinite(r)]
    if null or r.size == 0:
        return 1.0
    tail = min(float(np.mean(r <= 0)), float(np.mean(r >= 0)))
    return min(1.0, max(2 * tail, 1.0 / r.size))


def bootstrap_replicates(
    stat: Callable[[np.ndarray], np.ndarray],
    roles: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    all_roles: bool = True,
    max_elems: int = 1 << 23,
) -> np.ndarray:
    """(n_boot,) replicates of ``stat(weights (b, T)) -> (b,)`` under identity resampling."""
    rs = Resampler(roles, all_roles)
    return np.concatenate([np.asarray(stat(w)) for w in rs.weights(n_boot, rng, max_elems)])


def _all_roles_ratio(
    v: np.ndarray,
    d: np.ndarray,
    roles: np.ndarray | Resampler,
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Replicates of sum(x v) / sum(x d) with all-roles product weights x: the compiled
    kernel when there is one (no (B, T) weight matrix), else numpy blocks; the same
    multinomial draws either way, so the same replicates up to rounding. ``roles``: the
    (T, k) identities, or their all-roles :class:`Resampler`."""
    rs = roles if isinstance(roles, Resampler) else Resampler(roles, True)
    out = np.empty(n_boot)
    n_ids = rs.n_identities
    step = max(1, (1 << 22) // max(n_ids, 1))
    pairs = _pair_tables(rs.codes, v, d, n_ids) if rs.codes.shape[1] == 2 else None
    linear = _qd_tables(rs.codes, v, d, n_ids) if rs.linear else None
    for a in range(0, n_boot, step):
        b = min(step, n_boot - a)
        w = bootstrap_weights(n_ids, b, rng)
        if rs.linear:
            if linear is not None:
                num, den = _qd_sums(w, *linear)
            else:  # I x I too big: per-trial weights in blocks
                num, den = _block_sums(w, rs.codes, v, d, linear=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[a : a + b] = num / den
            continue
        sums = None if pairs is not None else _kernels.ratio_sums(w, rs.codes, v, d)
        if pairs is not None:
            num, den = _pair_sums(w, *pairs)
        elif sums is None:
            num, den = _block_sums(w, rs.codes, v, d, linear=False)
        else:
            num, den = sums
        with np.errstate(invalid="ignore", divide="ignore"):
            out[a : a + b] = num / den
    return out


def _qd_tables(
    codes: np.ndarray, v: np.ndarray, d: np.ndarray, n_ids: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Trials weighted w_q (1 - m_t + sum_j w_{c_tj}) (m_t distinct distractors) summed into
    per-query vectors and I x I query-by-distractor tables: sum_t x_t v_t =
    sum_q w_q A_q + sum_q w_q sum_i w_i M_qi with A_q = sum_t (1 - m_t) v_t and M_qi = sum of
    v_t over the trials of query q in which i is a distractor. None when I x I is too big
    (then the weights go through :class:`Resampler` blocks)."""
    if n_ids * n_ids > _PAIR_CELLS:
        return None
    q = codes[:, 0]
    rest = codes[:, 1:]
    valid = rest >= 0
    m = valid.sum(axis=1)
    av = np.bincount(q, weights=(1 - m) * v, minlength=n_ids)
    ad = np.bincount(q, weights=(1 - m) * d, minlength=n_ids)
    rows, cols = np.nonzero(valid)
    flat = q[rows] * n_ids + rest[rows, cols]
    cells = n_ids * n_ids
    mv = np.bincount(flat, weights=v[rows], minlength=cells).reshape(n_ids, n_ids)
    md = np.bincount(flat, weights=d[rows], minlength=cells).reshape(n_ids, n_ids)
    return av, ad, mv, md


def _qd_sums(
    w: np.ndarray, av: np.ndarray, ad: np.ndarray, mv: np.ndarray, md: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(b,) numerators and denominators of the query-by-distractor replicates."""
    wm, wd = _weights_times_tables(w, mv, md)
    num = w @ av + np.einsum("bi,bi->b", wm, w)
    den = w @ ad + np.einsum("bi,bi->b", wd, w)
    return num, den


#: float32 holds every integer up to 2**24 exactly
_F32_EXACT = float(1 << 24)


def _weights_times_tables(w: np.ndarray, *tables: np.ndarray) -> list[np.ndarray]:
    """``w @ t`` (float64) for each I x I table, as one product: the B x I^2 multiply-adds
    are the all-roles bootstrap's whole cost (1,000 replicates over 1,000 identities: 4e9
    flops). Multiplicities are integers and accuracy tables hold sums of outcomes in
    halves (half-credit ties of 1:2 trials) or other dyadic fractions, so every product
    and partial sum is a dyadic rational; when all of them stay below 2**24 in units of
    the finest fraction, float32 represents each exactly and the float32 product (half
    the time of float64) is the same number, whatever the summation order. Otherwise
    (per-query AP values, thirds of a 1:3 tie, huge counts) float64, as before."""
    t = np.concatenate(tables, axis=1) if len(tables) > 1 else tables[0]
    scale = _dyadic_scale(t)
    bound = float(w.max(initial=0.0)) * float(np.abs(t).sum(axis=0).max(initial=0.0))
    if scale is not None and np.all(w == np.floor(w)) and bound * scale < _F32_EXACT:
        prod = (w.astype(np.float32) @ t.astype(np.float32)).astype(np.float64)
    else:
        prod = w @ t
    n = tables[0].shape[1]
    return [prod[:, k * n : (k + 1) * n] for k in range(len(tables))]


def _dyadic_scale(t: np.ndarray, max_shift: int = 6) -> float | None:
    """The smallest 2**k (k <= ``max_shift``) with ``t * 2**k`` all integers, or None."""
    with np.errstate(invalid="ignore"):
        frac = t - np.floor(t)  # NaN for inf / NaN entries
    rest = frac[frac != 0]  # few entries (ties) in an accuracy table
    if not np.all(np.isfinite(rest)):
        return None
    for k in range(max_shift + 1):
        x = rest * float(1 << k)
        if np.array_equal(x, np.floor(x)):
            return float(1 << k)
    return None


#: pair tables (two roles) are used while I x I stays below this many cells and below the
#: number of trials (then B x I^2 matrix products beat B x T x 2 per-trial products)
_PAIR_CELLS = 1 << 23


def _pair_tables(
    codes: np.ndarray, v: np.ndarray, d: np.ndarray, n_ids: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Two-role trials summed into I x I tables (value and denominator sums per (query,
    other) pair) plus per-identity sums of one-identity trials, when that is smaller than
    the trial list (a 1M-trial 1:2 list over 1,251 identities: 1.6M cells)."""
    cells = n_ids * n_ids
    if cells > _PAIR_CELLS or cells > 2 * codes.shape[0]:
        return None
    one = codes[:, 1] < 0
    if not one.any():  # the usual matching case: no masked copies of 1M-trial arrays
        flat = codes[:, 0] * n_ids + codes[:, 1]
        sv = np.bincount(flat, weights=v, minlength=cells).reshape(n_ids, n_ids)
        sd = np.bincount(flat, weights=d, minlength=cells).reshape(n_ids, n_ids)
        return sv, sd, np.zeros(n_ids), np.zeros(n_ids)
    two = ~one
    flat = codes[two, 0] * n_ids + codes[two, 1]
    sv = np.bincount(flat, weights=v[two], minlength=cells).reshape(n_ids, n_ids)
    sd = np.bincount(flat, weights=d[two], minlength=cells).reshape(n_ids, n_ids)
    v1 = np.bincount(codes[one, 0], weights=v[one], minlength=n_ids)
    d1 = np.bincount(codes[one, 0], weights=d[one], minlength=n_ids)
    return sv, sd, v1, d1


def _pair_sums(
    w: np.ndarray, sv: np.ndarray, sd: np.ndarray, v1: np.ndarray, d1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """sum over trials of w_q w_o v = rowwise (W S) . W, plus W v1 for one-identity trials."""
    ws, wd = _weights_times_tables(w, sv, sd)
    num = np.einsum("bi,bi->b", ws, w) + w @ v1
    den = np.einsum("bi,bi->b", wd, w) + w @ d1
    return num, den


def _block_sums(
    w: np.ndarray, codes: np.ndarray, v: np.ndarray, d: np.ndarray, linear: bool
) -> tuple[np.ndarray, np.ndarray]:
    """numpy path of :func:`_all_roles_ratio`: (T, b) trial-weight blocks
    (:func:`_trial_weights`) times the values and denominators."""
    wt = w.T.copy()  # (I, b): a trial's weights are contiguous rows
    rows = max(1, (1 << 22) // max(w.shape[0], 1))
    num = np.zeros(w.shape[0])
    den = np.zeros(w.shape[0])
    for a in range(0, codes.shape[0], rows):
        x = _trial_weights(wt, codes[a : a + rows], linear)
        num += v[a : a + rows] @ x
        den += d[a : a + rows] @ x
    return num, den


def ratio_replicates(
    values: np.ndarray,
    clusters: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    denominators: np.ndarray | None = None,
    all_roles: bool = False,
    variance_correction: bool = True,
    level: float = 0.95,
) -> tuple[float, np.ndarray]:
    """Point value and (n_boot,) identity-bootstrap replicates of sum(w v) / sum(w d).

    ``values`` (T,) per-unit outcomes (trial correctness, per-query AP ...), ``clusters``
    (T,) the identity of each unit or (T, k) the identities of each of its roles (column 0
    the query). ``denominators`` default to 1 per unit (the mean). Query identity only
    (``all_roles=False``): per-identity sums, O(B x I). All roles: product weights
    (:class:`Resampler`), O(B x T x k), their spread about the point value shrunk by
    :func:`crossed_variance_scale` (at the interval's ``level``) unless
    ``variance_correction`` is False (the raw pigeonhole replicates, for the coverage
    study). Undefined replicates (0 / 0) are NaN.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    d = np.ones_like(v) if denominators is None else np.asarray(denominators, np.float64)
    cl = np.asarray(clusters)
    if v.size == 0:
        raise EvaluationError("bootstrap of an empty set of trials")
    if d.shape != v.shape or cl.shape[0] != v.size:
        raise EvaluationError(
            f"values {v.shape}, denominators {d.shape} and clusters {cl.shape} disagree"
        )
    point = float(v.sum() / d.sum())
    if all_roles and cl.ndim == 2 and cl.shape[1] > 1:
        rs = Resampler(cl, True)  # codes made once, for the replicates and the scale
        reps = _all_roles_ratio(v, d, rs, n_boot, rng)
        if not variance_correction:
            return point, reps
        return point, point + crossed_variance_scale(rs, v, d, point, level) * (reps - point)
    q = cl if cl.ndim == 1 else cl[:, 0]
    codes, k = dense_codes(q)
    sums = np.bincount(codes, weights=v, minlength=k)
    dens = np.bincount(codes, weights=d, minlength=k)
    reps = np.empty(n_boot)
    step = max(1, int(4_000_000 // max(k, 1)))
    for a in range(0, n_boot, step):
        w = bootstrap_weights(k, min(step, n_boot - a), rng)
        with np.errstate(invalid="ignore", divide="ignore"):
            reps[a : a + w.shape[0]] = (w @ sums) / (w @ dens)
    return point, reps


def crossed_variance(
    roles: np.ndarray, values: np.ndarray, denominators: np.ndarray, point: float
) -> tuple[float, float]:
    """``(bootstrap, corrected)``: the all-roles (pigeonhole) bootstrap's variance of
    sum(x v) / sum(x d) to first order, and the variance estimate without its surplus.

    Linearised, a replicate deviates from the point value by sum_t x_t e_t with
    e_t = (v_t - point d_t) / sum(d), and with multiplicities w = 1 + u (Var u ~ 1) the
    trial weight is 1 + sum_i u_i + sum_(q,j) u_q u_j over the trial's distinct identities
    i and query-other pairs (q, j) (product weights for two roles, the query-by-distractor
    form for more). Its bootstrap variance is V_1 + V_2 with V_1 = sum_i E_i^2 (E_i: the
    sum of e_t over the trials identity i takes part in, in any role) and V_2 = sum_c S_c^2
    (S_c: the sum over the trials of the unordered identity pair c). The variance of the
    figure is sum_(t, t') Cov(y_t, y_t'), in which each trial's own variance counts once;
    in V_1 + V_2 it counts 2 k_t - 1 times (once per distinct identity, k_t, and once per
    query-other pair, k_t - 1). The corrected estimate removes the surplus,
    V_1 + V_2 - 2 sum_t (k_t - 1) e_t^2, and is never below the independent-trials
    variance sum_t e_t^2.
    """
    rs = Resampler(roles, True)
    return _crossed_variance(rs.codes, rs.n_identities, values, denominators, point)


def _crossed_variance(
    codes: np.ndarray, n_ids: int, values: np.ndarray, denominators: np.ndarray, point: float
) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    d = np.asarray(denominators, dtype=np.float64)
    return _crossed_variance_e(codes, n_ids, (v - point * d) / d.sum())


def _crossed_variance_e(codes: np.ndarray, n_ids: int, e: np.ndarray) -> tuple[float, float]:
    """:func:`crossed_variance` from the per-trial contributions ``e`` (T,) of the
    linearised figure (a replicate deviates from the point value by sum_t x_t e_t):
    ``codes`` (T, k) distinct identity codes (-1 = none), ``n_ids`` identities."""
    e = np.asarray(e, dtype=np.float64)
    ids = np.zeros(n_ids)
    keys, sums = [], []
    q = codes[:, 0]
    k = np.zeros(e.size, dtype=np.int64)  # distinct identities per trial
    for j in range(codes.shape[1]):
        col = codes[:, j]
        has = col >= 0
        every = bool(has.all())  # usual case: no boolean gathers
        cj, ej, qj = (col, e, q) if every else (col[has], e[has], q[has])
        k += has
        ids += np.bincount(cj, weights=ej, minlength=n_ids)
        if j > 0:
            keys.append(np.minimum(qj, cj) * n_ids + np.maximum(qj, cj))
            sums.append(ej)
    key = keys[0] if len(keys) == 1 else np.concatenate([np.zeros(0, np.int64), *keys])
    w = sums[0] if len(sums) == 1 else np.concatenate([np.zeros(0), *sums])
    if n_ids * n_ids <= _PAIR_CELLS:
        cells = np.bincount(key, weights=w, minlength=n_ids * n_ids)
    else:
        uniq, inv = np.unique(key, return_inverse=True)
        cells = np.bincount(inv.reshape(-1), weights=w, minlength=uniq.size)
    boot = float(ids @ ids) + float(cells @ cells)
    e2 = e * e
    surplus = 2.0 * float((k - 1) @ e2)
    return boot, max(boot - surplus, float(e2.sum()))


def crossed_variance_scale(
    roles: np.ndarray | Resampler,
    values: np.ndarray,
    denominators: np.ndarray,
    point: float,
    level: float = 0.95,
) -> float:
    """Factor by which the all-roles replicates' spread about the point value is scaled:
    ``sqrt(min(1, corrected / bootstrap))`` of :func:`crossed_variance`, times the
    few-clusters adjustment ``sqrt(I / (I - 1)) t_(I-1) / z`` at ``level`` (I test
    identities; Cameron, Gelbach & Miller 2008/2011: G / (G - 1) and t(G - 1) critical
    values for cluster-robust inference with G clusters; 1.022 at 80 identities, 1.003 at
    500). 1 when undefined.

    The pigeonhole bootstrap over-counts the trial-level variance in crossed designs (Owen
    2007; McCullagh 2000: no resampling scheme is exactly unbiased for them); the scaled
    replicates keep the bootstrap's identity draws and the shape of its distribution
    (percentile interval, p-value) and have the corrected variance. At 1:2 with 10,000
    trials the surplus is ~5 % of the variance on 80 identities but ~25 % on 500; at 1:10
    on 500 identities the raw replicates' variance is twice the figure's (coverage study
    in docs/evaluation.md). One-identity trials (a positive verification pair) have no
    surplus, nor has the query-only bootstrap.
    """
    rs = roles if isinstance(roles, Resampler) else Resampler(roles, True)
    n_ids = rs.n_identities
    boot, corrected = _crossed_variance(rs.codes, n_ids, values, denominators, point)
    return _variance_scale(boot, corrected, n_ids, level)


def linearised_variance_scale(
    roles: np.ndarray | Resampler, contributions: np.ndarray, level: float = 0.95
) -> float:
    """:func:`crossed_variance_scale` of any figure linearised into per-trial
    contributions (``contributions`` (T,): a replicate with trial weights x deviates from
    the point value by sum_t x_t e_t to first order; e.g.
    :func:`verification_contributions`). ``roles`` (T, k) or their all-roles
    :class:`Resampler`."""
    rs = roles if isinstance(roles, Resampler) else Resampler(roles, True)
    e = np.asarray(contributions, dtype=np.float64).reshape(-1)
    if e.size != rs.n_trials:
        raise EvaluationError(f"{e.size} contributions for {rs.n_trials} trials")
    if not np.isfinite(e).all():
        return 1.0
    boot, corrected = _crossed_variance_e(rs.codes, rs.n_identities, e)
    return _variance_scale(boot, corrected, rs.n_identities, level)


def _variance_scale(boot: float, corrected: float, n_ids: int, level: float) -> float:
    """sqrt(min(1, corrected / boot)) times the few-clusters factor; 1 when undefined."""
    if not (math.isfinite(boot) and math.isfinite(corrected)) or boot <= 0.0 or n_ids < 2:
        return 1.0
    few = math.sqrt(n_ids / (n_ids - 1)) * t_quantile(n_ids - 1, 0.5 + level / 2) / _z(level)
    return math.sqrt(min(1.0, corrected / boot)) * few


def cluster_bootstrap(
    values: np.ndarray,
    clusters: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    denominators: np.ndarray | None = None,
    all_roles: bool = False,
) -> Estimate:
    """Identity-level percentile bootstrap of a ratio of sums (:func:`ratio_replicates`);
    method ``bootstrap-all`` with ``all_roles`` and (T, k) clusters, else
    ``bootstrap-identity``. Empty input gives NaN."""
    cl = np.asarray(clusters)
    method = ALL if all_roles and cl.ndim == 2 and cl.shape[1] > 1 else QUERY
    if np.asarray(values).size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, method, level)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    point, reps = ratio_replicates(values, cl, n_boot, rng, denominators, all_roles, level=level)
    return percentile_interval(point, reps, level, int(np.asarray(values).size), method)


def accuracy_intervals(
    outcomes: np.ndarray,
    clusters: np.ndarray | None,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
    methods: tuple[str, ...] = ("binomial", "wilson", QUERY, ALL),
) -> dict[str, Estimate]:
    """All intervals of an accuracy over trials with outcomes in [0, 1].

    ``clusters``: (T,) query identities or (T, k) the identities of every role (column 0
    the query); the all-roles bootstrap needs the (T, k) form. Both bootstraps draw from
    one generator (query-only first)."""
    o = np.asarray(outcomes, dtype=np.float64)
    s, n = float(o.sum()), int(o.size)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out: dict[str, Estimate] = {}
    if "binomial" in methods:
        out["binomial"] = binomial_normal(s, n, level)
    if "wilson" in methods:
        out["wilson"] = wilson(s, n, level)
    if clusters is not None and n > 0:
        cl = np.asarray(clusters)
        if QUERY in methods:
            out[QUERY] = cluster_bootstrap(o, cl, n_boot, level, rng)
        if ALL in methods and cl.ndim == 2 and cl.shape[1] > 1:
            out[ALL] = cluster_bootstrap(o, cl, n_boot, level, rng, all_roles=True)
    return out


# --------------------------------------------------------------------------- paired tests
@dataclass(frozen=True)
class PairedTest:
    """Result of comparing system A with system B on the same trials.

    ``diff``: mean(A) - mean(B) with its paired identity-bootstrap interval and
    ``p_bootstrap`` its p-value (:func:`bootstrap_p_value`); ``trial_test`` names the
    trial-level test (``mcnemar-exact`` or ``sign-flip``, "" when not run) and
    ``p_trial`` its p-value. Trial-level tests treat trials as independent; when trials
    share identities the identity bootstrap is the one to believe (see :attr:`verdict`).
    """

    diff: Estimate
    p_bootstrap: float
    p_trial: float | None
    n10: float  # trials (mass) A right, B wrong
    n01: float  # trials (mass) A wrong, B right
    trial_test: str = ""

    @property
    def p_mcnemar(self) -> float | None:
        """The trial-level p-value (McNemar when outcomes are 0/1; kept for old callers)."""
        return self.p_trial

    @property
    def verdict(self) -> str:
        return verdict(self.p_bootstrap, self.p_trial)

    def to_dict(self) -> dict[str, Any]:
        return {
            "diff": self.diff.to_dict(),
            "p_bootstrap": self.p_bootstrap,
            "p_trial": self.p_trial,
            "trial_test": self.trial_test,
            "p_mcnemar": self.p_trial,
            "n10": self.n10,
            "n01": self.n01,
            "verdict": self.verdict,
        }


def verdict(p_bootstrap: float, p_trial: float | None, alpha: float = 0.05) -> str:
    """Which test to believe, in words. The identity bootstrap accounts for trials sharing
    identities; a trial-level test does not, so when they disagree the bootstrap wins."""
    boot = p_bootstrap < alpha
    if p_trial is None or (p_trial < alpha) == boot:
        return "significant" if boot else "not significant"
    if p_trial < alpha:
        return (
            "not significant: the trial-level test ignores that trials share identities; "
            "believe the identity bootstrap"
        )
    return "significant by the identity bootstrap only"


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise EvaluationError(f"paired outcomes differ in shape: {a.shape} vs {b.shape}")
    if a.size == 0:
        raise EvaluationError("paired comparison of empty outcome arrays (no trials)")
    return a, b


def _binom_two_sided_half(k: int, n: int) -> float:
    """Two-sided exact binomial p-value of k successes in n at p = 1/2 (what
    ``scipy.stats.binomtest(k, n, 0.5).pvalue`` gives: the distribution is symmetric, so it
    is twice the smaller tail, capped at 1)."""
    from scipy.special import bdtr  # lazy: scipy's import costs ~0.4 s per process

    lo = min(k, n - k)
    if 2 * lo == n:
        return 1.0
    return min(1.0, 2.0 * float(bdtr(lo, n, 0.5)))


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """McNemar's exact test of two systems' 0/1 outcomes on the same trials.

    Returns ``(p_value, n10, n01)``: n10 = trials A gets right and B wrong, n01 the reverse;
    the p-value is the two-sided exact binomial test of n10 out of n10 + n01 at 1/2
    (``scipy.stats.binomtest``). Fractional (half-credit) outcomes are refused: rounding
    partial discordances does not give a valid exact test; use :func:`trial_test`.
    """
    a, b = _paired(a, b)
    if not (np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()):
        raise EvaluationError(
            "McNemar's exact test needs 0/1 outcomes; half-credit ties give fractional ones "
            "(use trial_test, which switches to a sign-flip permutation test)"
        )
    n10 = float(((a == 1) & (b == 0)).sum())
    n01 = float(((a == 0) & (b == 1)).sum())
    m = int(n10 + n01)
    p = 1.0 if m == 0 else _binom_two_sided_half(int(n10), m)
    return p, n10, n01


def sign_flip_test(
    a: np.ndarray, b: np.ndarray, n_perm: int = 10000, seed: int | np.random.Generator = 0
) -> tuple[float, float, float]:
    """Paired permutation test of sum(a - b) = 0 by random sign flips of the per-trial
    differences (valid for fractional outcomes). Returns ``(p, n10, n01)`` with the
    discordant masses sum(max(a - b, 0)) and sum(max(b - a, 0)); p = (1 + #{|S*| >= |S|}) /
    (1 + n_perm). Above 2e8 flip x trial operations the exact-moment normal approximation
    of the flip distribution (mean 0, variance sum(d^2)) is used."""
    a, b = _paired(a, b)
    d = a - b
    d = d[d != 0]
    n10, n01 = float(d[d > 0].sum()), float(-d[d < 0].sum())
    if d.size == 0:
        return 1.0, n10, n01
    obs = abs(float(d.sum()))
    if d.size * n_perm > 200_000_000:
        z = obs / float(np.sqrt((d * d).sum()))
        return math.erfc(z / math.sqrt(2.0)), n10, n01  # 2 * normal upper tail, exact in the tail
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    hits = 0
    step = max(1, (1 << 22) // d.size)
    d32 = d.astype(np.float64)
    for s in range(0, n_perm, step):
        m = min(step, n_perm - s)
        signs = rng.integers(0, 2, size=(m, d.size), dtype=np.int8) * 2 - 1
        hits += int((np.abs(signs @ d32) >= obs - 1e-9).sum())
    return (1 + hits) / (1 + n_perm), n10, n01


def trial_test(
    a: np.ndarray, b: np.ndarray, seed: int | np.random.Generator = 0
) -> tuple[str, float, float, float]:
    """The trial-level paired test that is valid for these outcomes:
    ``("mcnemar-exact", p, n10, n01)`` when all are 0/1, else ``("sign-flip", ...)``."""
    a, b = _paired(a, b)
    if np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all():
        return ("mcnemar-exact", *mcnemar_exact(a, b))
    return ("sign-flip", *sign_flip_test(a, b, seed=seed))


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    clusters: np.ndarray,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> tuple[Estimate, float]:
    """Identity-level bootstrap of mean(a) - mean(b) over the same trials.

    ``clusters``: (T,) query identities or (T, k) identities of every role (all-roles
    resampling, :class:`Resampler`). Returns the difference with its percentile interval
    and the two-sided p-value of :func:`bootstrap_p_value`.
    """
    a, b = _paired(a, b)
    d = a - b
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    cl = np.asarray(clusters)
    if cl.shape[0] != d.size:
        raise EvaluationError(f"clusters {cl.shape} and outcomes {d.shape} disagree")
    point, reps = ratio_replicates(d, cl, n_boot, rng, all_roles=cl.ndim == 2, level=level)
    est = percentile_interval(point, reps, level, int(d.size), PAIRED)
    return est, bootstrap_p_value(reps, bool(np.all(d == 0)))


def paired_test(
    a: np.ndarray,
    b: np.ndarray,
    clusters: np.ndarray,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    trial_level: bool = True,
) -> PairedTest:
    """Paired identity bootstrap + (for trial outcomes) the valid trial-level test."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    diff, p_boot = paired_bootstrap(a, b, clusters, n_boot, level, rng)
    if not trial_level:
        return PairedTest(diff, p_boot, None, 0.0, 0.0, "")
    name, p, n10, n01 = trial_test(a, b, rng)
    return PairedTest(diff, p_boot, p, n10, n01, name)


# ------------------------------------------------------------------- verification figures
def verification_replicates(
    scores: np.ndarray,
    labels: np.ndarray,
    roles: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    fars: tuple[float, ...] = (),
    all_roles: bool = True,
    variance_correction: bool = True,
    level: float = 0.95,
    scales: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Identity-bootstrap replicates of AUC, EER and TAR@FAR of one verification list.

    ``roles`` (P, 2): anchor and other identity of each pair (a positive pair involves one
    identity). A replicate without a positive or a negative pair is NaN for every figure.

    With numba the replicates come from one compiled pass per replicate over the pairs in
    score order, the pair weights formed from the identity multiplicities on the fly
    (:func:`vfbench.evaluate._kernels.verify_reps`): the same draws and the same ROC
    points as the numpy path, which builds (b, P) weight blocks and goes through
    :func:`~vfbench.evaluate.metrics.roc` (AUC equal up to the order of its sum).

    All roles: each figure's replicates are then scaled about its point value (AUC,
    interpolated EER, TAR@FAR of the unweighted ROC) by :func:`verification_scales` at
    ``level`` - the pigeonhole bootstrap's surplus of pair-level variance removed, as for
    matching - unless ``variance_correction`` is False (the raw replicates, for the
    coverage study), and clipped to [0, 1]; both paths get the same factors, so they stay
    identical. ``scales``: a dict that receives the factor of every figure (1 where none
    was applied).
    """

    rs = Resampler(roles, all_roles)
    fast = _verification_kernel(scores, labels, rs, n_boot, rng, fars)
    if fast is not None:
        reps = fast
    else:
        out: dict[str, list[np.ndarray]] = {"auc": [], "eer": []}
        for far in fars:
            out[f"tar@far={far:g}"] = []
        for w in rs.weights(n_boot, rng, max_elems=1 << 21):
            r = roc(scores, labels, w.astype(np.float64))
            out["auc"].append(np.asarray(auc_from_roc(r)))
            out["eer"].append(np.asarray(eer_from_roc(r)))
            for far in fars:
                out[f"tar@far={far:g}"].append(np.asarray(tar_at_far(r, far)))
        reps = {k: np.concatenate(v) for k, v in out.items()}
    c = dict.fromkeys(reps, 1.0)
    if rs.all_roles and variance_correction:
        points, c = _verification_factors(scores, labels, rs, fars, level)
        for name, x in reps.items():
            p = points[name]
            reps[name] = np.clip(p + c[name] * (x - p), 0.0, 1.0)
    if scales is not None:
        scales.update(c)
    return reps


def _density_at(x: np.ndarray, t: float) -> float:
    """Gaussian kernel density of the sample ``x`` at ``t`` (Silverman's rule-of-thumb
    bandwidth 0.9 min(sd, IQR / 1.349) n^(-1/5)); NaN for a sample without spread."""
    n = x.size
    if n < 2:
        return float("nan")
    sd = float(x.std(ddof=1))
    q75, q25 = np.percentile(x, [75.0, 25.0])
    iqr = float(q75 - q25) / 1.349
    spread = min(sd, iqr) if iqr > 0 else sd
    h = 0.9 * spread * n**-0.2
    if not h > 0:
        return float("nan")
    z = (t - x) / h
    return float(np.exp(-0.5 * z * z).sum() / (n * h * math.sqrt(2.0 * math.pi)))


def verification_contributions(
    scores: np.ndarray, labels: np.ndarray, fars: tuple[float, ...] = ()
) -> dict[str, np.ndarray]:
    """Per-pair contributions e (P,) of the linearised AUC, EER and TAR@FAR: with pair
    weights x = 1 + delta a figure moves by sum_p delta_p e_p to first order, so the
    crossed-variance correction (:func:`linearised_variance_scale`) applies to them as to
    a ratio of sums. n+ / n- positive / negative pairs.

    * AUC (Hoeffding projection of the Mann-Whitney statistic, ties = half, which is the
      trapezoid AUC of :func:`~vfbench.evaluate.metrics.roc`): a positive pair
      ``(F-(s) - AUC) / n+`` with F-(s) the share of negatives scoring below s (+ half the
      ties), a negative pair ``(S+(s) - AUC) / n-`` with S+(s) the share of positives
      above s (+ half the ties). Exact derivative of the weighted AUC at x = 1.
    * EER (through the threshold t at the ROC point nearest the crossing; FRR rises with
      slope a = f+(t), FAR falls with slope b = f-(t), the score densities by a Gaussian
      kernel): ``b / (a + b) (1[s < t] - FRR(t)) / n+`` and
      ``a / (a + b) (1[s >= t] - FAR(t)) / n-``.
    * TAR@FAR=f (the threshold t of the reported ROC point moves to keep the FAR):
      ``(1[s >= t] - TPR(t)) / n+`` and ``-(a / b) (1[s >= t] - FPR(t)) / n-``.
    """
    return _linearise(scores, labels, fars)[1]


def _linearise(
    scores: np.ndarray, labels: np.ndarray, fars: tuple[float, ...]
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(point values of the unweighted ROC, :func:`verification_contributions`)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).astype(bool).reshape(-1)
    r = roc(s, y)  # checks shapes and that both classes are present
    points = {"auc": float(auc_from_roc(r)), "eer": float(eer_from_roc(r))}
    for far in fars:
        points[f"tar@far={far:g}"] = float(tar_at_far(r, far))
    pos, neg = s[y], s[~y]
    n_p, n_n = pos.size, neg.size
    op, on = np.argsort(pos, kind="stable"), np.argsort(neg, kind="stable")
    sp, sn = pos[op], neg[on]  # sorted queries: the binary searches run in cache order
    lo, hi = np.searchsorted(sn, sp, "left"), np.searchsorted(sn, sp, "right")
    f_neg = np.empty(n_p)
    f_neg[op] = (lo + 0.5 * (hi - lo)) / n_n
    lo, hi = np.searchsorted(sp, sn, "left"), np.searchsorted(sp, sn, "right")
    s_pos = np.empty(n_n)
    s_pos[on] = (n_p - hi + 0.5 * (hi - lo)) / n_p
    auc = float(f_neg.mean())

    def split(ep: np.ndarray, en: np.ndarray) -> np.ndarray:
        e = np.empty(s.size)
        e[y], e[~y] = ep, en
        return e

    out = {"auc": split((f_neg - auc) / n_p, (s_pos - auc) / n_n)}

    def point_at(j: int) -> tuple[float, float, float, float, float]:
        """Threshold of ROC point j >= 1, its TPR and FPR, densities f+ and f- there."""
        t = float(r.thresholds[j - 1])
        return t, float(r.tpr[j]), float(r.fpr[j]), _density_at(pos, t), _density_at(neg, t)

    d = (1.0 - r.tpr) - r.fpr
    i = int(np.argmax(d <= 0))
    j = max(1, i - 1 if abs(d[i - 1]) < abs(d[i]) else i)
    t, tpr, fpr, a, b = point_at(j)
    ep = ((pos < t) - (1.0 - tpr)) / n_p
    en = ((neg >= t) - fpr) / n_n
    with np.errstate(invalid="ignore", divide="ignore"):
        out["eer"] = split(b / (a + b) * ep, a / (a + b) * en)
    for far in fars:
        ok = np.flatnonzero(r.fpr <= far + 1e-12)
        j = int(ok[np.argmax(r.tpr[ok])])
        if j == 0:  # no threshold keeps the FAR: TAR 0 in every replicate's neighbourhood
            out[f"tar@far={far:g}"] = np.zeros(s.size)
            continue
        t, tpr, fpr, a, b = point_at(j)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"tar@far={far:g}"] = split(
                ((pos >= t) - tpr) / n_p, -(a / b) * ((neg >= t) - fpr) / n_n
            )
    return points, out


def verification_scales(
    scores: np.ndarray,
    labels: np.ndarray,
    roles: np.ndarray | Resampler,
    fars: tuple[float, ...] = (),
    level: float = 0.95,
) -> dict[str, float]:
    """Factor by which each verification figure's all-roles replicates are scaled about
    its point value: :func:`linearised_variance_scale` of its
    :func:`verification_contributions` (``auc``, ``eer``, ``tar@far=<far>``). A negative
    pair involves two identities, so its own variance enters the pigeonhole bootstrap's
    variance three times; a positive pair involves one and carries no surplus."""
    return _verification_factors(scores, labels, roles, fars, level)[1]


def _verification_factors(
    scores: np.ndarray,
    labels: np.ndarray,
    roles: np.ndarray | Resampler,
    fars: tuple[float, ...],
    level: float,
) -> tuple[dict[str, float], dict[str, float]]:
    """(point values, :func:`verification_scales`) from one ROC."""
    rs = roles if isinstance(roles, Resampler) else Resampler(roles, True)
    points, e = _linearise(scores, labels, fars)
    return points, {name: linearised_variance_scale(rs, v, level) for name, v in e.items()}


def _verification_kernel(
    scores: np.ndarray,
    labels: np.ndarray,
    rs: Resampler,
    n_boot: int,
    rng: np.random.Generator,
    fars: tuple[float, ...],
) -> dict[str, np.ndarray] | None:
    """:func:`verification_replicates` by the compiled kernel, or None (nothing drawn from
    ``rng``) when the numpy path must run: no kernel, more than two roles (``linear``
    weights) or a pair without an anchor identity."""
    if rs.linear or n_boot < 1 or rs.n_trials == 0 or (rs.codes[:, 0] < 0).any():
        return None
    if _kernels.verify_reps_kernel() is None:
        return None
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).astype(bool).reshape(-1)
    if s.shape != y.shape:
        raise EvaluationError(f"scores {s.shape} and labels {y.shape} disagree")
    if rs.n_trials != s.size:
        raise EvaluationError(f"{rs.n_trials} role rows for {s.size} verification pairs")
    if not y.any() or y.all():
        raise EvaluationError("verification needs both positive and negative pairs")
    order = np.argsort(-s, kind="stable")  # as metrics.roc
    ss = s[order]
    ends = np.flatnonzero(np.r_[ss[1:] != ss[:-1], True])  # last index of each tie group
    w = np.concatenate(list(rs.multiplicities(n_boot, rng, max_elems=1 << 21)))
    got = _kernels.verify_reps(w, rs.codes[order], y[order], ends, fars)
    if got is None:  # pragma: no cover - compiled above
        raise EvaluationError("the verification kernel disappeared after compiling")
    auc, eer, tar = got
    out = {"auc": auc, "eer": eer}
    for j, far in enumerate(fars):
        out[f"tar@far={far:g}"] = tar[:, j].copy()
    return out


def paired_auc_bootstrap(
    score_a: np.ndarray,
    score_b: np.ndarray,
    labels: np.ndarray,
    roles: np.ndarray,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> tuple[float, float, Estimate, float]:
    """AUC of A and of B on the same pairs, and the identity bootstrap of AUC(A) - AUC(B)
    (the same replicate weights for both systems). Returns ``(auc_a, auc_b, diff, p)``.
    With (P, 2) roles (all roles) the replicates are scaled about A - B by
    :func:`linearised_variance_scale` of the difference's contributions (A's AUC
    contributions minus B's, :func:`verification_contributions`), as the paired accuracy
    difference is; the p-value is read off the scaled replicates."""
    lab = np.asarray(labels).astype(bool)
    if np.asarray(score_a).shape != lab.shape or np.asarray(score_b).shape != lab.shape:
        raise EvaluationError("paired verification scores and labels differ in shape")
    if lab.size == 0:
        raise EvaluationError("paired comparison of an empty verification list")
    a = float(auc_from_roc(roc(score_a, lab)))
    b = float(auc_from_roc(roc(score_b, lab)))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    cl = np.asarray(roles)

    def stat(w: np.ndarray) -> np.ndarray:
        w64 = w.astype(np.float64)
        return np.asarray(auc_from_roc(roc(score_a, lab, w64))) - np.asarray(
            auc_from_roc(roc(score_b, lab, w64))
        )

    reps = bootstrap_replicates(stat, cl, n_boot, rng, cl.ndim == 2, max_elems=1 << 21)
    if cl.ndim == 2 and cl.shape[1] > 1:
        e = (
            verification_contributions(score_a, lab)["auc"]
            - verification_contributions(score_b, lab)["auc"]
        )
        reps = (a - b) + linearised_variance_scale(cl, e, level) * (reps - (a - b))
    est = percentile_interval(a - b, reps, level, int(lab.size), PAIRED)
    null = bool(np.array_equal(np.asarray(score_a), np.asarray(score_b)))
    return a, b, est, bootstrap_p_value(reps, null)


# --------------------------------------------------------- retrieval: identities in every role
#: the all-roles retrieval bootstrap costs O(Q x R x I x B) (queries x relevant items per
#: query x identities x replicates); above this many Q x R x I cells it falls back to the
#: query-identity bootstrap and the row says why (a 20k x 20k gallery over 1,251 identities
#: has ~4e8 cells: minutes of matrix products). 25M cells (10k x 2.5k, 500 identities) cost
#: 4.4 s per direction at B = 1000 on 2 cores, so 5e7 keeps a row under ~10 s
RETRIEVAL_MAX_CELLS = 50_000_000


@dataclass
class IdentityRankCounts:
    """What every retrieval figure of one query block needs, as a function of the identity
    multiplicities of a bootstrap replicate (:func:`retrieval_replicates`).

    For query q and its relevant item r (``mask`` (Qb, R) marks real entries):
    ``rel_hi`` / ``rel_lo`` (Qb, R): relevant items ranked at-or-above r / strictly above
    r's tie block (AP ``sklearn``: score >= / > r's, r itself counted in ``rel_hi``; AP
    ``ssnet``: before r in the stable order plus r itself / minus r);
    ``hi`` (Qb * R, I): per identity, its non-relevant gallery items counted the same way
    (>= r's score, or before r in the stable order); ``lo`` (Qb * R, I) the strict count
    (> r's score), None where it equals ``hi`` (no exact ties; always for ``ssnet``).
    The query's own identity column is 0: its resampled copies are left out of its gallery
    (see :func:`retrieval_replicates`). ``code`` (Qb,): each query's identity (0..I-1).
    """

    code: np.ndarray
    mask: np.ndarray
    rel_hi: np.ndarray
    rel_lo: np.ndarray
    hi: np.ndarray
    lo: np.ndarray | None


def identity_rank_counts(
    s: np.ndarray,
    code: np.ndarray,
    gcode: np.ndarray,
    n_ids: int,
    ap: str = "sklearn",
    col_pos: np.ndarray | None = None,
    block_elems: int = 1 << 22,
) -> IdentityRankCounts:
    """:class:`IdentityRankCounts` of a block of queries from their scores.

    ``s`` (Qb, G) float32 scores against the whole gallery, ``code`` (Qb,) the query
    identities and ``gcode`` (G,) the gallery identities (both 0..``n_ids``-1; relevant =
    same identity); ``col_pos`` (G,) each column's gallery position (the SSNet tie order,
    default the column order). Counts per identity are summed over the gallery columns
    grouped by identity (``np.add.reduceat``) in (rows, R, G) blocks of ``block_elems``.
    """
    if ap not in AP_VARIANTS:
        raise EvaluationError(f"unknown AP variant {ap!r}; known: {list(AP_VARIANTS)}")
    s = np.asarray(s, dtype=np.float32)
    q, g = s.shape
    code = np.asarray(code, dtype=np.int64)
    gcode = np.asarray(gcode, dtype=np.int64)
    pos = np.arange(g) if col_pos is None else np.asarray(col_pos, dtype=np.int64)
    order = np.argsort(gcode, kind="stable")  # columns grouped by identity
    gs = gcode[order]
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]]) if g else np.zeros(0, np.int64)
    seg_ids = gs[starts]
    cnt = np.bincount(gcode, minlength=n_ids)
    mask, rel_pos = relevant_slots(cnt, np.searchsorted(gs, np.arange(n_ids)), code)
    r_max = mask.shape[1]
    rel = order[rel_pos]  # (Qb, R) columns
    rows = np.arange(q)[:, None]
    rs = np.where(mask, s[rows, rel], -np.inf).astype(np.float32)
    rp = pos[rel]
    ss, ps = s[:, order], pos[order]
    hi = np.zeros((q, r_max, n_ids), dtype=np.float32)
    lo = np.zeros((q, r_max, n_ids), dtype=np.float32) if ap == "sklearn" else None
    step = max(1, block_elems // max(r_max * g, 1))
    for a in range(0, q if g else 0, step):
        sb, rb = ss[a : a + step, None, :], rs[a : a + step, :, None]
        if ap == "sklearn":
            hi[a : a + step][..., seg_ids] = np.add.reduceat(sb >= rb, starts, 2, np.float32)
            assert lo is not None
            lo[a : a + step][..., seg_ids] = np.add.reduceat(sb > rb, starts, 2, np.float32)
        else:  # before r in the stable order: higher score, or equal and earlier in the gallery
            before = (sb > rb) | ((sb == rb) & (ps[None, None, :] < rp[a : a + step, :, None]))
            hi[a : a + step][..., seg_ids] = np.add.reduceat(before, starts, 2, np.float32)
    hi[np.arange(q), :, code] = 0.0  # relevant items and the query's own resampled copies
    r_i, r_j = rs[:, :, None], rs[:, None, :]  # (item r, other relevant item r')
    m_j = mask[:, None, :]
    if ap == "sklearn":
        rel_hi = ((r_j >= r_i) & m_j).sum(2)
        rel_lo = ((r_j > r_i) & m_j).sum(2)
        lo_out: np.ndarray | None = None
        if lo is not None:
            lo[np.arange(q), :, code] = 0.0
            lo_out = None if np.array_equal(lo, hi) else lo.reshape(q * r_max, n_ids)
    else:
        p_i, p_j = rp[:, :, None], rp[:, None, :]
        rel_hi = (((r_j > r_i) | ((r_j == r_i) & (p_j <= p_i))) & m_j).sum(2)
        rel_lo = rel_hi - 1
        lo_out = None
    return IdentityRankCounts(
        code,
        mask,
        np.where(mask, rel_hi, 0).astype(np.float32),
        np.where(mask, rel_lo, 0).astype(np.float32),
        hi.reshape(q * r_max, n_ids),
        lo_out,
    )


def _no_tied_items(c: IdentityRankCounts) -> bool:
    """No tie block of any query holds two of its items (relevant or distractor copies)."""
    return c.lo is None and bool(np.array_equal(c.rel_lo, c.rel_hi - c.mask))


def query_rows(c: IdentityRankCounts, a: int, b: int) -> IdentityRankCounts:
    """The :class:`IdentityRankCounts` of queries ``a..b`` of a block (views, no copies)."""
    r = c.mask.shape[1]
    lo = None if c.lo is None else c.lo[a * r : b * r]
    return IdentityRankCounts(
        c.code[a:b], c.mask[a:b], c.rel_hi[a:b], c.rel_lo[a:b], c.hi[a * r : b * r], lo
    )


def retrieval_stats(
    c: IdentityRankCounts,
    w: np.ndarray,
    ks: tuple[int, ...] = (1, 5, 10),
    no_ties: bool | None = None,
) -> dict[str, np.ndarray]:
    """Per-query retrieval figures on resampled test sets: ``w`` (I, b) identity
    multiplicities -> name -> (Qb, b): ``mAP`` (AP), ``R-precision``, ``p@k``, ``recall@k``.

    A relevant item's place: ``n_hi = rel_hi + hi @ w`` items at-or-above it (sklearn: score
    >= its; ssnet: its rank) and ``n_lo = rel_lo + lo @ w`` strictly above its tie block.
    AP = mean over relevant items of rel_hi / n_hi; expected hits in the top k =
    clip((k - n_lo) / (n_hi - n_lo), 0, 1) (a random order inside a tie block, as
    :func:`~vfbench.evaluate.metrics.retrieval_block`; for ssnet n_hi - n_lo = 1 and this is
    [rank <= k]). With ``w`` all ones these are the plain figures. ``no_ties``: whether
    the block holds no tie of two items (decides the formula and its precision: a count in
    float64, else expected hits summed in float32); default: checked on ``c`` itself.

    The (R, Qb, b) tables are laid out item-major, so that every sum over a query's relevant
    items adds R contiguous planes, and are reused in place across the figures (the same
    float32 operations on the same values as a per-query loop: bit-identical figures).
    """
    qb, r = c.mask.shape
    b = w.shape[1]
    w32 = np.asarray(w, dtype=np.float32)
    n_rel = c.mask.sum(1).astype(np.float64)
    inv_rel = np.where(n_rel > 0, 1.0 / np.maximum(n_rel, 1), 0.0)[:, None]
    rel_hi = c.rel_hi.T[..., None]  # (R, Qb, 1)
    mask = c.mask.T[..., None]

    def item_major(t: np.ndarray) -> np.ndarray:  # (Qb x R, I) -> (R x Qb, I)
        return t.reshape(qb, r, -1).transpose(1, 0, 2).reshape(r * qb, -1)

    n_hi = (item_major(c.hi) @ w32).reshape(r, qb, b)  # integer counts: exact in float32
    n_hi += rel_hi
    buf = np.empty_like(n_hi)
    out: dict[str, np.ndarray] = {}
    np.maximum(n_hi, 1.0, out=buf)
    np.divide(rel_hi, buf, out=buf)  # pads: rel_hi = 0
    out["mAP"] = buf.sum(0) * inv_rel
    if _no_tied_items(c) if no_ties is None else no_ties:
        # no tie block holds two items (always for SSNet): the item is in the top k iff
        # fewer than k items are strictly above it - a comparison, no clip (pads: +inf)
        above = np.subtract(n_hi, 1.0, out=n_hi)
        np.copyto(above, np.float32(np.inf), where=~mask)
        flags = np.empty(above.shape, dtype=bool)

        def hits(k: np.ndarray | int) -> np.ndarray:
            kk = np.asarray(k, dtype=np.float32)
            np.less(above, kk[None, :, None] if kk.ndim else kk, out=flags)
            return np.count_nonzero(flags, axis=0).astype(np.float64)

    else:
        if c.lo is None:  # n_hi - n_lo = rel_hi - rel_lo: the relevant items' tie only
            d = c.rel_hi - c.rel_lo
            n_lo = np.subtract(n_hi, d.T[..., None], out=n_hi)
            tie = np.maximum(d, 1.0).T[..., None]
        else:
            n_lo = (item_major(c.lo) @ w32).reshape(r, qb, b)
            n_lo += c.rel_lo.T[..., None]
            tie = np.maximum(n_hi - n_lo, 1.0)
        n_lo *= mask  # pads: n_lo = 0 and an infinite tie -> (k - 0) / inf = 0 hits
        tie = np.where(mask, tie, np.float32(np.inf)).astype(np.float32)

        def hits(k: np.ndarray | int) -> np.ndarray:
            kk = np.asarray(k, dtype=np.float32)
            np.subtract(kk[None, :, None] if kk.ndim else kk, n_lo, out=buf)
            np.divide(buf, tie, out=buf)
            np.clip(buf, 0.0, 1.0, out=buf)
            return buf.sum(0)

    out["R-precision"] = hits(n_rel) * inv_rel
    for k in ks:
        h = hits(k)
        out[f"p@{k}"] = h / k
        out[f"recall@{k}"] = h * inv_rel
    return out


def retrieval_cells(qc: np.ndarray, gc: np.ndarray) -> int:
    """Q x R x I of a retrieval set (queries x most relevant items of a query x identities
    in either role): the size of the all-roles bootstrap's count tables."""
    ids, inv = np.unique(np.concatenate([np.asarray(qc), np.asarray(gc)]), return_inverse=True)
    gcnt = np.bincount(inv[len(qc) :], minlength=ids.size)
    r_max = max(int(gcnt[inv[: len(qc)]].max(initial=0)), 1)
    return int(len(qc)) * r_max * int(ids.size)


def retrieval_replicates(
    qv: np.ndarray,
    gv: np.ndarray,
    qc: np.ndarray,
    gc: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    scorer: Any = "cosine",
    ap: str = "sklearn",
    ks: tuple[int, ...] = (1, 5, 10),
    direction: str = "v2f",
    block_elems: int = 1 << 22,
    keep: list[IdentityRankCounts] | None = None,
    jackknife: bool = False,
) -> dict[str, np.ndarray]:
    """All-roles identity-bootstrap replicates of every retrieval figure (``mAP``,
    ``R-precision``, ``p@k``, ``recall@k``): name -> (n_boot,).

    Inputs as :func:`~vfbench.evaluate.metrics.rank_retrieval` (``qv`` (Q, D) / ``gv`` (G, D)
    prepared vectors, ``qc`` / ``gc`` identity labels, relevant = same label). A replicate
    draws the identities of either role with replacement (the one primitive,
    :func:`bootstrap_weights`: I draws out of the I identities, in sorted label order) and
    is :func:`retrieval_figures` of the test set those multiplicities make. Callers check
    :func:`retrieval_cells` against :data:`RETRIEVAL_MAX_CELLS` first. ``keep``: a list that
    receives the :class:`IdentityRankCounts` of every query block (to save them for ``compare``).
    ``jackknife``: each array also holds, after the n_boot replicates, the I figures with
    one identity left out of every role (identity order: sorted labels), for
    :func:`jackknife_interval`.
    """
    n_ids = np.unique(np.concatenate([np.asarray(qc), np.asarray(gc)])).size
    w = bootstrap_weights(n_ids, n_boot, rng).T  # (I, B)
    if jackknife:  # leave-one-identity-out sets after the replicates, in the same pass
        w = np.concatenate([w, 1.0 - np.eye(n_ids)], axis=1)
    return retrieval_figures(qv, gv, qc, gc, w, scorer, ap, ks, direction, block_elems, keep)


def retrieval_figures(
    qv: np.ndarray,
    gv: np.ndarray,
    qc: np.ndarray,
    gc: np.ndarray,
    w: np.ndarray,
    scorer: Any = "cosine",
    ap: str = "sklearn",
    ks: tuple[int, ...] = (1, 5, 10),
    direction: str = "v2f",
    block_elems: int = 1 << 22,
    keep: list[IdentityRankCounts] | None = None,
) -> dict[str, np.ndarray]:
    """Retrieval figures of B resampled test sets: ``w`` (I, B) multiplicities of the
    identities of either role (sorted label order) -> name -> (B,).

    Test set b holds identity i ``w[i, b]`` times, every copy with its queries and its
    gallery items: a query's relevant items stay its own identity's items, each
    non-relevant identity j contributes w_j copies of its items (a relevant item's rank:
    1 + relevant items above it + sum_j w_j n_above[q, r, j], ties by the AP rule; SSNet's
    stable order puts an item's copies beside it), and the query's AP enters the mean with
    its identity's weight (mAP_b = sum_q w_id(q) AP_q(w) / sum_q w_id(q)). The other copies
    of the query's own identity are left out of its gallery: a copy has the very same
    media, so as a distractor it would tie exactly with the relevant items (no real test
    set holds two people with identical faces), and as a relevant item it would double R;
    leaving it out is what the matching bootstrap does (a trial never pits an identity
    against itself). With all w = 1 each figure is the plain one.

    Cost: one (Q x R, I) @ (I, B) matrix product per query block (two with exact score
    ties under the sklearn AP) plus one pass over the scores; memory bounded by
    ``block_elems``.
    """

    def rows(a: int, b: int) -> np.ndarray:
        if direction == "v2f":
            return score_matrix(qv[a:b], gv, scorer, prepared=True)
        return score_matrix(gv, qv[a:b], scorer, prepared=True).T

    return score_figures(rows, qc, gc, w, ap, ks, block_elems, keep)


def score_figures(
    scores: np.ndarray | Callable[[int, int], np.ndarray],
    qc: np.ndarray,
    gc: np.ndarray,
    w: np.ndarray,
    ap: str = "sklearn",
    ks: tuple[int, ...] = (1, 5, 10),
    block_elems: int = 1 << 22,
    keep: list[IdentityRankCounts] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`retrieval_figures` from scores: ``scores`` (Q, G) or a function giving the
    rows a..b of that matrix (float32), ``qc`` (Q,) / ``gc`` (G,) identity labels."""
    qc, gc = np.asarray(qc), np.asarray(gc)
    n_q = qc.shape[0]
    _, inv = np.unique(np.concatenate([qc, gc]), return_inverse=True)
    inv = inv.reshape(-1).astype(np.int64)
    qd, gd = inv[:n_q], inv[n_q:]
    if n_q == 0 or gd.size == 0:
        raise EvaluationError("retrieval bootstrap of an empty query or gallery set")
    n_ids = int(inv.max()) + 1
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 2 or w.shape[0] != n_ids:
        raise EvaluationError(
            f"weights must be ({n_ids}, B) identity multiplicities, got {w.shape}"
        )
    rows = scores if callable(scores) else (lambda a, b: np.asarray(scores)[a:b])
    r_max = max(int(np.bincount(gd, minlength=n_ids)[qd].max()), 1)
    q_rows = max(1, block_elems // (r_max * max(n_ids, gd.size)))

    def blocks() -> Iterator[IdentityRankCounts]:
        for a in range(0, n_q, q_rows):
            s = rows(a, min(a + q_rows, n_q))
            c = identity_rank_counts(s, qd[a : a + q_rows], gd, n_ids, ap, None, block_elems)
            if keep is not None:
                keep.append(c)
            yield c

    return counts_figures(blocks(), w, ks, block_elems)


#: :func:`counts_figures` evaluates the per-query figures in tiles of at most this many
#: (relevant item, query, replicate) cells (1 MB float32 tables: they stay in the cache
#: across the ~15 passes of :func:`retrieval_stats`) and this many replicates; the sums
#: over a block's queries are then taken as without tiles, so the figures are bit-identical
STATS_TILE_ELEMS = 1 << 18
STATS_TILE_COLS = 128


def counts_figures(
    blocks: Iterable[IdentityRankCounts],
    w: np.ndarray,
    ks: tuple[int, ...] = (1, 5, 10),
    block_elems: int = 1 << 22,
) -> dict[str, np.ndarray]:
    """Retrieval figures of B resampled test sets (``w`` (I, B)) from the
    :class:`IdentityRankCounts` of every query block (:func:`retrieval_figures`)."""
    w = np.asarray(w, dtype=np.float32)
    n_boot = w.shape[1]
    names = ["mAP", "R-precision"] + [f"{m}@{k}" for k in ks for m in ("p", "recall")]
    num = {name: np.zeros(n_boot) for name in names}
    den = np.zeros(n_boot)
    for c in blocks:
        if c.hi.shape[1] != w.shape[0]:
            raise EvaluationError(f"counts over {c.hi.shape[1]} identities, weights {w.shape}")
        qb, r = c.mask.shape
        b_cols = min(STATS_TILE_COLS, max(1, block_elems // max(c.hi.shape[0], 1)))
        q_rows = max(1, STATS_TILE_ELEMS // (r * b_cols))
        no_ties = _no_tied_items(c)  # one formula for the whole block, as without tiles
        with blas_single_thread_if_small(q_rows * r * b_cols * w.shape[0]):
            _block_figures(c, w, ks, b_cols, q_rows, no_ties, num, den)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {name: num[name] / den for name in names}


def _block_figures(
    c: IdentityRankCounts,
    w: np.ndarray,
    ks: tuple[int, ...],
    b_cols: int,
    q_rows: int,
    no_ties: bool,
    num: dict[str, np.ndarray],
    den: np.ndarray,
) -> None:
    """Add one query block's weighted figures to ``num`` and its weights to ``den``."""
    qb = c.mask.shape[0]
    for b0 in range(0, w.shape[1], b_cols):
        wb = w[:, b0 : b0 + b_cols]
        wq = wb[c.code].astype(np.float64)  # (Qb, b): each query's own weight
        den[b0 : b0 + b_cols] += wq.sum(0)
        stats: dict[str, np.ndarray] = {}
        for a in range(0, qb, q_rows):  # per-query figures, tile by tile
            part = retrieval_stats(query_rows(c, a, a + q_rows), wb, ks, no_ties)
            for name, v in part.items():
                stats.setdefault(name, np.empty((qb, wb.shape[1]), v.dtype))[a : a + q_rows] = v
        for name, v in stats.items():  # summed over the block's queries at once
            num[name][b0 : b0 + b_cols] += (wq * v).sum(0)


def save_counts(blocks: list[IdentityRankCounts]) -> dict[str, np.ndarray]:
    """What ``vfbench compare`` needs to resample a retrieval set's mAP in every role,
    as compact arrays for ``outcomes.npz``: ``rc_hi`` (Q, R, I) per-identity counts,
    ``rc_rel`` (Q, R) relevant counts (0 = padding), ``rc_code`` (Q,) query identities."""
    r = max(c.mask.shape[1] for c in blocks)
    top = max(float(c.hi.max(initial=0)) for c in blocks)
    dt = np.uint16 if top < 65536 and r < 65536 else np.uint32
    his, rels = [], []
    for c in blocks:
        q, rb = c.mask.shape
        h = np.zeros((q, r, c.hi.shape[1]), dt)
        h[:, :rb] = c.hi.reshape(q, rb, -1)
        his.append(h)
        rels.append(np.pad(c.rel_hi, ((0, 0), (0, r - rb))).astype(dt))
    return {
        "rc_hi": np.concatenate(his),
        "rc_rel": np.concatenate(rels),
        "rc_code": np.concatenate([c.code for c in blocks]).astype(np.int32),
    }


def load_counts(arrays: dict[str, np.ndarray]) -> IdentityRankCounts:
    """:class:`IdentityRankCounts` (AP only) from :func:`save_counts` arrays."""
    hi = np.asarray(arrays["rc_hi"], np.float32)
    rel = np.asarray(arrays["rc_rel"], np.float32)
    q, r, i = hi.shape
    return IdentityRankCounts(
        np.asarray(arrays["rc_code"], np.int64), rel > 0, rel, rel - 1, hi.reshape(q * r, i), None
    )


def paired_retrieval_bootstrap(
    a: dict[str, np.ndarray],
    b: dict[str, np.ndarray],
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> tuple[Estimate, float]:
    """All-roles identity bootstrap of mAP(A) - mAP(B) on the same retrieval set, from the
    two runs' saved counts (:func:`save_counts`): the same identity multiplicities for
    both systems, the difference's replicates re-centred (:func:`centred_interval`) and
    the one p-value rule on the re-centred replicates."""
    ca, cb = load_counts(a), load_counts(b)
    if not np.array_equal(ca.code, cb.code) or ca.hi.shape[1] != cb.hi.shape[1]:
        raise EvaluationError("the runs' retrieval sets differ (queries or identities)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    w = bootstrap_weights(ca.hi.shape[1], n_boot, rng).T
    ones = np.ones((ca.hi.shape[1], 1))
    point = float(
        counts_figures([ca], ones, ())["mAP"][0] - counts_figures([cb], ones, ())["mAP"][0]
    )
    reps = counts_figures([ca], w, ())["mAP"] - counts_figures([cb], w, ())["mAP"]
    est, shift = centred_interval(point, reps, level, int(ca.code.size), PAIRED, (-1.0, 1.0))
    null = bool(np.array_equal(ca.hi, cb.hi) and np.array_equal(ca.rel_hi, cb.rel_hi))
    return est, bootstrap_p_value(reps - shift, null)
