"""Coverage of the verification intervals (AUC, EER, TAR@FAR) on a crossed design (issue #20).

    .venv/bin/python benchmarks/bench_coverage_verify.py [--quick] [--sets N] [--sizes 80,189,500]
        [--boot B] [--workers W] [--fars 0.01]

Pairs share identities in both roles: a pair (anchor a, other o) scores ``mu + q_a + e``
when o = a (positive) and ``d_o + e`` otherwise, e ~ N(0, 1), with query quality
``q ~ N(0, sd_query^2)`` and distractor strength ``d ~ N(0, sd_distractor^2)`` per identity
(model and closed-form population targets: :class:`vfbench.evaluate.coverage.VerifyDesign`).
Each simulated test set draws I identities and 10,000 pairs (half positive) and every
interval the report shows - the query-identity bootstrap and the all-roles bootstrap
(default, variance-corrected) - plus the all-roles bootstrap without its correction, from
the same raw replicates (percentile, B = 1000, the evaluation's own
``verification_replicates``). Prints, per figure, the share of sets whose interval holds
the population value, the mean estimate (the estimator's bias) and the mean correction
factor; each set has its own seeded generator (the figures do not depend on ``--workers``).
"""

from __future__ import annotations

import argparse
import os
import time

from vfbench.evaluate.confidence import ALL
from vfbench.evaluate.coverage import UNCORRECTED, verify_coverage, verify_designs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=400)
    ap.add_argument("--sizes", default="80,189,500")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--fars", default="0.01")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="20 sets, 300 bootstrap draws")
    a = ap.parse_args()
    if a.quick:
        a.sets, a.boot = 20, 300
    sizes = tuple(int(x) for x in a.sizes.split(","))
    fars = tuple(float(x) for x in a.fars.split(",") if x)
    print(f"{a.sets} sets per row, B = {a.boot}, {a.workers} worker(s), seed {a.seed}")
    rows: dict[str, list[str]] = {}
    t_all = time.perf_counter()
    for d in verify_designs(sizes, fars=fars):
        t0 = time.perf_counter()
        c = verify_coverage(d, a.sets, a.seed, a.boot, workers=a.workers)
        took = time.perf_counter() - t0
        load = os.getloadavg()[0]
        for name, target in d.targets().items():
            r = c[name]
            rows.setdefault(name, []).append(
                f"| {d.name} | {d.n_identities} | {100 * target:.2f} | "
                f"{100 * r['estimate']:.2f} | {100 * r['bootstrap-identity']:.1f} | "
                f"{100 * r[UNCORRECTED]:.1f} | **{100 * r[ALL]:.1f}** | {r['scale']:.3f} | "
                f"{took:.0f}, {load:.1f} |"
            )
        print(f"  {d.name} I={d.n_identities}: {took:.0f} s, load {load:.1f}", flush=True)
    for name, lines in rows.items():
        print(f"\n{name}:\n")
        print(
            "| direction | identities | population value | mean estimate | query-only bootstrap "
            "| all-roles, uncorrected | **all-roles (default)** | mean scale | time (s), load |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))
    se = 100 * (0.95 * 0.05 / a.sets) ** 0.5
    print(f"\nMonte-Carlo standard error near 95 %: {se:.1f} points")
    print(f"total {time.perf_counter() - t_all:.0f} s, load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
