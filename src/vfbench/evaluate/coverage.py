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
report shows; coverage = the share of replicates whose interval contains the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from vfbench.evaluate.confidence import (
    accuracy_intervals,
    bootstrap_weights,
    centred_interval,
    cluster_bootstrap,
    jackknife_interval,
    mean_normal,
    percentile_interval,
    score_figures,
)
from vfbench.evaluate.metrics import retrieval_block

METHODS = ("binomial", "wilson", "bootstrap-identity", "bootstrap-all")


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
        integral of E[Phi(mu + a - max_j b_j)] (standard error < 0.0003)."""
        if self.n == 2:
            s = np.sqrt(1.0 + self.sd_query**2 + self.sd_distractor**2)
            return float(stats.norm.cdf(self.mu / s))
        rng = np.random.default_rng(12345)
        m = 2_000_000
        a = rng.normal(0.0, self.sd_query, m)
        b = rng.normal(0.0, self.sd_distractor, (m, self.n - 1)).max(axis=1)
        return float(stats.norm.cdf(self.mu + a - b).mean())


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


def simulate_once(
    design: Design, rng: np.random.Generator, n_boot: int = 1000, level: float = 0.95
) -> dict[str, bool]:
    """One replicate: does each method's interval contain the population accuracy?"""
    i, t = design.n_identities, design.n_trials
    a = rng.normal(0.0, design.sd_query, i)
    b = rng.normal(0.0, design.sd_distractor, i)
    q = rng.integers(0, i, t)
    if design.n == 2:
        d = rng.integers(0, i - 1, t)[:, None]
        d += d >= q[:, None]  # a distinct distractor identity, uniform
    else:  # n - 1 distinct distractor identities per trial, none the query's, uniform
        keys = rng.random((t, i))
        keys[np.arange(t), q] = np.inf
        d = np.argpartition(keys, design.n - 1, axis=1)[:, : design.n - 1]
    p = stats.norm.cdf(design.mu + a[q] - b[d].max(axis=1))
    o = (rng.random(t) < p).astype(np.float64)
    iv = accuracy_intervals(o, np.column_stack([q, d]), level, n_boot, rng, METHODS)
    return {m: iv[m].contains(design.target) for m in METHODS}


def coverage(
    design: Design, replicates: int, seed: int = 0, n_boot: int = 1000, level: float = 0.95
) -> dict[str, float]:
    """Empirical coverage of every method over ``replicates`` simulated test sets."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, design.n_identities]))
    hits = dict.fromkeys(METHODS, 0)
    for _ in range(replicates):
        for m, ok in simulate_once(design, rng, n_boot, level).items():
            hits[m] += ok
    return {m: hits[m] / replicates for m in METHODS}


# ------------------------------------------------------------------------------ retrieval
RETRIEVAL_METHODS = (
    "normal",
    "bootstrap-identity",
    "bootstrap-all-uncentred",
    "bootstrap-all",
    "jackknife-all",
)


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


def simulate_retrieval_once(
    design: RetrievalDesign,
    target: float,
    rng: np.random.Generator,
    n_boot: int = 1000,
    level: float = 0.95,
) -> dict[str, bool]:
    """One simulated test set: does each interval of its figure contain ``target``?"""
    s, qc, gc = design.draw(rng)
    vals = per_query(s, qc, gc, design.metric)
    point = float(vals.mean())
    i = design.n_identities
    w = np.concatenate([bootstrap_weights(i, n_boot, rng).T, 1.0 - np.eye(i)], axis=1)
    k = int(design.metric.split("@")[1]) if design.metric.startswith("p@") else 1
    figs = score_figures(s, qc, gc, w, ks=(k,))[design.metric]
    reps, loo = figs[:n_boot], figs[n_boot:]  # replicates, then leave-one-identity-out
    iv = {
        "normal": mean_normal(vals, level),
        "bootstrap-identity": cluster_bootstrap(vals, qc, n_boot, level, rng),
        "bootstrap-all-uncentred": percentile_interval(point, reps, level, vals.size, "raw"),
        "bootstrap-all": centred_interval(point, reps, level, vals.size, "bootstrap-all")[0],
        "jackknife-all": jackknife_interval(point, loo, level, vals.size),
    }
    return {m: iv[m].contains(target) for m in RETRIEVAL_METHODS}


def retrieval_coverage(
    design: RetrievalDesign,
    replicates: int,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
    target: float | None = None,
) -> dict[str, float]:
    """Empirical coverage of every retrieval interval over ``replicates`` test sets."""
    t = design.target()[0] if target is None else target
    rng = np.random.default_rng(np.random.SeedSequence([seed, design.n_identities, 7]))
    hits = dict.fromkeys(RETRIEVAL_METHODS, 0)
    for _ in range(replicates):
        for m, ok in simulate_retrieval_once(design, t, rng, n_boot, level).items():
            hits[m] += ok
    return {m: hits[m] / replicates for m in RETRIEVAL_METHODS}
