"""Speed of the all-roles identity bootstrap of retrieval (issue #20.1 for retrieval).

On a demo-sized test split (80 identities x 8 voices x 8 faces, 128-d unit vectors, both
directions): the paper protocol (5 gallery items per identity, every voice / face a
query: 640 queries x 400 items) and the full gallery (640 x 640), B = 1000 replicates of
mAP, R-precision, p@1/5/10 and recall@1/5/10 at once, plus the I leave-one-identity-out
figures of the jackknife (what ``evaluate`` computes); beside it the query-only bootstrap
of the same seven figures (B = 1000 each, as the report computes them) and the ranking
itself. Also one larger set (500 identities x 5 / 20) to show how the cost grows with
queries x relevant items x identities.

    python benchmarks/bench_retrieval_bootstrap.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from vfbench.evaluate.confidence import (
    cluster_bootstrap,
    retrieval_cells,
    retrieval_replicates,
)
from vfbench.evaluate.metrics import rank_retrieval

KS = (1, 5, 10)


def _set(n_ids: int, n_q: int, n_g: int, dim: int = 128, seed: int = 0):
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=(n_ids, dim))
    qc, gc = np.repeat(np.arange(n_ids), n_q), np.repeat(np.arange(n_ids), n_g)
    qv = centre[qc] + 3.0 * rng.normal(size=(qc.size, dim))
    gv = centre[gc] + 3.0 * rng.normal(size=(gc.size, dim))
    unit = [(x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32) for x in (qv, gv)]
    return unit[0], unit[1], qc, gc


def bench(label: str, n_ids: int, n_q: int, n_g: int, n_boot: int) -> None:
    qv, gv, qc, gc = _set(n_ids, n_q, n_g)
    t = time.perf_counter()
    st = rank_retrieval(qv, gv, qc, gc, "cosine", "sklearn", KS)
    t_rank = time.perf_counter() - t
    t = time.perf_counter()
    for name in ["ap", "rprec"] + [f"hits@{k}" for k in KS] * 2:
        cluster_bootstrap(st[name], qc, n_boot, 0.95, 0)
    t_query = time.perf_counter() - t
    t = time.perf_counter()
    for direction in ("v2f", "f2v"):
        reps = retrieval_replicates(
            qv,
            gv,
            qc,
            gc,
            n_boot,
            np.random.default_rng(0),
            ks=KS,
            direction=direction,
            jackknife=True,
        )
    t_all = (time.perf_counter() - t) / 2
    print(
        f"| {label} | {qc.size} x {gc.size} | {retrieval_cells(qc, gc):,} | {t_rank:.3f} | "
        f"{t_query:.3f} | {t_all:.3f} | {100 * st['ap'].mean():.2f} "
        f"[{100 * np.nanquantile(reps['mAP'][:n_boot], 0.025):.2f}, "
        f"{100 * np.nanquantile(reps['mAP'][:n_boot], 0.975):.2f}] |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="B = 200, no large set")
    a = ap.parse_args()
    n_boot = 200 if a.quick else 1000
    print(f"load average {os.getloadavg()[0]:.2f}; B = {n_boot}; times in s (one direction)")
    print(
        "| set | queries x gallery | Q x R x I cells | ranking | query-only bootstrap "
        "(7 figures) | all-roles bootstrap + jackknife (7 figures) | mAP [raw replicate 2.5-97.5 %] |"
    )
    print("|---|---|---|---|---|---|---|")
    bench("demo paper protocol, 80 ids x 5 / 8", 80, 8, 5, n_boot)
    bench("demo full gallery, 80 ids x 8 / 8", 80, 8, 8, n_boot)
    if not a.quick:
        bench("500 ids x 5 / 20", 500, 20, 5, n_boot)


if __name__ == "__main__":
    main()
