"""Coverage of the verification AUC intervals on a crossed design (issue #20 section 1).

    .venv/bin/python benchmarks/bench_coverage_verify.py [--sets N] [--sizes 80,189,500]

Pairs share identities in both roles: a pair (anchor a, other o) scores
``mu + q_a + e`` when o = a (positive) and ``d_o + e`` otherwise, e ~ N(0, 1), with query
quality ``q ~ N(0, sd_query^2)`` and distractor strength ``d ~ N(0, sd_distractor^2)``
per identity; the population AUC is ``Phi(mu / sqrt(2 + sd_query^2 + sd_distractor^2))``.
Each simulated test set draws I identities and 10,000 pairs (half positive, anchors and
others uniform) and the two intervals the report shows: the all-roles identity bootstrap
(default) and the query-identity bootstrap (percentile, B = 1000, the evaluation's own
``verification_replicates``). Prints the share of sets whose interval holds the target.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy import stats

from vfbench.evaluate.confidence import verification_replicates

DIRECTIONS = {"v2f": (0.8, 0.8), "f2v": (0.5, 1.2)}  # (sd_query, sd_distractor), as bench_coverage


def coverage(n_ids: int, sets: int, sd_q: float, sd_d: float, mu: float = 1.5) -> dict[str, float]:
    target = stats.norm.cdf(mu / np.sqrt(2 + sd_q**2 + sd_d**2))
    hits = {"bootstrap-all": 0, "bootstrap-identity": 0}
    t = 10_000
    for s in range(sets):
        rng = np.random.default_rng([n_ids, s])
        q, d = rng.normal(0, sd_q, n_ids), rng.normal(0, sd_d, n_ids)
        anchor = rng.integers(0, n_ids, t)
        pos = rng.random(t) < 0.5
        other = rng.integers(0, n_ids - 1, t)
        other += other >= anchor
        other = np.where(pos, anchor, other)
        score = np.where(pos, mu + q[anchor], d[other]) + rng.normal(size=t)
        roles = np.column_stack([anchor, other])
        for name, all_roles in (("bootstrap-all", True), ("bootstrap-identity", False)):
            reps = verification_replicates(
                score, pos, roles, 1000, np.random.default_rng([n_ids, s, all_roles]),
                all_roles=all_roles,
            )["auc"]  # fmt: skip
            lo, hi = np.nanpercentile(reps, [2.5, 97.5])
            hits[name] += bool(lo <= target <= hi)
    return {k: v / sets for k, v in hits.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=400)
    ap.add_argument("--sizes", default="80,189,500")
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {a.sets} sets per row, B = 1000")
    print("| direction | identities | bootstrap-all (default) | bootstrap-identity |")
    print("|---|---|---|---|")
    for name, (sq, sd) in DIRECTIONS.items():
        for n in (int(x) for x in a.sizes.split(",")):
            t0 = time.perf_counter()
            c = coverage(n, a.sets, sq, sd)
            print(
                f"| {name} | {n} | {100 * c['bootstrap-all']:.1f} | "
                f"{100 * c['bootstrap-identity']:.1f} |  ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    print(f"Monte-Carlo standard error near 95 %: {100 * (0.0475 / a.sets) ** 0.5:.1f} points")


if __name__ == "__main__":
    main()
