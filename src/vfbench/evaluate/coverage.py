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

from vfbench.evaluate.confidence import accuracy_intervals

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
