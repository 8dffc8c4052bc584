"""Scores between voice and face embeddings: cosine (default), dot, negative L2, or a callable.

A *scorer* is a name from :data:`SCORERS` or any callable ``score(voices (a, D), faces
(b, D)) -> (a, b)`` similarity matrix (higher = more alike), so an external model can be
evaluated without vfbench knowing it. The voice argument always comes first, whatever the
task direction.

:func:`pair_scores` scores many (voice, face) index pairs with bounded memory. It picks one
of two vectorised strategies by estimated cost:

* *gather*: from 1M pairs the compiled kernel of :mod:`vfbench.evaluate._kernels`
  (cache-tiled, every core, no row copies; faiss, else numba), otherwise chunks of
  pairs, ``einsum`` of the gathered rows on worker threads (cost ~ pairs x D);
* *blocked matmul*: the distinct voices x distinct faces similarity matrix computed in row
  blocks of at most ``block_bytes`` and gathered (cost ~ n_voices x n_faces x D, at BLAS
  speed). Used whenever pairs repeat items heavily, and always for callables.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Union

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate import _kernels
from vfbench.utils.parallel import blas_single_thread_if_small

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
Scorer = Union[str, ScoreFn]  # noqa: UP007 - used at runtime in isinstance-free code
SCORERS = ("cosine", "dot", "l2")

# A BLAS matmul entry costs ~1/33 of a cache-tiled gathered pair (measured at D=512 on the
# 2-core dev box: 1M 1:2 trials over 10k x 10k items, matmul ~1.5x slower than the tiled
# gather at 2% density) - so use the matmul when pairs fill > 1/33 of the distinct-items grid.
_MATMUL_ADVANTAGE = 33.0


def _distinct(idx: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``idx`` (all in [0, n)) and each entry's rank among them.

    Like ``np.unique(idx, return_inverse=True)`` but O(n + len(idx)) without sorting.
    """
    present = _present(idx, n)
    uniq = np.flatnonzero(present)
    rank = np.cumsum(present, dtype=np.int64) - 1
    return uniq, rank[idx]


def _n_distinct(idx: np.ndarray, n: int) -> int:
    """Number of distinct values of ``idx`` (all in [0, n)), O(n + len(idx)). numpy's
    scatter costs ~3.5 ms per million indices, less than loading one more compiled kernel
    from numba's cache (~20-50 ms), so the kernel serves only very large index arrays."""
    if idx.size >= _DISTINCT_KERNEL_MIN:
        c = _kernels.count_distinct(idx, n)
        if c is not None:
            return c
    return int(np.count_nonzero(_present(idx, n)))


def _present(idx: np.ndarray, n: int) -> np.ndarray:
    """(n,) bool: which values of [0, n) occur in ``idx``."""
    present = np.zeros(n, dtype=bool)
    present[idx] = True
    return present


#: Rows per block of :func:`normalize` / :func:`take_rows` (~2 MB at D = 512: in cache)
_ROW_BLOCK = 1024


def normalize(x: np.ndarray, eps: float = 1e-12, rows: np.ndarray | None = None) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero). (N, D) float32 -> (N, D) float32;
    ``rows``: normalise ``x[rows]`` instead (one pass, no gathered copy first).

    Computed in row blocks that stay in cache (the whole-array expression faulted in two
    (N, D) temporaries: ~0.1 s for 2 x 20k x 512); each row's arithmetic is unchanged -
    ``x / max(sqrt(sum(x * x)), eps)`` with numpy's pairwise sum - so the same bits."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        x = x if rows is None else x[rows]
        n = np.sqrt(np.add.reduce(x * x, axis=-1, keepdims=True))
        return (x / np.maximum(n, eps)).astype(np.float32, copy=False)
    m = x.shape[0] if rows is None else int(np.asarray(rows).size)
    out = np.empty((m, x.shape[1]), dtype=np.float32)
    for a in range(0, m, _ROW_BLOCK):
        xb = x[a : a + _ROW_BLOCK] if rows is None else x[rows[a : a + _ROW_BLOCK]]
        n = np.sqrt(np.add.reduce(xb * xb, axis=-1, keepdims=True))
        np.divide(xb, np.maximum(n, eps), out=out[a : a + _ROW_BLOCK])
    return out


def take_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]`` as float32, by blocks; ``x`` itself when ``rows`` is 0..N-1 in order."""
    x = np.asarray(x, dtype=np.float32)
    if rows.size == x.shape[0] and (
        rows.size == 0 or (rows[0] == 0 and np.all(np.diff(rows) == 1))
    ):
        return x
    return x[rows]


def check_scorer(scorer: Scorer) -> None:
    if callable(scorer):
        return
    if scorer not in SCORERS:
        raise EvaluationError(
            f"unknown scorer {scorer!r}; use one of {list(SCORERS)} or a callable"
        )


def prepare(
    v: np.ndarray,
    f: np.ndarray,
    scorer: Scorer,
    vrows: np.ndarray | None = None,
    frows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors ready for scoring (cosine -> unit rows). Also checks the dimensions agree.
    ``vrows`` / ``frows``: use ``v[vrows]`` / ``f[frows]`` (gathered while normalising)."""
    check_scorer(scorer)
    v = np.asarray(v, dtype=np.float32)
    f = np.asarray(f, dtype=np.float32)
    if not callable(scorer) and v.shape[-1] != f.shape[-1]:
        raise EvaluationError(f"voice dim {v.shape[-1]} != face dim {f.shape[-1]}")
    if scorer == "cosine":
        return normalize(v, rows=vrows), normalize(f, rows=frows)
    return (
        v if vrows is None else take_rows(v, vrows),
        f if frows is None else take_rows(f, frows),
    )


def score_matrix(
    v: np.ndarray,
    f: np.ndarray,
    scorer: Scorer = "cosine",
    prepared: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """(a, D) voices x (b, D) faces -> (a, b) float32 scores.

    ``out``: a C-contiguous float32 (a, b) buffer to write them into (block loops reuse one
    buffer instead of faulting in fresh pages for every block); same values."""
    if not prepared:
        v, f = prepare(v, f, scorer)
    if callable(scorer):
        s = np.asarray(scorer(v, f), dtype=np.float32)
        if s.shape != (v.shape[0], f.shape[0]):
            raise EvaluationError(
                f"score callable returned shape {s.shape}, expected {(v.shape[0], f.shape[0])}"
            )
        if not np.all(np.isfinite(s)):
            raise EvaluationError("score callable returned NaN/inf scores")
        if out is not None:
            out[...] = s
            return out
        return s
    with blas_single_thread_if_small(v.shape[0] * f.shape[0] * v.shape[1]):
        s = np.matmul(v, f.T, out=out)
    if scorer == "l2":  # 2 v.f - |v|^2 - |f|^2, in place
        s *= 2.0
        s -= (v * v).sum(1)[:, None]
        s -= (f * f).sum(1)[None, :]
    return s if out is not None else s.astype(np.float32, copy=False)


def pair_scores(
    v: np.ndarray,
    f: np.ndarray,
    v_idx: np.ndarray,
    f_idx: np.ndarray,
    scorer: Scorer = "cosine",
    prepared: bool = False,
    block_bytes: int = 64 << 20,
    strategy: str = "auto",
) -> np.ndarray:
    """Scores of voice ``v[v_idx]`` against face ``f[f_idx]``; index arrays broadcast together.

    ``v`` (Nv, D), ``f`` (Nf, D); returns float32 with the broadcast shape of the indices.
    ``prepared``: the rows are already what ``scorer`` needs (unit rows for cosine).
    ``strategy``: ``auto`` | ``gather`` | ``matmul``. Peak extra memory ~ ``block_bytes``.
    Values agree across strategies up to float32 rounding of the sums.
    """
    # cosine on raw rows: the compiled kernel divides by the norms itself, so the
    # normalised copies are made only when another path needs them (below)
    raw_cosine = not prepared and scorer == "cosine"
    if not prepared:  # "dot" preparation = the same checks and float32 rows, unnormalised
        v, f = prepare(v, f, "dot" if raw_cosine else scorer)
    # int32 indices whenever the tables allow (half the memory traffic of the index passes)
    idt = np.int32 if max(v.shape[0], f.shape[0]) < 2**31 else np.int64
    a_v, a_f = np.asarray(v_idx).astype(idt, copy=False), np.asarray(f_idx).astype(idt, copy=False)
    vi, fi = np.broadcast_arrays(a_v, a_f)
    shape = vi.shape
    vi = vi.reshape(-1)
    fi = fi.reshape(-1)
    out = np.empty(vi.size, dtype=np.float32)
    if vi.size == 0:
        return out.reshape(shape)
    # range checks and distinct counts on the index arrays before broadcasting (same sets)
    if a_v.min() < 0 or a_f.min() < 0 or a_v.max() >= v.shape[0] or a_f.max() >= f.shape[0]:
        raise EvaluationError("item index out of range of the embeddings")
    d = v.shape[1]
    if strategy == "auto":
        if callable(scorer):
            strategy = "matmul"
        else:  # only the distinct counts decide: the ranks are computed if needed
            n_uv, n_uf = _n_distinct(a_v, v.shape[0]), _n_distinct(a_f, f.shape[0])
            mm_cost = n_uv * n_uf * d / _MATMUL_ADVANTAGE
            strategy = "matmul" if mm_cost < vi.size * d else "gather"
    if strategy == "gather" and not callable(scorer) and vi.size >= _KERNEL_MIN_PAIRS:
        dots = _kernels.pair_dots(v, f, vi, fi, scoring_threads(), cosine=raw_cosine)
        if dots is not None:  # compiled, cache-tiled, no row copies (see _kernels)
            if scorer == "l2":
                vv, ff = np.einsum("nd,nd->n", v, v), np.einsum("nd,nd->n", f, f)
                dots = 2 * dots - vv[vi] - ff[fi]
            return dots.reshape(shape)
    if raw_cosine:
        v, f = normalize(v), normalize(f)
    if strategy == "gather" and not callable(scorer):
        # cache-tiled gather: visit pairs grouped by (voice tile, face tile) so the rows a
        # chunk gathers stay in cache; tile ids are small ints -> radix sort, O(n)
        tile = 64
        n_ft = (f.shape[0] + tile - 1) // tile
        key = (vi // tile).astype(np.int64) * n_ft + fi // tile
        order = np.argsort(key.astype(np.uint16) if key.max() < 65536 else key, kind="stable")
        vs, fs = vi[order], fi[order]
        res = np.empty(vi.size, dtype=np.float32)
        step = max(64, (256 << 10) // max(d, 1))
        parts = _thread_parts(vi.size, step)
        if len(parts) == 1:
            _gather_dots(v, f, vs, fs, res, scorer, step, 0, vi.size)
        else:  # numpy's gathers and einsum release the GIL: one contiguous part per thread
            with ThreadPoolExecutor(len(parts)) as ex:
                futs = [
                    ex.submit(_gather_dots, v, f, vs, fs, res, scorer, step, a, b) for a, b in parts
                ]
                for fu in futs:
                    fu.result()
        out[order] = res
        return out.reshape(shape)
    # blocked matmul over distinct items, pairs grouped by voice block
    uv, inv_v = _distinct(vi, v.shape[0])
    uf, inv_f = _distinct(fi, f.shape[0])
    fu = f[uf]
    rows = max(1, int(block_bytes // max(4 * uf.size, 1)))
    block_of = inv_v // rows
    n_blocks = int(block_of.max()) + 1
    # group pairs by voice block; block ids are small ints -> radix (stable) sort, O(n)
    order = np.argsort(block_of.astype(np.uint16 if n_blocks < 65536 else np.int64), kind="stable")
    bounds = np.searchsorted(block_of[order], np.arange(n_blocks + 1))
    for b, a in enumerate(range(0, uv.size, rows)):
        sel = order[bounds[b] : bounds[b + 1]]
        if sel.size == 0:
            continue
        block = score_matrix(v[uv[a : a + rows]], fu, scorer, prepared=True)
        out[sel] = block[inv_v[sel] - a, inv_f[sel]]
    return out.reshape(shape)


def _gather_dots(
    v: np.ndarray,
    f: np.ndarray,
    vs: np.ndarray,
    fs: np.ndarray,
    res: np.ndarray,
    scorer: Scorer,
    step: int,
    start: int,
    stop: int,
) -> None:
    """``res[a] = score(v[vs[a]], f[fs[a]])`` for ``a`` in ``[start, stop)``, in chunks."""
    for a in range(start, stop, step):
        b = min(a + step, stop)
        sv = v[vs[a:b]]
        sf = f[fs[a:b]]
        r = np.einsum("pd,pd->p", sv, sf)
        if scorer == "l2":
            r = 2 * r - np.einsum("pd,pd->p", sv, sv) - np.einsum("pd,pd->p", sf, sf)
        res[a:b] = r


#: Pairs below which the gather stays on one thread (thread start-up ~0.1 ms).
_THREAD_MIN_PAIRS = 1 << 16
#: Indices from which distinct values are counted by a compiled loop (:func:`_n_distinct`).
_DISTINCT_KERNEL_MIN = 1 << 23
#: Pairs from which the compiled kernel is used (its first call in a process loads or
#: compiles it: ~0.5 s from numba's disk cache, a few s without).
_KERNEL_MIN_PAIRS = 1 << 20


def kernel_expected(n_pairs: int, n_voices: int, n_faces: int) -> bool:
    """Will :func:`pair_scores` (``auto``) likely use the compiled kernel for ``n_pairs``
    pairs over at most ``n_voices`` x ``n_faces`` items? (The matmul strategy wins when the
    pairs fill more than 1/33 of that grid; the distinct counts can only lower it.)"""
    if n_pairs < _KERNEL_MIN_PAIRS or not _kernels.enabled():
        return False
    return n_voices * n_faces / _MATMUL_ADVANTAGE >= n_pairs


def prefetch_kernel(n_pairs: int, n_voices: int, n_faces: int) -> None:
    """Start loading the numba pair kernel in the background when :func:`kernel_expected`
    and faiss is not there (faiss needs no loading): the ~0.7 s numba costs on its first
    use in a process then overlaps reading the inputs."""
    if kernel_expected(n_pairs, n_voices, n_faces) and _kernels.faiss_module() is None:
        _kernels.prefetch("pair_dots")


def _thread_parts(n: int, step: int) -> list[tuple[int, int]]:
    """Split ``[0, n)`` into one contiguous, ``step``-aligned range per worker thread."""
    threads = scoring_threads()
    if threads <= 1 or n < _THREAD_MIN_PAIRS:
        return [(0, n)]
    chunk = -(-n // threads)
    chunk = -(-chunk // step) * step
    return [(a, min(a + chunk, n)) for a in range(0, n, chunk)]


def scoring_threads() -> int:
    """Threads for the gather strategy: ``VFBENCH_THREADS`` or the usable cores (max 8)."""

    env = os.environ.get("VFBENCH_THREADS", "")
    if env.strip():
        try:
            return max(1, int(env))
        except ValueError:
            raise EvaluationError(f"VFBENCH_THREADS must be an integer, got {env!r}") from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def mean_vectors(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mean embedding of each index set: ``idx`` (..., m) with -1 padding -> (..., D).

    Used for joint tasks (paper Sec. 3.1: "matching and retrieval on the mean embeddings of
    multiple audios or images"). Rows are averaged as given (normalise first for cosine).
    """
    idx = np.asarray(idx, dtype=np.int64)
    valid = idx >= 0
    if valid.all():  # no padding: skip the mask product (x * 1 is x: the same sums)
        g = x[idx]
    else:
        g = x[np.maximum(idx, 0)] * valid[..., None]
    cnt = np.maximum(valid.sum(-1, keepdims=True), 1)
    return (g.sum(-2) / cnt).astype(np.float32)
