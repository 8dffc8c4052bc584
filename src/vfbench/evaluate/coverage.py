"""Coverage simulation of the interval methods on a crossed design (issue #20 section 1).

Trials share identities in every role: the query identity and the distractor identities
come from the same few hundred test identities. The simulation draws test identities from
an infinite population with heterogeneity on *both* sides, per direction:

* query difficulty ``a_i ~ N(0, sd_query^2)`` (some identities are hard as queries);
* distractor strength ``b_i ~ N(0, sd_distractor^2)`` (some identities are strong
  distractors, some weak);

and a 1:n trial with query q and distractors d_1..d_{n-1} is correct with probability
``P = Phi(mu + a_q - max_j b_{d_j})`` for n = 2 (the general case uses the max), one
Bernoulli draw per trial. The target is the *population* accuracy
``E[Phi(mu + a - b)] = Phi(mu / sqrt(1 + sd_query^2 + sd_distractor^2))`` (n = 2), the figure a
test set of I identities estimates. Each replicate draws I identities, the protocol's
uniform trials (query uniform, distractors distinct and uniform), and every interval the
report shows (plus the all-roles interval without its variance correction, from the same
replicates); coverage = the share of replicates whose interval contains the target.

Cost per simulated test set (10,000 trials, B = 1000) is ~0.1 s: the 1:n target is
integrated once per process (it was recomputed for every interval of every set: ~9 s per
1:n set), distractor sets are drawn in O(T k) by rejection instead of ranking a T x I
key matrix, and :func:`coverage` spreads sets over worker processes, each set with its own
seeded generator (the figures do not depend on the number of workers).

Verification (:class:`VerifyDesign`, :func:`verify_coverage`): pairs of the same
heterogeneous identities, AUC / EER / TAR@FAR against their closed-form population values,
the query-only, uncorrected and (default) variance-corrected all-roles intervals
(``benchmarks/bench_coverage_verify.py``). Retrieval: :class:`RetrievalDesign`.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from scipy import stats
from scipy.special import ndtr

from vfbench.evaluate.confidence import (
    ALL,
    JACK,
    JACK_T,
    QUERY,
    accuracy_intervals,
    bootstrap_weights,
    centred_interval,
    cluster_bootstrap,
    crossed_variance_scale,
    jackknife_interval,
    jackknife_t_interval,
    mean_normal,
    percentile_interval,
    ratio_replicates,
    score_figures,
    verification_replicates,
    verification_scales,
)
from vfbench.evaluate.metrics import retrieval_block, verification_metrics
from vfbench.evaluate.results import Estimate
from vfbench.utils.progress import progress_bar

_T = TypeVar("_T")

METHODS = ("binomial", "wilson", "bootstrap-identity", "bootstrap-all")
#: the all-roles replicates without :func:`crossed_variance_scale` (the default before it)
UNCORRECTED = "bootstrap-all-uncorrected"
COLUMNS = (*METHODS[:3], UNCORRECTED, METHODS[3])


@dataclass(frozen=True)
class Design:
    """One simulated configuration (a direction's heterogeneity at one test-set size)."""

    name: str
    n_identities: int
    mu: float = 1.0
    sd_query: float = 0.8
    sd_distractor: float = 0.8
    n_trials: int = 10000
    n: int = 2  # candidates per trial (1:n matching: n - 1 distractors)

    @property
    def target(self) -> float:
        """Population 1:n accuracy: closed form for n = 2, else a seeded 2M-draw Monte-Carlo
        integral of E[Phi(mu + a - max_j b_j)] (standard error < 0.0003), computed once per
        (mu, sd_query, sd_distractor, n) in a process."""
        return _population_accuracy(self.mu, self.sd_query, self.sd_distractor, self.n)


@lru_cache(maxsize=64)
def _population_accuracy(mu: float, sd_query: float, sd_distractor: float, n: int) -> float:
    if n == 2:
        s = np.sqrt(1.0 + sd_query**2 + sd_distractor**2)
        return float(stats.norm.cdf(mu / s))
    rng = np.random.default_rng(12345)
    m = 2_000_000
    a = rng.normal(0.0, sd_query, m)
    b = rng.normal(0.0, sd_distractor, (m, n - 1)).max(axis=1)
    return float(ndtr(mu + a - b).mean())


#: voice->face: hard and easy queries and distractors alike; face->voice: a few faces are
#: strong distractors for many voices (larger distractor spread), queries more uniform
DIRECTIONS = {
    "v2f": {"mu": 1.0, "sd_query": 0.8, "sd_distractor": 0.8},
    "f2v": {"mu": 1.0, "sd_query": 0.5, "sd_distractor": 1.2},
}


def designs(
    sizes: tuple[int, ...] = (80, 189, 500), n_trials: int = 10000, n: int = 2
) -> list[Design]:
    return [
        Design(d, i, n_trials=n_trials, n=n, **kw) for d, kw in DIRECTIONS.items() for i in sizes
    ]


def distinct_distractors(
    query: np.ndarray, n_identities: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """(T, k) distractor identities per trial: k distinct identities, none the query's,
    uniform over such sets. Each row is drawn uniformly from the other I - 1 identities
    and rows with a repeat are redrawn (rejection: every accepted set is equally likely),
    O(T k) instead of ranking T x I random keys."""
    t = query.size
    if not 1 <= k <= n_identities - 1:
        raise ValueError(f"{k} distinct distractors need at least {k + 1} identities")
    d = rng.integers(0, n_identities - 1, (t, k))
    d += d >= query[:, None]
    bad = np.arange(t) if k > 1 else np.zeros(0, np.int64)
    while bad.size:
        s = np.sort(d[bad], axis=1)
        bad = bad[(s[:, 1:] == s[:, :-1]).any(axis=1)]
        redraw = rng.integers(0, n_identities - 1, (bad.size, k))
        d[bad] = redraw + (redraw >= query[bad, None])
    return d


def matching_trials(design: Design, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One simulated 1:n test set: I identities from the population, the protocol's uniform
    trials (query uniform, n - 1 distinct distractors), one Bernoulli outcome per trial.
    Returns the (T,) 0/1 outcomes and the (T, n) identities of each trial's roles (column 0
    the query)."""
    i, t = design.n_identities, design.n_trials
    a = rng.normal(0.0, design.sd_query, i)
    b = rng.normal(0.0, design.sd_distractor, i)
    q = rng.integers(0, i, t)
    d = distinct_distractors(q, i, design.n - 1, rng)
    p = ndtr(design.mu + a[q] - b[d].max(axis=1))
    o = (rng.random(t) < p).astype(np.float64)
    return o, np.column_stack([q, d])


def interval_columns(
    outcomes: np.ndarray,
    roles: np.ndarray,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
) -> dict[str, Estimate]:
    """Every column of the coverage table on one test set: the report's methods as
    :func:`accuracy_intervals` computes them (the same generator order), and the
    uncorrected all-roles interval from the same raw replicates as the default."""
    o = outcomes
    iv = accuracy_intervals(o, roles, level, n_boot, rng, METHODS[:3])
    point, raw = ratio_replicates(o, roles, n_boot, rng, all_roles=True, variance_correction=False)
    c = crossed_variance_scale(roles, o, np.ones_like(o), point, level)
    iv[UNCORRECTED] = percentile_interval(point, raw, level, o.size, UNCORRECTED)
    iv[ALL] = percentile_interval(point, point + c * (raw - point), level, o.size, ALL)
    return iv


def simulate_once(
    design: Design, rng: np.random.Generator, n_boot: int = 1000, level: float = 0.95
) -> dict[str, bool]:
    """One replicate: does each column's interval contain the population accuracy?"""
    o, roles = matching_trials(design, rng)
    iv = interval_columns(o, roles, n_boot, level, rng)
    return {m: iv[m].contains(design.target) for m in COLUMNS}


def _replicate_rng(design: Design, seed: int, r: int) -> np.random.Generator:
    """Replicate r's own generator, keyed by (seed, direction, n, I, r): the figures do not
    depend on the number of worker processes or the order replicates run in."""
    return _set_rng(seed, design.name, design.n, design.n_identities, r)


def _set_rng(seed: int, name: str, n: int, n_identities: int, r: int) -> np.random.Generator:
    """The generator of simulated set ``r`` of a design (``name``, ``n`` candidates or 2 for
    verification pairs, ``n_identities``)."""
    key = [seed, zlib.crc32(name.encode()), n, n_identities, r]
    return np.random.default_rng(np.random.SeedSequence(key))


def _add_rows(into: dict[str, dict[str, float]], part: dict[str, dict[str, float]]) -> None:
    """``into[name][k] += part[name][k]`` for every figure and column of ``part``."""
    for name, row in part.items():
        t = into.setdefault(name, dict.fromkeys(row, 0.0))
        for k, v in row.items():
            t[k] += v


def _hits(args: tuple[Design, int, int, int, int, float]) -> dict[str, int]:
    design, seed, r0, r1, n_boot, level = args
    hits = dict.fromkeys(COLUMNS, 0)
    for r in range(r0, r1):
        for m, ok in simulate_once(design, _replicate_rng(design, seed, r), n_boot, level).items():
            hits[m] += ok
    return hits


def coverage(
    design: Design,
    replicates: int,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
    workers: int = 1,
) -> dict[str, float]:
    """Empirical coverage of every column over ``replicates`` simulated test sets, run in
    ``workers`` processes (the same figures for any number of workers)."""
    design.target  # noqa: B018 - computed once here, before the workers copy the design
    parts = _sharded(_hits, (design, seed), replicates, (n_boot, level), workers)
    return {m: sum(p[m] for p in parts) / replicates for m in COLUMNS}


def _sharded(
    fn: Callable[[Any], _T], head: tuple[Any, ...], total: int, tail: tuple[Any, ...], workers: int
) -> list[_T]:
    """``fn((*head, r0, r1, *tail))`` over ``[0, total)`` cut into ranges of simulated sets:
    in this process, or in ``workers`` processes (four ranges each, for balance). The
    ranges only decide where a set runs - each set has its own seeded generator - so the
    figures do not depend on ``workers``."""
    w = max(1, min(int(workers), total, os.cpu_count() or 1))
    bounds = np.linspace(0, total, 4 * w + 1 if w > 1 else 2).astype(int)
    jobs = [(*head, int(a), int(b), *tail) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if w == 1:
        return [fn(j) for j in jobs]
    with ProcessPoolExecutor(w) as ex:
        return list(ex.map(fn, jobs))


# --------------------------------------------------------------------------- verification
#: the verification intervals of the coverage table: the report's two (query-only and the
#: default all-roles bootstrap) and the all-roles replicates before the variance correction
VERIFY_COLUMNS = ("bootstrap-identity", UNCORRECTED, ALL)


@dataclass(frozen=True)
class VerifyDesign:
    """Simulated verification list: I identities from a population with query quality
    ``q ~ N(0, sd_query^2)`` and distractor strength ``d ~ N(0, sd_distractor^2)``; a pair
    (anchor a, other o) scores ``mu + q_a + e`` when o = a (positive) and ``d_o + e``
    otherwise, e ~ N(0, 1); ``n_pairs`` pairs, each positive with probability 1/2, anchors
    uniform, the other identity of a negative uniform over the rest. Positive scores are
    N(mu, 1 + sd_query^2) and negative ones N(0, 1 + sd_distractor^2) in the population,
    which gives the targets in closed form (:meth:`targets`)."""

    name: str
    n_identities: int
    mu: float = 1.5
    sd_query: float = 0.8
    sd_distractor: float = 0.8
    n_pairs: int = 10000
    fars: tuple[float, ...] = (0.01,)

    def targets(self) -> dict[str, float]:
        """Population AUC ``Phi(mu / sqrt(2 + sd_q^2 + sd_d^2))``, EER
        ``Phi(-mu / (s+ + s-))`` (s+ / s-: the positive / negative score sd) and TAR at each
        FAR ``Phi((mu - s- Phi^-1(1 - far)) / s+)``."""
        sp = float(np.sqrt(1.0 + self.sd_query**2))
        sn = float(np.sqrt(1.0 + self.sd_distractor**2))
        out = {
            "auc": float(ndtr(self.mu / np.hypot(sp, sn))),
            "eer": float(ndtr(-self.mu / (sp + sn))),
        }
        for far in self.fars:
            out[f"tar@far={far:g}"] = float(ndtr((self.mu - sn * stats.norm.isf(far)) / sp))
        return out

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One test set: (P,) scores, (P,) labels and the (P, 2) anchor / other identities."""
        i, t = self.n_identities, self.n_pairs
        q, d = rng.normal(0.0, self.sd_query, i), rng.normal(0.0, self.sd_distractor, i)
        anchor = rng.integers(0, i, t)
        pos = rng.random(t) < 0.5
        other = rng.integers(0, i - 1, t)
        other += other >= anchor
        other = np.where(pos, anchor, other)
        score = np.where(pos, self.mu + q[anchor], d[other]) + rng.normal(size=t)
        return score, pos, np.column_stack([anchor, other])


#: voice->face and face->voice heterogeneity as the matching designs (:data:`DIRECTIONS`)
DIRECTIONS_VERIFY = {"v2f": (0.8, 0.8), "f2v": (0.5, 1.2)}  # (sd_query, sd_distractor)


def verify_designs(
    sizes: tuple[int, ...] = (80, 189, 500), n_pairs: int = 10000, fars: tuple[float, ...] = (0.01,)
) -> list[VerifyDesign]:
    return [
        VerifyDesign(d, i, sd_query=sq, sd_distractor=sd, n_pairs=n_pairs, fars=fars)
        for d, (sq, sd) in DIRECTIONS_VERIFY.items()
        for i in sizes
    ]


def verify_interval_columns(
    scores: np.ndarray,
    labels: np.ndarray,
    roles: np.ndarray,
    fars: tuple[float, ...],
    n_boot: int,
    level: float,
    rng: np.random.Generator,
) -> tuple[dict[str, dict[str, Estimate]], dict[str, float]]:
    """Every column of the verification coverage table on one list, figure -> column ->
    interval, and the variance-correction factor of each figure: the query-only bootstrap,
    and the all-roles one from one set of raw replicates, scaled as
    :func:`verification_replicates` scales them (the default) and unscaled."""
    point = verification_metrics(scores, labels, fars)
    q = verification_replicates(scores, labels, roles, n_boot, rng, fars, all_roles=False)
    raw = verification_replicates(
        scores, labels, roles, n_boot, rng, fars, variance_correction=False
    )
    c = verification_scales(scores, labels, roles, fars, level)
    out: dict[str, dict[str, Estimate]] = {}
    n = int(np.asarray(scores).size)
    for name, p in point.items():
        fixed = np.clip(p + c[name] * (raw[name] - p), 0.0, 1.0)
        out[name] = {
            "bootstrap-identity": percentile_interval(p, q[name], level, n, QUERY),
            UNCORRECTED: percentile_interval(p, raw[name], level, n, UNCORRECTED),
            ALL: percentile_interval(p, fixed, level, n, ALL),
        }
    return out, c


def simulate_verify_once(
    design: VerifyDesign, rng: np.random.Generator, n_boot: int = 1000, level: float = 0.95
) -> dict[str, dict[str, float]]:
    """One simulated list: figure -> {column: 1.0 if its interval holds the target,
    ``estimate``: the point value, ``scale``: the correction factor}."""
    s, y, roles = design.draw(rng)
    iv, c = verify_interval_columns(s, y, roles, design.fars, n_boot, level, rng)
    out: dict[str, dict[str, float]] = {}
    for name, target in design.targets().items():
        row = {m: float(iv[name][m].contains(target)) for m in VERIFY_COLUMNS}
        row["estimate"], row["scale"] = iv[name][ALL].value, c[name]
        out[name] = row
    return out


def _verify_sums(
    args: tuple[VerifyDesign, int, int, int, int, float],
) -> dict[str, dict[str, float]]:
    design, seed, r0, r1, n_boot, level = args
    tot: dict[str, dict[str, float]] = {}
    for r in range(r0, r1):
        rng = _set_rng(seed, design.name, 2, design.n_identities, r)
        _add_rows(tot, simulate_verify_once(design, rng, n_boot, level))
    return tot


def verify_coverage(
    design: VerifyDesign,
    sets: int,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
    workers: int = 1,
) -> dict[str, dict[str, float]]:
    """Coverage of every verification interval over ``sets`` simulated lists, figure ->
    column -> share of lists whose interval holds the target; plus ``estimate`` (the
    mean point value: the estimator's bias against the target) and ``scale`` (the mean
    correction factor). Each list has its own seeded generator (the same figures for any
    number of ``workers``)."""
    parts = _sharded(_verify_sums, (design, seed), sets, (n_boot, level), workers)
    out: dict[str, dict[str, float]] = {}
    for part in parts:
        _add_rows(out, part)
    return {name: {k: v / sets for k, v in row.items()} for name, row in out.items()}


# ------------------------------------------------------------------------------ retrieval
#: the jackknife candidates of issue 20.1 beside the row's intervals (coverage only):
#: the t(I - 1) quantile, symmetric and with the Cornish-Fisher skewness correction, and
#: the effective-df t with that correction (:func:`~vfbench.evaluate.confidence.jackknife_t_interval`)
JACK_T_IDS = "jackknife-t(I-1)"
JACK_T_IDS_CF = "jackknife-t(I-1)-cf"
JACK_T_CF = "jackknife-t(eff)-cf"
#: every interval of a retrieval row (``jackknife-all-t``, the default, last) and the
#: candidates
RETRIEVAL_METHODS = (
    "normal",
    "bootstrap-identity",
    "bootstrap-all-uncentred",
    "bootstrap-all",
    JACK,
    JACK_T_IDS,
    JACK_T_IDS_CF,
    JACK_T_CF,
    JACK_T,
)
#: the columns that need no bootstrap (``bench_coverage.py --task retrieval --jackknife-only``)
JACKKNIFE_METHODS = (JACK, JACK_T_IDS, JACK_T_IDS_CF, JACK_T_CF, JACK_T)


@dataclass(frozen=True)
class RetrievalDesign:
    """Simulated retrieval: I identities with ``gallery_per_identity`` gallery items and
    ``queries_per_identity`` queries each. The score of a query item of identity q against
    a gallery item of identity g is ``mu + a_q + e`` when g = q (a_q ~ N(0, sd_query^2):
    query difficulty) and ``b_g + e`` otherwise (b_g ~ N(0, sd_distractor^2): distractor
    strength), e ~ N(0, 1) per pair. The target is the expected figure of a test set of I
    identities (mAP falls as the gallery grows), a seeded Monte-Carlo mean over
    ``target_sets`` test sets."""

    name: str
    n_identities: int
    mu: float = 2.0
    sd_query: float = 0.8
    sd_distractor: float = 0.8
    gallery_per_identity: int = 5
    queries_per_identity: int = 4
    metric: str = "mAP"
    target_sets: int = 300

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One test set: (Q, G) float32 scores, query and gallery identity labels."""
        i = self.n_identities
        a = rng.normal(0.0, self.sd_query, i)
        b = rng.normal(0.0, self.sd_distractor, i)
        qc = np.repeat(np.arange(i), self.queries_per_identity)
        gc = np.repeat(np.arange(i), self.gallery_per_identity)
        s = b[gc][None, :] + rng.normal(size=(qc.size, gc.size))
        same = qc[:, None] == gc[None, :]
        s[same] = (self.mu + a[qc][:, None] + rng.normal(size=s.shape))[same]
        return s.astype(np.float32), qc, gc

    def target(self) -> tuple[float, float]:
        """(expected figure, its Monte-Carlo standard error)."""
        rng = np.random.default_rng(np.random.SeedSequence([4242, self.n_identities]))
        vals = [per_query(*self.draw(rng), self.metric).mean() for _ in range(self.target_sets)]
        return float(np.mean(vals)), float(np.std(vals, ddof=1) / np.sqrt(len(vals)))


def per_query(s: np.ndarray, qc: np.ndarray, gc: np.ndarray, metric: str = "mAP") -> np.ndarray:
    """(Q,) per-query figure (``mAP`` -> AP, ``p@k``) of a score matrix (sklearn AP)."""
    cols = [np.flatnonzero(gc == c) for c in range(int(gc.max()) + 1)]
    r = max(len(c) for c in cols)
    idx = np.array([np.r_[c, np.zeros(r - len(c), int)] for c in cols])[qc]
    mask = np.arange(r)[None, :] < np.array([len(c) for c in cols])[qc][:, None]
    k = int(metric.split("@")[1]) if metric.startswith("p@") else 1
    st = retrieval_block(s, idx, mask, (k,))
    return st.ap if metric == "mAP" else st.hits_at[k] / k


#: the matching designs' heterogeneity with a stronger same-identity signal (mAP 6-24 %)
DIRECTIONS_RETRIEVAL: dict[str, tuple[float, float, float]] = {
    "v2f": (2.0, 0.8, 0.8),  # (mu, sd_query, sd_distractor)
    "f2v": (2.0, 0.5, 1.2),
}


def retrieval_designs(
    sizes: tuple[int, ...] = (80, 189, 500), metric: str = "mAP"
) -> list[RetrievalDesign]:
    return [
        RetrievalDesign(d, i, mu, sq, sd, metric=metric)
        for d, (mu, sq, sd) in DIRECTIONS_RETRIEVAL.items()
        for i in sizes
    ]


def miss_side(est: Estimate, target: float) -> int:
    """0 when ``est`` contains ``target``, -1 when the interval lies below it ("too low":
    target > upper end), +1 when above it ("too high": target < lower end); an undefined
    interval counts as too low."""
    if est.contains(target):
        return 0
    return 1 if est.low > target else -1


@dataclass(frozen=True)
class CoverageCount:
    """Outcome of one interval method over ``sets`` simulated test sets."""

    sets: int
    covered: int
    too_low: int  # the interval below the target
    too_high: int  # the interval above it
    mean_length: float = float("nan")  # mean high - low over the sets

    @property
    def coverage(self) -> float:
        return self.covered / self.sets if self.sets else float("nan")


def _retrieval_set_rng(design: RetrievalDesign, seed: int, r: int) -> np.random.Generator:
    """Test set r's own generator, keyed by (seed, direction, metric, I, r): every method
    sees the same sets whichever columns are computed."""
    key = [seed, zlib.crc32(f"{design.name}/{design.metric}".encode()), design.n_identities, r]
    return np.random.default_rng(np.random.SeedSequence(key))


def retrieval_intervals(
    design: RetrievalDesign,
    rng: np.random.Generator,
    n_boot: int = 1000,
    level: float = 0.95,
    methods: tuple[str, ...] = RETRIEVAL_METHODS,
) -> dict[str, Estimate]:
    """The intervals ``methods`` of one simulated test set drawn from ``rng`` (the set is
    drawn first, so it does not depend on ``methods``; the bootstrap is run only when a
    bootstrap column is asked for)."""
    s, qc, gc = design.draw(rng)
    vals = per_query(s, qc, gc, design.metric)
    point = float(vals.mean())
    i = design.n_identities
    boot = any(m.startswith("bootstrap") for m in methods)
    w = 1.0 - np.eye(i)
    if boot:
        w = np.concatenate([bootstrap_weights(i, n_boot, rng).T, w], axis=1)
    k = int(design.metric.split("@")[1]) if design.metric.startswith("p@") else 1
    figs = score_figures(s, qc, gc, w, ks=(k,))[design.metric]
    b = n_boot if boot else 0
    reps, loo = figs[:b], figs[b:]  # replicates, then leave-one-identity-out
    n = vals.size
    iv = {
        JACK: jackknife_interval(point, loo, level, n),
        JACK_T_IDS: jackknife_t_interval(point, loo, level, n, JACK_T_IDS, df="identities"),
        JACK_T_IDS_CF: jackknife_t_interval(
            point, loo, level, n, JACK_T_IDS_CF, df="identities", skew=True
        ),
        JACK_T_CF: jackknife_t_interval(point, loo, level, n, JACK_T_CF, skew=True),
        JACK_T: jackknife_t_interval(point, loo, level, n),
        "normal": mean_normal(vals, level),
    }
    if boot:
        iv["bootstrap-identity"] = cluster_bootstrap(vals, qc, n_boot, level, rng)
        iv["bootstrap-all-uncentred"] = percentile_interval(point, reps, level, n, "raw")
        iv["bootstrap-all"] = centred_interval(point, reps, level, n, "bootstrap-all")[0]
    unknown = set(methods) - set(iv)
    if unknown:
        raise ValueError(f"unknown retrieval interval method(s): {sorted(unknown)}")
    return {m: iv[m] for m in methods}


def simulate_retrieval_once(
    design: RetrievalDesign,
    target: float,
    rng: np.random.Generator,
    n_boot: int = 1000,
    level: float = 0.95,
    methods: tuple[str, ...] = RETRIEVAL_METHODS,
) -> dict[str, tuple[int, float]]:
    """One simulated test set: where each interval of its figure misses ``target``
    (:func:`miss_side`: 0 = contains it) and its length."""
    iv = retrieval_intervals(design, rng, n_boot, level, methods)
    return {m: (miss_side(iv[m], target), iv[m].high - iv[m].low) for m in methods}


def retrieval_coverage_counts(
    design: RetrievalDesign,
    replicates: int,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
    target: float | None = None,
    methods: tuple[str, ...] = RETRIEVAL_METHODS,
    progress: bool = False,
) -> dict[str, CoverageCount]:
    """Covered / too-low / too-high counts of every method over ``replicates`` test sets,
    each drawn from its own seeded generator (:func:`_retrieval_set_rng`)."""
    t = design.target()[0] if target is None else target
    sides = np.zeros((len(methods), replicates), dtype=np.int8)
    lengths = np.zeros((len(methods), replicates))
    desc = f"{design.name} {design.n_identities} ids"
    with progress_bar(replicates, desc, "set", enabled=progress) as bar:
        for r in range(replicates):
            got = simulate_retrieval_once(
                design, t, _retrieval_set_rng(design, seed, r), n_boot, level, methods
            )
            sides[:, r] = [got[m][0] for m in methods]
            lengths[:, r] = [got[m][1] for m in methods]
            bar.update(1)
    return {
        m: CoverageCount(
            replicates,
            int((sides[j] == 0).sum()),
            int((sides[j] < 0).sum()),
            int((sides[j] > 0).sum()),
            float(np.nanmean(lengths[j])) if replicates else float("nan"),
        )
        for j, m in enumerate(methods)
    }


def retrieval_coverage(
    design: RetrievalDesign,
    replicates: int,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
    target: float | None = None,
    methods: tuple[str, ...] = RETRIEVAL_METHODS,
) -> dict[str, float]:
    """Empirical coverage of every retrieval interval over ``replicates`` test sets."""
    c = retrieval_coverage_counts(design, replicates, seed, n_boot, level, target, methods)
    return {m: c[m].coverage for m in methods}
