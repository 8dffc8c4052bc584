"""Speed of the identity bootstrap of verification (AUC, EER, TAR@FAR replicates).

A demo-sized list (10,000 pairs over 80 identities, half positive, scores rounded to 3
decimals: many ties) and a larger one (100,000 pairs over 1,000 identities), B = 1000
replicates, both the all-roles and the query-only bootstrap (what ``evaluate`` computes
per direction), by the compiled kernel (``_kernels.verify_reps``) and by the numpy path
(``VFBENCH_NUMBA=0``: (b, P) weight blocks through ``metrics.roc``). The first kernel
call (numba load / compile) is timed apart. Prints the largest difference between the
two paths as well.

    python benchmarks/bench_verify_bootstrap.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from vfbench.evaluate import _kernels
from vfbench.evaluate.confidence import verification_replicates

FARS = (0.01, 0.001)


def _list(n: int, n_ids: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.5
    roles = rng.integers(0, n_ids, size=(n, 2))
    roles[y, 1] = roles[y, 0]
    s = np.round(rng.normal(size=n) + 1.2 * y, 3)
    return s, y, roles


def _run(s: np.ndarray, y: np.ndarray, roles: np.ndarray, n_boot: int) -> tuple[float, dict]:
    t = time.perf_counter()
    out = {}
    for all_roles in (True, False):
        r = verification_replicates(s, y, roles, n_boot, np.random.default_rng(1), FARS, all_roles)
        out.update({f"{k}/{all_roles}": v for k, v in r.items()})
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    n_boot = 200 if a.quick else 1000
    print(f"load average {os.getloadavg()[0]:.2f}; B = {n_boot}; fars {FARS}")
    t = time.perf_counter()
    have = _kernels.verify_reps_kernel() is not None
    print(f"kernel load/compile: {time.perf_counter() - t:.3f} s ({'numba' if have else 'none'})")
    sizes = [(10_000, 80)] + ([] if a.quick else [(100_000, 1_000)])
    for n, n_ids in sizes:
        s, y, roles = _list(n, n_ids)
        tk, rk = _run(s, y, roles, n_boot)
        os.environ["VFBENCH_NUMBA"] = "0"
        tn, rn = _run(s, y, roles, n_boot)
        del os.environ["VFBENCH_NUMBA"]
        diff = max(float(np.nanmax(np.abs(rk[k] - rn[k]))) for k in rk)
        print(
            f"{n:>7} pairs / {n_ids:>5} ids, all-roles + query-only: kernel {tk:.3f} s, "
            f"numpy {tn:.3f} s (x{tn / tk:.1f}); max |difference| {diff:.1e}"
        )


if __name__ == "__main__":
    main()
