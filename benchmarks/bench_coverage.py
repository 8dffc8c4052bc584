"""Coverage of every interval method on a crossed design (issue #20 section 1).

    .venv/bin/python benchmarks/bench_coverage.py [--quick] [--replicates R] [--boot B]
        [--n 2,5,10] [--sizes 80,189,500] [--workers W]

Simulated 1:n matching with heterogeneity on both sides (hard / easy queries, strong /
weak distractors; voice->face and face->voice configured differently; model in
:mod:`vfbench.evaluate.coverage`) at 80, 189 and 500 test identities, 10,000 trials per
test set. Prints the empirical coverage at nominal 95% of the binomial (the paper's),
Wilson, query-only identity bootstrap, the uncorrected all-roles (pigeonhole) bootstrap
and the all-roles bootstrap with the variance correction (the default), with the
Monte-Carlo standard error. Target: the default covers 93-97% in every configuration.
Each simulated test set has its own seeded generator, so the figures do not depend on
``--workers`` (processes; BLAS and numba are kept to one thread each per process).

    .venv/bin/python benchmarks/bench_coverage.py --task retrieval [--metric mAP|p@1]
        [--jackknife-only] [--target-sets N] [--directions v2f,f2v]

Retrieval (issue #20.1 for retrieval): identities with query difficulty and distractor
strength, 5 gallery items and 4 queries each (:class:`~vfbench.evaluate.coverage.RetrievalDesign`);
coverage of the expected mAP (or p@k) of a test set of that size by the normal interval
over queries, the query-only bootstrap, the all-roles bootstrap's plain percentile
interval and the re-centred one, the plain jackknife (estimate +- z se), the jackknife
with t(I - 1) and the default jackknife with t(I - 1) and the Cornish-Fisher skewness
correction, each with the side of its misses (interval below / above the target).
``--jackknife-only`` skips the bootstrap (the jackknife columns are the same: every test
set has its own seeded generator).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # before numpy / numba load: workers, not threads

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import time  # noqa: E402

from vfbench.evaluate.coverage import (  # noqa: E402
    COLUMNS,
    JACKKNIFE_METHODS,
    RETRIEVAL_METHODS,
    coverage,
    designs,
    retrieval_coverage_counts,
    retrieval_designs,
)


def retrieval(
    reps: int,
    boot: int,
    sizes: tuple[int, ...],
    metric: str,
    methods: tuple[str, ...],
    target_sets: int,
    directions: tuple[str, ...],
) -> None:
    """The retrieval table: target (with its Monte-Carlo standard error) and, per method,
    the coverage and where the misses fall (% of sets with the interval below the target
    / above it)."""
    print(
        f"retrieval {metric}, 5 gallery items / 4 queries per identity; target: mean over "
        f"{target_sets} test sets; cell = coverage (interval too low / too high), %"
    )
    print("| direction | identities | target (se) | " + " | ".join(methods) + " | time, load |")
    print("|" + "---|" * (4 + len(methods)))
    lengths = []
    for d in retrieval_designs(sizes, metric):
        if d.name not in directions:
            continue
        d = dataclasses.replace(d, target_sets=target_sets)
        t = time.perf_counter()
        target, se = d.target()
        c = retrieval_coverage_counts(
            d, reps, n_boot=boot, target=target, methods=methods, progress=True
        )
        cells = " | ".join(
            f"{100 * c[m].coverage:.1f} ({100 * c[m].too_low / reps:.1f} / "
            f"{100 * c[m].too_high / reps:.1f})"
            for m in methods
        )
        print(
            f"| {d.name} | {d.n_identities} | {100 * target:.2f} ({100 * se:.2f}) | {cells} | "
            f"{time.perf_counter() - t:.0f} s, {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
        lengths.append(
            f"{d.name} {d.n_identities}: "
            + ", ".join(f"{m} {100 * c[m].mean_length:.2f}" for m in methods)
        )
    print("\nmean interval length (points):\n" + "\n".join(lengths))


def matching(reps: int, boot: int, sizes: tuple[int, ...], ns: str, workers: int) -> None:
    """The 1:n matching tables, one per n."""
    for n in (int(x) for x in ns.split(",")):
        print(f"\n1:{n} matching")
        print("| direction | identities | target | " + " | ".join(COLUMNS) + " |")
        print("|" + "---|" * (3 + len(COLUMNS)))
        for d in designs(sizes, n=n):
            t = time.perf_counter()
            c = coverage(d, reps, n_boot=boot, workers=workers)
            cells = " | ".join(f"{100 * c[m]:.1f}" for m in COLUMNS)
            print(
                f"| {d.name} | {d.n_identities} | {100 * d.target:.1f} | {cells} |"
                f"  ({time.perf_counter() - t:.0f} s, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="40 replicates, 300 bootstrap draws")
    ap.add_argument(
        "--replicates", type=int, default=None, help="test sets (1000 matching, 400 retrieval)"
    )
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--n", default="2", help="candidates per trial (1:n matching), e.g. 2,5,10")
    ap.add_argument("--sizes", default="80,189,500", help="test identities per set")
    ap.add_argument("--workers", type=int, default=2, help="processes (matching)")
    ap.add_argument("--task", choices=("matching", "retrieval"), default="matching")
    ap.add_argument("--metric", default="mAP", help="retrieval figure: mAP or p@k")
    ap.add_argument(
        "--jackknife-only",
        action="store_true",
        help="retrieval: only the jackknife columns (no bootstrap: ~50x faster at 80 ids)",
    )
    ap.add_argument(
        "--target-sets", type=int, default=300, help="retrieval: test sets for the target"
    )
    ap.add_argument("--directions", default="v2f,f2v", help="retrieval: v2f,f2v")
    a = ap.parse_args()
    default_reps = 1000 if a.task == "matching" else 400
    reps = 40 if a.quick else (a.replicates or default_reps)
    boot = 300 if a.quick else a.boot
    t_all = time.perf_counter()
    if a.task == "matching":
        runs = f"{reps} replicates x {boot} bootstrap draws, {a.workers} worker(s)"
    else:  # retrieval runs in this one process
        boots = "no bootstrap (--jackknife-only)" if a.jackknife_only else f"B = {boot}"
        runs = f"{reps} test sets, {boots}, one process"
    print(f"load average {os.getloadavg()[0]:.2f}; {runs}")
    sizes = tuple(int(x) for x in a.sizes.split(","))
    if a.task == "retrieval":
        methods = JACKKNIFE_METHODS if a.jackknife_only else RETRIEVAL_METHODS
        dirs = tuple(a.directions.split(","))
        retrieval(reps, boot, sizes, a.metric, methods, a.target_sets, dirs)
    else:
        matching(reps, boot, sizes, a.n, a.workers)
    se = 100 * (0.95 * 0.05 / reps) ** 0.5
    print(f"\nMonte-Carlo standard error of a coverage near 95%: {se:.1f} points")
    print(f"total {time.perf_counter() - t_all:.0f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
