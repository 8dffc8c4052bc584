"""Optional compiled kernel for scoring millions of (voice, face) pairs.

numpy can only score gathered pairs by first copying both rows of every pair
(``v[vi]``, ``f[fi]``) and then reducing them: the copies are most of the cost. The
kernel here computes each pair's dot product straight from the two embedding tables,
on every core, with a SIMD reduction. It is compiled by numba (already installed as a
dependency of librosa/resemblyzer) on first use and cached on disk when the package
folder is writable; without numba, or with ``VFBENCH_NUMBA=0``, scoring falls back to
the numpy path, which gives the same values up to float32 rounding of the sum.

The reduction is reassociated (SIMD lanes), so its last bits differ from numpy's; each
pair is computed by one thread, so the result does not depend on the thread count.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

_LOCK = threading.Lock()
_KERNEL: dict[str, Any] = {}


def _make_pair_dots(prange: Any) -> Callable[..., None]:
    """The kernel's Python source (``numba.prange`` bound as a closure, so that importing
    this module does not import numba).

    ``pair_dots(v, f, vi, fi, shift, nt, out)``: ``out[p] = v[vi[p]] . f[fi[p]]``. Pairs are
    visited grouped by (voice tile, face tile) of ``2**shift`` rows each - a parallel
    counting sort over ``nt`` chunks, O(pairs) - so the rows a thread reads stay in its
    cache; each thread then takes a contiguous run of that order, and the results are
    scattered back.
    """

    def pair_dots(v: Any, f: Any, vi: Any, fi: Any, shift: int, nt: int, out: Any) -> None:
        n = vi.size
        n_ft = ((f.shape[0] - 1) >> shift) + 1
        n_bins = (((v.shape[0] - 1) >> shift) + 1) * n_ft
        chunk = (n + nt - 1) // nt
        hist = np.zeros((nt, n_bins), np.int64)
        for t in prange(nt):
            for p in range(t * chunk, min(n, (t + 1) * chunk)):
                hist[t, (vi[p] >> shift) * n_ft + (fi[p] >> shift)] += 1
        pos = 0
        for k in range(n_bins):  # exclusive prefix sum, bin-major then thread
            for t in range(nt):
                c = hist[t, k]
                hist[t, k] = pos
                pos += c
        vs = np.empty(n, np.int32)
        fs = np.empty(n, np.int32)
        order = np.empty(n, np.int64)
        for t in prange(nt):
            for p in range(t * chunk, min(n, (t + 1) * chunk)):
                k = (vi[p] >> shift) * n_ft + (fi[p] >> shift)
                j = hist[t, k]
                hist[t, k] = j + 1
                vs[j] = vi[p]
                fs[j] = fi[p]
                order[j] = p
        d = v.shape[1]
        res = np.empty(n, np.float32)
        for j in prange(n):
            a = v[vs[j]]
            b = f[fs[j]]
            s = np.float32(0.0)
            for k in range(d):
                s += a[k] * b[k]
            res[j] = s
        for j in prange(n):
            out[order[j]] = res[j]

    return pair_dots


def enabled() -> bool:
    """False when ``VFBENCH_NUMBA`` is 0/false/no/off."""
    return os.environ.get("VFBENCH_NUMBA", "1").strip().lower() not in ("0", "false", "no", "off")


def pair_dots_kernel() -> Callable[..., None] | None:
    """The compiled ``pair_dots(v, f, vi, fi, out)``, or None without numba (or disabled)."""
    if not enabled():
        return None
    with _LOCK:
        if "fn" in _KERNEL:
            return _KERNEL["fn"]
        fn: Callable[..., None] | None = None
        try:
            import numba
        except Exception:  # absent or broken numba: numpy path
            _KERNEL["fn"] = None
            return None
        flags = {"reassoc", "contract"}  # SIMD reduction + FMA; NaN/inf semantics kept
        for cache in (True, False):
            try:
                jit = numba.njit(parallel=True, fastmath=flags, cache=cache, nogil=True)
                fn = jit(_make_pair_dots(numba.prange))
                # compile now (for the float32/int64 signature used by pair_scores)
                z = np.zeros((1, 1), np.float32)
                i = np.zeros(1, np.int64)
                fn(z, z, i, i, 6, 1, np.zeros(1, np.float32))
                break
            except Exception:  # e.g. no writable cache folder: retry uncached
                fn = None
        _KERNEL["fn"] = fn
        return fn


def pair_dots(
    v: np.ndarray, f: np.ndarray, vi: np.ndarray, fi: np.ndarray, threads: int, shift: int = 6
) -> np.ndarray | None:
    """``out[p] = v[vi[p]] . f[fi[p]]`` (float32) with the kernel, or None if unavailable.

    Tiles of ``2**shift`` rows (64: a tile pair's 2 x 64 rows of 512 floats fit in L2).
    Indices must be in range (the caller checks: the kernel does not)."""
    if max(v.shape[0], f.shape[0]) >= 2**31:  # the kernel's sorted indices are int32
        return None
    fn = pair_dots_kernel()
    if fn is None:
        return None
    import numba

    out = np.empty(vi.size, dtype=np.float32)
    old = numba.get_num_threads()
    nt = max(1, min(threads, int(numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    numba.set_num_threads(nt)
    try:
        fn(
            np.ascontiguousarray(v, dtype=np.float32),
            np.ascontiguousarray(f, dtype=np.float32),
            np.ascontiguousarray(vi, dtype=np.int64),
            np.ascontiguousarray(fi, dtype=np.int64),
            int(shift),
            nt,
            out,
        )
    finally:
        numba.set_num_threads(old)
    return out
