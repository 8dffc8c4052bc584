"""Optional compiled kernels for scoring millions of (voice, face) pairs, and for the
bootstrap and retrieval loops.

numpy can only score gathered pairs by first copying both rows of every pair
(``v[vi]``, ``f[fi]``) and then reducing them: the copies are most of the cost. The pair
kernel computes each pair's dot product straight from the two embedding tables, on every
core, with a SIMD reduction, visiting the pairs grouped by (voice tile, face tile) so the
rows stay in cache. Two implementations, tried in this order:

* faiss's ``pairwise_indexed_inner_product`` (``faiss-cpu``, a dependency): a compiled
  library, so nothing is compiled or loaded at run time beyond its ~0.1 s import;
  ``VFBENCH_FAISS=0`` skips it;
* a numba kernel (:func:`_make_pair_dots`): compiled on first use and cached on disk when
  the package folder is writable; its first use in a process costs ~0.3 s to import
  numba and ~0.4 s to set up its CPU target (the other kernels here are numba only).

Without either, or with ``VFBENCH_NUMBA=0`` (every compiled path off), scoring falls back
to the numpy path, which gives the same values up to float32 rounding of the sum.

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
_PREFETCH_LOCK = threading.Lock()
_PREFETCHED: set[str] = set()  # kernels a prefetch thread was started for
_CALLS = [0]  # compiled pair_dots calls in this process (provenance: which path ran)
_LAST_PAIR_PATH = [""]  # "faiss <version>" or "numba <version>": the last compiled pair call
_FAISS: list[Any] = []  # [module or None] once tried


def compiled_calls() -> int:
    """How many times the compiled pair kernel has run in this process."""
    return _CALLS[0]


def scoring_path(calls_before: int) -> str:
    """Which scoring path ran since ``compiled_calls()`` was ``calls_before``: the compiled
    kernel (with numba's version), or numpy (and why)."""
    if _CALLS[0] > calls_before:
        return f"compiled kernel ({_LAST_PAIR_PATH[0]})"
    if not enabled():
        return "numpy (VFBENCH_NUMBA disables the kernel)"
    if _KERNEL.get("pair_dots", True) is None:
        return "numpy (numba unavailable)"
    return "numpy (inputs below the kernel's size threshold)"


def _make_pair_dots(prange: Any) -> Callable[..., None]:
    """The kernel's Python source (``numba.prange`` bound as a closure, so that importing
    this module does not import numba).

    ``pair_dots(v, f, vi, fi, iv, jf, vshift, fshift, nt, out)``:
    ``out[p] = (v[vi[p]] . f[fi[p]]) * iv[vi[p]] * jf[fi[p]]`` (``iv``/``jf``: per-row
    factors, the inverse norms for cosine, else ones).
    Pairs are visited grouped by (voice tile, face tile) of ``2**vshift`` x ``2**fshift``
    rows - a parallel counting sort over ``nt`` chunks, O(pairs) - so the rows a thread
    reads stay in its caches; each thread then takes a contiguous run of that order and
    writes each result to its pair's place.
    """

    def pair_dots(
        v: Any,
        f: Any,
        vi: Any,
        fi: Any,
        iv: Any,
        jf: Any,
        vshift: int,
        fshift: int,
        nt: int,
        out: Any,
    ) -> None:  # pragma: no cover - compiled
        n = vi.size
        n_ft = ((f.shape[0] - 1) >> fshift) + 1
        n_bins = (((v.shape[0] - 1) >> vshift) + 1) * n_ft
        chunk = (n + nt - 1) // nt
        hist = np.zeros((nt, n_bins), np.int64)
        for t in prange(nt):
            for p in range(t * chunk, min(n, (t + 1) * chunk)):
                hist[t, (vi[p] >> vshift) * n_ft + (fi[p] >> fshift)] += 1
        pos = 0
        for k in range(n_bins):  # exclusive prefix sum, bin-major then thread
            for t in range(nt):
                c = hist[t, k]
                hist[t, k] = pos
                pos += c
        vs = np.empty(n, np.int32)
        fs = np.empty(n, np.int32)
        order = np.empty(n, np.int32)
        for t in prange(nt):
            for p in range(t * chunk, min(n, (t + 1) * chunk)):
                k = (vi[p] >> vshift) * n_ft + (fi[p] >> fshift)
                j = hist[t, k]
                hist[t, k] = j + 1
                vs[j] = vi[p]
                fs[j] = fi[p]
                order[j] = p
        d = v.shape[1]
        for j in prange(n):
            a = v[vs[j]]
            b = f[fs[j]]
            s = np.float32(0.0)
            for k in range(d):
                s += a[k] * b[k]
            out[order[j]] = s * iv[vs[j]] * jf[fs[j]]

    return pair_dots


def _make_inv_norms(prange: Any) -> Callable[..., None]:
    """``inv_norms(x, out)``: ``out[i] = 1 / max(||x[i]||, 1e-12)`` (float32), parallel."""

    def inv_norms(x: Any, out: Any) -> None:  # pragma: no cover - compiled
        d = x.shape[1]
        for i in prange(x.shape[0]):
            a = x[i]
            s = np.float32(0.0)
            for k in range(d):
                s += a[k] * a[k]
            out[i] = np.float32(1.0) / max(np.sqrt(s), np.float32(1e-12))

    return inv_norms


def _make_ratio_sums(prange: Any) -> Callable[..., None]:
    """``ratio_sums(wt, roles, v, d, num, den)``: for every bootstrap replicate b,
    ``num[b] = sum_t x_bt v[t]`` and ``den[b] = sum_t x_bt d[t]`` with the trial weight
    ``x_bt = prod_j wt[roles[t, j], b]`` over the roles >= 0 (all-roles identity
    bootstrap). ``wt`` is (I, B): a trial's weights over a block of 32 replicates are
    contiguous, so the inner loops are SIMD; blocks run on every core. The (B, T) weight
    matrix is never materialised."""

    def ratio_sums(wt: Any, roles: Any, v: Any, d: Any, num: Any, den: Any) -> None:
        n_b = wt.shape[1]
        n_t = roles.shape[0]
        k = roles.shape[1]
        step = 32
        for c in prange((n_b + step - 1) // step):  # pragma: no cover - compiled
            b0 = c * step
            m = min(n_b, b0 + step) - b0
            x = np.empty(m)
            sn = np.zeros(m)
            sd = np.zeros(m)
            for t in range(n_t):
                r = roles[t, 0]
                for i in range(m):
                    x[i] = wt[r, b0 + i]
                for j in range(1, k):
                    r = roles[t, j]
                    if r >= 0:
                        for i in range(m):
                            x[i] *= wt[r, b0 + i]
                vt = v[t]
                dt = d[t]
                for i in range(m):
                    sn[i] += x[i] * vt
                    sd[i] += x[i] * dt
            for i in range(m):
                num[b0 + i] = sn[i]
                den[b0 + i] = sd[i]

    return ratio_sums


def _make_verify_reps(prange: Any) -> Callable[..., None]:
    """``verify_reps(w, codes, y, last, n_k, fars, auc, eer, tar)``: AUC, EER and TAR@FAR
    of every identity-bootstrap replicate of one verification list, with exactly the
    formulas of :func:`~vfbench.evaluate.metrics.roc` and its readers.

    ``w`` (B, I + 1) identity multiplicities of the replicates, column I all ones (the
    "no identity" of an empty role); ``codes`` (P, k) identity codes of each pair's roles
    *in descending score order* (I = none); ``y`` (P,) labels in that order, as 1.0 / 0.0;
    ``last`` (P,) 1 at the last pair of each of the ``n_k`` tie groups, else 0. A pair's
    weight is the product of its roles' multiplicities, formed on the fly: the (B, P)
    matrix is never built. Each replicate is one thread's branch-free pass over the pairs
    in score order - ``x * y`` and ``x * (1 - y)`` add exact zeros, sequential sums like
    ``np.cumsum``, each pair storing the running sums at its group's slot (the group's
    last pair leaves them there) - then a pass over the K points: the ROC of ``roc``, the
    trapezoid, the interpolated EER crossing and the best TPR at FPR <= FAR. Only the
    AUC's sum over the points runs in another order than numpy's pairwise sum. A
    replicate without positive or without negative weight is NaN everywhere. Replicates
    are split into contiguous runs, each with its own (K + 1,) buffers."""

    def verify_reps(
        w: Any, codes: Any, y: Any, last: Any, n_k: int, fars: Any, auc: Any, eer: Any, tar: Any
    ) -> None:  # pragma: no cover - compiled
        n_b = w.shape[0]
        n_p = codes.shape[0]
        k = codes.shape[1]
        n_f = fars.size
        nt = min(n_b, 64)
        chunk = (n_b + nt - 1) // nt
        for c in prange(nt):
            tpk = np.empty(n_k + 1)
            fpk = np.empty(n_k + 1)
            for b in range(c * chunk, min(n_b, (c + 1) * chunk)):
                wb = w[b]
                tp = 0.0
                fp = 0.0
                g = 0
                if k == 2:
                    for p in range(n_p):
                        x = wb[codes[p, 0]] * wb[codes[p, 1]]
                        tp += x * y[p]
                        fp += x * (1.0 - y[p])
                        tpk[g] = tp
                        fpk[g] = fp
                        g += last[p]
                else:
                    for p in range(n_p):
                        x = wb[codes[p, 0]]
                        for j in range(1, k):
                            x *= wb[codes[p, j]]
                        tp += x * y[p]
                        fp += x * (1.0 - y[p])
                        tpk[g] = tp
                        fpk[g] = fp
                        g += last[p]
                if not (tp > 0.0 and fp > 0.0):
                    auc[b] = np.nan
                    eer[b] = np.nan
                    for f in range(n_f):
                        tar[b, f] = np.nan
                    continue
                for f in range(n_f):
                    tar[b, f] = 0.0
                t0 = 0.0  # previous ROC point, from (0, 0)
                f0 = 0.0
                d0 = 1.0  # (1 - tpr) - fpr at the previous point
                area = 0.0
                e = np.nan
                found = False
                for g in range(n_k):
                    t1 = tpk[g] / tp
                    f1 = fpk[g] / fp
                    area += (f1 - f0) * (t1 + t0) / 2
                    if not found:
                        d1 = (1.0 - t1) - f1
                        if d1 <= 0:
                            u = d0 / (d0 - d1) if d0 - d1 > 0 else 0.0
                            e = f0 + u * (f1 - f0)
                            found = True
                        else:
                            d0 = d1
                    for f in range(n_f):
                        if f1 <= fars[f] + 1e-12 and t1 > tar[b, f]:
                            tar[b, f] = t1
                    t0 = t1
                    f0 = f1
                auc[b] = area
                eer[b] = e

    return verify_reps


def _make_rank_counts(prange: Any) -> Callable[..., None]:
    """The retrieval counting kernel (``numba.prange`` bound as a closure).

    ``rank_counts(s, col_pos, rel_val, rel_pos, rel_mask, stable, n_gt, n_ge, before)``,
    per query row ``q`` of the score block ``s`` (Q, G) float32 and each of its relevant
    items ``m`` where ``rel_mask[q, m]`` (padding elsewhere: counts 0), of score
    ``r_m = rel_val[q, m]`` (taken by the caller from the very matrix it compares against,
    so that a tie is a tie) and gallery position ``rel_pos[q, m]``:

    * ``n_gt[q, m]`` = #{j : s[q, j] > r_m},
    * ``n_ge[q, m]`` = #{j : s[q, j] >= r_m} (the item itself included),
    * ``before[q, m]`` (only when ``stable``) = #{j : s[q, j] == r_m and
      col_pos[j] < rel_pos[q, m]}: the equal scores ahead of the item in a stable
      descending sort with the columns in gallery order (``col_pos`` (G,): each column's
      gallery position; the item's own column has its position and is not counted).

    The block may be part of a gallery (a streamed gallery block): the caller sums the
    counts over blocks.

    Every ranking statistic (both APs, p@k, R-precision, recall@k) is a function of these
    counts, so no row is sorted: the R relevant scores are sorted (R ~ 100) and each of the
    G gallery scores is placed among them by a binary search, O(G log R) per row instead
    of O(G log G). Two histograms over the R + 1 places - ``lt`` (by the number of relevant
    scores strictly below x) and ``le`` (below or equal) - give the counts by suffix sums:
    x > r_m exactly when more than m sorted relevant scores are < x. Exact float
    comparisons: ties are counted, never approximated. Rows run in parallel, one thread
    per row, so the result does not depend on the thread count. NaN scores count as below
    every relevant score (scores are finite: cosine/dot of finite vectors, callables are
    checked).

    To extend it (e.g. counts per gallery identity for an identity bootstrap), add an
    output indexed by the column's identity and increment it where ``lt``/``le`` are
    incremented; the loop structure stays.
    """

    def rank_counts(
        s: Any,
        col_pos: Any,
        rel_val: Any,
        rel_pos: Any,
        rel_mask: Any,
        stable: bool,
        n_gt: Any,
        n_ge: Any,
        before: Any,
    ) -> None:  # pragma: no cover - compiled
        q_n, g = s.shape
        for q in prange(q_n):
            real = np.flatnonzero(rel_mask[q])  # the real relevant entries of this row
            r = real.size
            if r == 0:
                continue
            row = s[q]
            vals = rel_val[q][real]
            o = np.argsort(vals)
            order = real[o]  # relevant entries by ascending score
            sr = vals[o]
            rpos = rel_pos[q][order]  # gallery positions of the sorted relevant items
            lt = np.zeros(r + 1, np.int64)
            le = np.zeros(r + 1, np.int64)
            bf = np.zeros(r, np.int64)
            lo = sr[0]
            hi = sr[r - 1]
            for j in range(g):
                x = row[j]
                if not x >= lo:  # below every relevant score (or NaN): counts nothing
                    continue
                if x > hi:
                    lt[r] += 1
                    le[r] += 1
                    continue
                a = 0  # a = number of sorted relevant scores < x (lower bound)
                b = r
                while a < b:
                    mid = (a + b) >> 1
                    if sr[mid] < x:
                        a = mid + 1
                    else:
                        b = mid
                u = a
                while u < r and sr[u] == x:  # equal relevant scores (rare)
                    if stable and col_pos[j] < rpos[u]:
                        bf[u] += 1
                    u += 1
                lt[a] += 1
                le[u] += 1
            c_gt = 0
            c_ge = 0
            for m in range(r - 1, -1, -1):  # suffix sums: places > m
                c_gt += lt[m + 1]
                c_ge += le[m + 1]
                k = order[m]
                n_gt[q, k] = c_gt
                n_ge[q, k] = c_ge
                before[q, k] = bf[m]

    return rank_counts


def _make_column_counts(prange: Any) -> Callable[..., None]:
    """The counting kernel of :func:`_make_rank_counts` with the queries in the *columns*
    of the block, accumulated over row blocks (one score matrix serves both retrieval
    directions: its rows rank the faces for each voice, its columns the voices for each
    face).

    ``column_counts(s, row_pos, srt, spos, nrel, stable, lt, le, bf)``: ``s`` (B, N) a
    block of rows (gallery items at gallery positions ``row_pos`` (B,)) x N query columns;
    ``srt`` (N, R) each column's relevant scores sorted ascending (the first ``nrel[j]``
    real), ``spos`` (N, R) their gallery positions. Adds to the histograms ``lt`` / ``le``
    (N, R + 1) - per column, the number of gallery scores with exactly p relevant scores
    strictly below (``lt``) / below or equal (``le``) - and to ``bf`` (N, R) the equal
    scores ahead in gallery order (when ``stable``). After the last block, suffix sums of
    ``lt`` / ``le`` give n_gt / n_ge as in ``rank_counts``. Columns run in tiles of 128,
    one thread per tile: the tile's histograms stay in cache, the result does not depend
    on the thread count.
    """

    def column_counts(
        s: Any,
        row_pos: Any,
        srt: Any,
        spos: Any,
        nrel: Any,
        stable: bool,
        lt: Any,
        le: Any,
        bf: Any,
    ) -> None:  # pragma: no cover - compiled
        b_n, n = s.shape
        tile = 128
        lo = np.empty(n, np.float32)  # each column's lowest / highest relevant score,
        hi = np.empty(n, np.float32)  # contiguous: the common case is one compare
        for j in range(n):
            r = nrel[j]
            lo[j] = srt[j, 0] if r > 0 else np.inf
            hi[j] = srt[j, r - 1] if r > 0 else np.inf
        for t in prange((n + tile - 1) // tile):
            j0 = t * tile
            j1 = min(n, j0 + tile)
            for i in range(b_n):
                for j in range(j0, j1):
                    x = s[i, j]
                    if not x >= lo[j]:  # below every relevant score (or no relevant item)
                        continue
                    r = nrel[j]
                    if x > hi[j]:
                        lt[j, r] += 1
                        le[j, r] += 1
                        continue
                    a = 0
                    b = r
                    while a < b:
                        mid = (a + b) >> 1
                        if srt[j, mid] < x:
                            a = mid + 1
                        else:
                            b = mid
                    u = a
                    while u < r and srt[j, u] == x:
                        if stable and row_pos[i] < spos[j, u]:
                            bf[j, u] += 1
                        u += 1
                    lt[j, a] += 1
                    le[j, u] += 1

    return column_counts


def _count_distinct_py(idx: Any, n: int) -> int:  # pragma: no cover - compiled
    seen = np.zeros(n, np.bool_)
    c = 0
    for i in range(idx.size):
        if not seen[idx[i]]:
            seen[idx[i]] = True
            c += 1
    return c


def enabled() -> bool:
    """False when ``VFBENCH_NUMBA`` is 0/false/no/off."""
    return os.environ.get("VFBENCH_NUMBA", "1").strip().lower() not in ("0", "false", "no", "off")


def _compile(name: str) -> Callable[..., Any] | None:
    """Kernel ``name`` compiled once per process (numba's disk cache when writable)."""
    if not enabled():
        return None
    with _LOCK:
        if name in _KERNEL:
            return _KERNEL[name]
        try:
            import numba
        except Exception:  # absent or broken numba: numpy path
            _KERNEL[name] = None
            return None
        fn: Callable[..., Any] | None = None
        z = np.zeros((1, 1), np.float32)
        i = np.zeros(1, np.int32)
        for cache in (True, False):
            try:
                flags = {"reassoc", "contract"}  # SIMD reduction + FMA; NaN/inf kept
                jit = numba.njit(parallel=True, fastmath=flags, cache=cache, nogil=True)
                one = np.ones(1, np.float32)
                if name == "pair_dots":
                    fn = jit(_make_pair_dots(numba.prange))
                    fn(z, z, i, i, one, one, 10, 4, 1, np.zeros(1, np.float32))  # compile now
                elif name == "ratio_sums":
                    fn = jit(_make_ratio_sums(numba.prange))
                    one64 = np.ones(1)
                    fn(np.ones((1, 1)), np.zeros((1, 1), np.int32), one64, one64, one64, one64)
                elif name == "verify_reps":  # exact arithmetic: no fastmath
                    fn = numba.njit(parallel=True, cache=cache, nogil=True)(
                        _make_verify_reps(numba.prange)
                    )
                    one64 = np.ones(1)
                    fn(
                        np.ones((1, 2)),
                        np.zeros((1, 1), np.int32),
                        one64,
                        np.ones(1, np.int64),
                        1,
                        one64,
                        one64.copy(),
                        one64.copy(),
                        np.ones((1, 1)),
                    )
                elif name == "rank_counts":
                    fn = jit(_make_rank_counts(numba.prange))
                    i2 = np.zeros((1, 1), np.int64)
                    fn(z, np.zeros(1, np.int64), z, i2, np.ones((1, 1), np.bool_), True,
                       i2.copy(), i2.copy(), i2.copy())  # fmt: skip
                elif name == "column_counts":
                    fn = jit(_make_column_counts(numba.prange))
                    i2 = np.zeros((1, 2), np.int64)
                    fn(z, np.zeros(1, np.int64), z, np.zeros((1, 1), np.int64),
                       np.ones(1, np.int64), True, i2, i2.copy(), i2[:, :1].copy())  # fmt: skip
                elif name == "inv_norms":
                    fn = jit(_make_inv_norms(numba.prange))
                    fn(z, np.zeros(1, np.float32))
                else:
                    fn = numba.njit(cache=cache, nogil=True)(_count_distinct_py)
                    fn(i, 1)
                break
            except Exception:  # e.g. no writable cache folder: retry uncached
                fn = None
        _KERNEL[name] = fn
        return fn


def prefetch(*names: str) -> threading.Thread | None:
    """Load (or compile) kernels ``names`` on a background thread and return it (None when
    there is nothing to do). The first call of a process spends ~0.3 s importing numba and
    ~0.5 s initialising its CPU target before a cached kernel runs; started while the
    inputs are still being read (mostly GIL-free numpy work and hashing), that time is
    taken off the critical path on a second core. A later call that needs a kernel waits
    for the same lock, so nothing is compiled twice; failures fall back exactly as
    :func:`_compile` does. The thread is not a daemon: the process exits after it."""
    if not enabled():
        return None
    with _PREFETCH_LOCK:  # not _LOCK: a compile in progress holds that one for ~1 s
        todo = [n for n in names if n not in _KERNEL and n not in _PREFETCHED]
        _PREFETCHED.update(todo)
    if not todo:
        return None

    def work() -> None:
        for name in todo:
            _compile(name)

    th = threading.Thread(target=work, name="vfbench-kernel-prefetch")
    th.start()
    return th


def pair_dots_kernel() -> Callable[..., Any] | None:
    """The compiled ``pair_dots`` kernel, or None without numba (or when disabled)."""
    return _compile("pair_dots")


def ratio_sums(
    w: np.ndarray, roles: np.ndarray, v: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Compiled all-roles bootstrap sums (see :func:`_make_ratio_sums`), or None without
    the kernel. ``w`` (B, I) multiplicities, ``roles`` (T, k) codes (-1 = none)."""
    fn = _compile("ratio_sums")
    if fn is None:
        return None
    num = np.empty(w.shape[0])
    den = np.empty(w.shape[0])
    fn(
        np.ascontiguousarray(np.asarray(w, dtype=np.float64).T),
        np.ascontiguousarray(roles, dtype=np.int32),
        np.ascontiguousarray(v, dtype=np.float64),
        np.ascontiguousarray(d, dtype=np.float64),
        num,
        den,
    )
    return num, den


def verify_reps_kernel() -> Callable[..., Any] | None:
    """The compiled ``verify_reps`` kernel, or None without numba (or when disabled)."""
    return _compile("verify_reps")


def verify_reps(
    w: np.ndarray,
    codes: np.ndarray,
    labels: np.ndarray,
    ends: np.ndarray,
    fars: tuple[float, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Compiled verification bootstrap (see :func:`_make_verify_reps`), or None without the
    kernel: ``(auc (B,), eer (B,), tar (B, len(fars)))``. ``w`` (B, I) multiplicities;
    ``codes`` (P, k) role codes, ``labels`` (P,) and ``ends`` (K,) in descending score
    order. Codes must lie in [0, I) (column 0) or [-1, I) (the others, -1 = none): not
    checked here."""
    fn = _compile("verify_reps")
    if fn is None:
        return None
    n_b, n_i = w.shape
    ext = np.ones((n_b, n_i + 1))
    ext[:, :n_i] = w
    c = np.asarray(codes)
    c = np.where(c < 0, n_i, c).astype(np.int32)
    last = np.zeros(c.shape[0], np.int64)
    last[np.asarray(ends)] = 1
    auc = np.empty(n_b)
    eer = np.empty(n_b)
    tar = np.empty((n_b, len(fars)))
    fn(
        ext,
        np.ascontiguousarray(c),
        np.asarray(labels, dtype=bool).astype(np.float64),
        last,
        int(np.asarray(ends).size),
        np.asarray(fars, dtype=np.float64).reshape(-1),
        auc,
        eer,
        tar,
    )
    return auc, eer, tar


def count_distinct(idx: np.ndarray, n: int) -> int | None:
    """Number of distinct values of int32 ``idx`` (all in [0, n)), or None (no kernel)."""
    if idx.dtype != np.int32:
        return None
    fn = _compile("count_distinct")
    if fn is None:
        return None
    return int(fn(np.ascontiguousarray(idx).reshape(-1), int(n)))


def faiss_module() -> Any:
    """faiss (imported once per process), or None when absent, broken, or switched off
    (``VFBENCH_FAISS=0``, or ``VFBENCH_NUMBA=0``: every compiled path off)."""
    off = os.environ.get("VFBENCH_FAISS", "1").strip().lower() in ("0", "false", "no", "off")
    if off or not enabled():
        return None
    if not _FAISS:
        with _LOCK:
            if not _FAISS:
                try:
                    import faiss

                    if not hasattr(faiss, "pairwise_indexed_inner_product"):
                        raise ImportError("faiss without pairwise_indexed_inner_product")
                    _FAISS.append(faiss)
                except Exception:  # absent or broken: the numba kernel, then numpy
                    _FAISS.append(None)
    return _FAISS[0]


def inverse_norms(x: np.ndarray, block: int = 1024) -> np.ndarray:
    """(N,) float32 ``1 / |x_n|`` (0 for a zero row), by row blocks that stay in cache."""
    out = np.empty(x.shape[0], np.float32)
    for a in range(0, x.shape[0], block):
        xb = x[a : a + block]
        n = np.sqrt(np.einsum("nd,nd->n", xb, xb, dtype=np.float32))
        with np.errstate(divide="ignore"):
            out[a : a + block] = np.where(n > 0, 1.0 / n, 0.0)
    return out


#: Pairs per faiss call: the tile sort, the int64 index copies and the result of one chunk
#: stay ~100 MB however long the list (~26 bytes per pair).
_FAISS_CHUNK = 1 << 22


def _faiss_pair_dots(
    faiss: Any, v: np.ndarray, f: np.ndarray, vi: np.ndarray, fi: np.ndarray, threads: int,
    cosine: bool,
) -> np.ndarray:  # fmt: skip
    """:func:`pair_dots` by faiss: pairs grouped by (voice tile, face tile) with a radix
    sort of the tile keys (O(pairs)), scored by ``pairwise_indexed_inner_product`` (OpenMP,
    one pair per thread) and put back in order. Voice tiles of ~4 MB and face tiles of 8
    rows measured fastest on the 2-core development machine (1M 1:2 trials over 20k x 20k
    items at D = 512: 0.12 s, the numba kernel 0.17 s)."""
    v = np.ascontiguousarray(v, dtype=np.float32)
    f = np.ascontiguousarray(f, dtype=np.float32)
    d = v.shape[1]
    vshift = max(4, int(np.log2(max(1, (4 << 20) // (4 * max(d, 1))))))
    fshift = 3
    n_vt = ((v.shape[0] - 1) >> vshift) + 1
    while n_vt * (((f.shape[0] - 1) >> fshift) + 1) >= 1 << 16 and fshift < 30:
        fshift += 1  # keep the tile keys 16-bit: numpy sorts those by radix
    n_ft = ((f.shape[0] - 1) >> fshift) + 1
    out = np.empty(vi.size, dtype=np.float32)
    iv = inverse_norms(v) if cosine else None
    jf = inverse_norms(f) if cosine else None
    old = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, threads))
    try:
        for a in range(0, vi.size, _FAISS_CHUNK):
            cv, cf = vi[a : a + _FAISS_CHUNK], fi[a : a + _FAISS_CHUNK]
            key = (cv >> vshift).astype(np.uint16)  # tile keys < 2**16 (above)
            key *= n_ft
            key += (cf >> fshift).astype(np.uint16)
            order = np.argsort(key, kind="stable")  # radix sort of 16-bit keys, O(n)
            vs = cv[order]  # int64: faiss's index type
            fs = cf[order]
            dots = np.empty(order.size, dtype=np.float32)
            faiss.pairwise_indexed_inner_product(
                d, order.size, faiss.swig_ptr(v), faiss.swig_ptr(vs), faiss.swig_ptr(f),
                faiss.swig_ptr(fs), faiss.swig_ptr(dots),
            )  # fmt: skip
            if iv is not None and jf is not None:
                dots *= iv[vs]
                dots *= jf[fs]
            out[a : a + order.size][order] = dots
    finally:
        faiss.omp_set_num_threads(old)
    return out


def pair_dots(
    v: np.ndarray,
    f: np.ndarray,
    vi: np.ndarray,
    fi: np.ndarray,
    threads: int,
    cosine: bool = False,
    vshift: int = 10,
    fshift: int = 4,
) -> np.ndarray | None:
    """``out[p] = v[vi[p]] . f[fi[p]]`` (float32) compiled, or None if unavailable: faiss
    when it is there, else the numba kernel (module docstring).

    ``cosine``: divide by both rows' norms (zero rows score 0), so raw embeddings need no
    normalised copies.

    numba kernel tiles: ``2**vshift`` voices x ``2**fshift`` faces: 1024 x 16 measured
    fastest at D = 512 on the 2-core development machine (a face tile in L1, a voice tile
    in L2/L3). Indices must be in range (the caller checks: the kernels do not)."""
    if max(v.shape[0], f.shape[0], vi.size) >= 2**31:  # the kernels' indices are int32
        return None
    fz = faiss_module()
    if fz is not None and v.shape[1] > 0:
        vi64 = np.ascontiguousarray(vi, dtype=np.int64)
        fi64 = np.ascontiguousarray(fi, dtype=np.int64)
        out = _faiss_pair_dots(fz, v, f, vi64, fi64, threads, cosine)
        _CALLS[0] += 1
        _LAST_PAIR_PATH[0] = f"faiss {getattr(fz, '__version__', '?')}"
        return out
    fn = pair_dots_kernel()
    if fn is None:
        return None
    import numba

    norms = _compile("inv_norms") if cosine else None
    if cosine and norms is None:
        return None
    out = np.empty(vi.size, dtype=np.float32)
    old = numba.get_num_threads()
    nt = max(1, min(threads, int(numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    numba.set_num_threads(nt)
    try:
        v = np.ascontiguousarray(v, dtype=np.float32)
        f = np.ascontiguousarray(f, dtype=np.float32)
        iv = np.ones(v.shape[0], np.float32)
        jf = np.ones(f.shape[0], np.float32)
        if norms is not None:
            norms(v, iv)
            norms(f, jf)
        fn(
            v,
            f,
            np.ascontiguousarray(vi, dtype=np.int32),
            np.ascontiguousarray(fi, dtype=np.int32),
            iv,
            jf,
            int(vshift),
            int(fshift),
            nt,
            out,
        )
    finally:
        numba.set_num_threads(old)
    _CALLS[0] += 1
    _LAST_PAIR_PATH[0] = f"numba {numba.__version__}"
    return out


def rank_counts_kernel() -> Callable[..., Any] | None:
    """The compiled retrieval counting kernel, or None without numba (or when disabled)."""
    return _compile("rank_counts")


def column_counts_kernel() -> Callable[..., Any] | None:
    """The compiled column-counting kernel, or None without numba (or when disabled)."""
    return _compile("column_counts")


def rank_counts(
    s: np.ndarray,
    col_pos: np.ndarray,
    rel_val: np.ndarray,
    rel_pos: np.ndarray,
    rel_mask: np.ndarray,
    stable: bool,
    threads: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Counts ``(n_gt, n_ge, before)``, each (Q, R) int64, of the compiled retrieval kernel
    (see :func:`_make_rank_counts`), or None without the kernel.

    ``s`` (Q, G) scores (float32, made C-contiguous), ``col_pos`` (G,) each column's
    gallery position (the stable tie order), ``rel_val`` / ``rel_pos`` (Q, R) each relevant
    item's score and gallery position, real where ``rel_mask`` (Q, R)."""
    fn = rank_counts_kernel()
    if fn is None:
        return None
    import numba

    q, r = rel_mask.shape
    n_gt = np.zeros((q, r), np.int64)
    n_ge = np.zeros((q, r), np.int64)
    before = np.zeros((q, r), np.int64)
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, int(numba.config.NUMBA_NUM_THREADS))))  # type: ignore[attr-defined]
    try:
        fn(
            np.ascontiguousarray(s, dtype=np.float32),
            np.ascontiguousarray(col_pos, dtype=np.int64),
            np.ascontiguousarray(rel_val, dtype=np.float32),
            np.ascontiguousarray(rel_pos, dtype=np.int64),
            np.ascontiguousarray(rel_mask, dtype=np.bool_),
            bool(stable),
            n_gt,
            n_ge,
            before,
        )
    finally:
        numba.set_num_threads(old)
    return n_gt, n_ge, before


def column_counts(
    s: np.ndarray,
    row_pos: np.ndarray,
    srt: np.ndarray,
    spos: np.ndarray,
    nrel: np.ndarray,
    stable: bool,
    acc: tuple[np.ndarray, np.ndarray, np.ndarray],
    threads: int,
) -> bool:
    """Add one row block to the column histograms ``acc = (lt, le, bf)`` (see
    :func:`_make_column_counts`; int64, C-contiguous, (N, R+1), (N, R+1), (N, R)).
    False without the kernel (nothing added)."""
    fn = column_counts_kernel()
    if fn is None:
        return False
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, int(numba.config.NUMBA_NUM_THREADS))))  # type: ignore[attr-defined]
    try:
        fn(
            np.ascontiguousarray(s, dtype=np.float32),
            np.ascontiguousarray(row_pos, dtype=np.int64),
            srt,
            spos,
            nrel,
            bool(stable),
            *acc,
        )
    finally:
        numba.set_num_threads(old)
    return True
