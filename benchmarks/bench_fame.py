"""FAME / imported-features speed: importing baseline-sized feature files and evaluating
four FAME conditions with identity-bootstrap intervals.

* ``import npz``: :func:`import_features` of N voice rows (512-d) + N face rows (4096-d),
  the FAME baseline's feature sizes (validation + store + manifest written);
* ``read csv``: :func:`read_feature_file` of a header-less CSV of the baseline's kind;
* ``evaluate_fame``: 4 conditions x T trials, B identity-bootstrap replicates, vs the
  straightforward loop (one ``sklearn.metrics.roc_curve`` + ``brentq`` EER per replicate
  and condition, on resampled trials), timed on a few replicates and scaled to B.

Absolute times are noisy on a shared machine; the ratio is the robust figure.

    python benchmarks/bench_fame.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _conditions(t: int, n_id: int, seed: int = 0) -> list:  # type: ignore[type-arg]
    from vfbench.evaluate.fame import FameCondition

    rng = np.random.default_rng(seed)
    out = []
    for tr in ("English", "Urdu"):
        for te in ("English", "Urdu"):
            y = rng.integers(0, 2, t)
            s = rng.normal(size=t) + (1 - y)
            cl = np.array([f"p{k}" for k in rng.integers(0, n_id, t)])
            out.append(FameCondition(tr, te, np.arange(t).astype(str), s, y, cl))
    return out


def loop_eer_bootstrap(conds: list, n_boot: int, seed: int = 0) -> float:  # type: ignore[type-arg]
    """Seconds for ``n_boot`` replicates the plain way (resample identities, rebuild the
    trial set, sklearn ROC + brentq per condition)."""
    from scipy.interpolate import interp1d
    from scipy.optimize import brentq
    from sklearn import metrics

    rng = np.random.default_rng(seed)
    ids = np.unique(np.concatenate([c.clusters for c in conds]))
    t0 = time.perf_counter()
    for _ in range(n_boot):
        draw = rng.choice(ids, ids.size)
        for c in conds:
            idx = np.concatenate([np.flatnonzero(c.clusters == i) for i in draw])
            fpr, tpr, _ = metrics.roc_curve(c.labels[idx], -c.scores[idx])
            brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)  # noqa: B023
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    n = 2000 if a.quick else 20000
    t, b, n_id = (2000, 200, 50) if a.quick else (10000, 1000, 100)
    from vfbench.data.features import import_features, read_feature_file
    from vfbench.evaluate.fame import evaluate_fame

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        who = np.array([f"p{k:04d}" for k in rng.integers(0, 500, n)])
        np.savez(d / "v.npz", features=rng.normal(size=(n, 512)).astype(np.float32),
                 ids=[f"v{i}" for i in range(n)], identities=who)  # fmt: skip
        np.savez(d / "f.npz", features=rng.normal(size=(n, 4096)).astype(np.float32),
                 ids=[f"f{i}" for i in range(n)], identities=who)  # fmt: skip
        t0 = time.perf_counter()
        import_features(d / "v.npz", d / "f.npz", d / "out")
        dt = time.perf_counter() - t0
        print(f"import npz      : {n} voices x 512 + {n} faces x 4096 in {dt:.2f} s "
              f"({2 * n / dt:,.0f} rows/s)")  # fmt: skip
        m = n // 10
        np.savetxt(d / "c.csv", rng.normal(size=(m, 512)), delimiter=",", fmt="%.6f")
        (d / "c.txt").write_text("".join(f"i{k} p{k % 50}\n" for k in range(m)), "utf-8")
        t0 = time.perf_counter()
        read_feature_file(d / "c.csv", d / "c.txt")
        dt = time.perf_counter() - t0
        print(f"read csv        : {m} rows x 512 in {dt:.2f} s ({m / dt:,.0f} rows/s)")
    conds = _conditions(t, n_id)
    t0 = time.perf_counter()
    evaluate_fame(conds, n_boot=b)
    ours = time.perf_counter() - t0
    k = 5 if a.quick else 10
    loop = loop_eer_bootstrap(conds, k) * b / k
    print(f"evaluate_fame   : 4 x {t} trials, {b} replicates in {ours:.2f} s; "
          f"loop (sklearn+brentq per replicate, {k} timed, scaled) {loop:.1f} s; "
          f"speed-up {loop / ours:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
