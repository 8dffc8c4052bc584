"""Metrics over score arrays: matching, verification and retrieval (all vectorised).

Matching (paper Sec. 3.1): ``scores`` (T, n), column 0 = true candidate.
  Tie rules: ``half`` (default) - among k tied maxima the true candidate earns 1/k (so a
  constant scorer gets 1/n, exactly chance); ``correct`` - the peers' rule (SSNet/CMPC
  argmax, first maximum wins), a tie counts as correct (a constant scorer gets 100%).

Verification: ROC AUC (trapezoid = Mann-Whitney with ties as half, like
``sklearn.metrics.roc_auc_score``), EER (``interp``: linear interpolation between the two
ROC points where FNR - FPR changes sign, default; ``cmpc``: CMPC's FPR at the
``sklearn.metrics.roc_curve`` point minimising |FNR - FPR|, no interpolation) and TAR at
FAR (the highest TPR among ROC points with FPR <= FAR). All accept per-pair weights, and a
(B, P) weight matrix gives B bootstrap replicates at once.

Retrieval: per query AP, p@k, R-precision, recall@k over a gallery.
  AP ``sklearn`` (default): a block of tied scores enters at once, as
  ``average_precision_score``; order-independent, a constant scorer gets AP = R/N.
  AP ``ssnet``: mean over relevant ranks of precision at k with a stable tie order
  (gallery order) - SSNet's definition with a deterministic tie order.
  With ``sklearn`` ties, p@k / recall@k / R-precision count each tied relevant item with
  its probability of landing in the top k under a random tie order (exact expectation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate import _kernels
from vfbench.evaluate.scoring import score_matrix, scoring_threads

TIE_RULES = ("half", "correct")
AP_VARIANTS = ("sklearn", "ssnet")
EER_MODES = ("interp", "cmpc")


# ------------------------------------------------------------------------------ matching
def match_outcomes(scores: np.ndarray, tie_rule: str = "half") -> np.ndarray:
    """(T, n) scores, true candidate in column 0 -> (T,) outcomes in [0, 1]."""
    s = np.asarray(scores)
    if s.ndim != 2 or s.shape[1] < 2:
        raise EvaluationError(f"matching scores must be (T, n>=2), got {s.shape}")
    if s.shape[1] == 2 and tie_rule in ("half", "correct"):  # 1:2 fast path (same values)
        d = s[:, 0] - s[:, 1]
        if tie_rule == "correct":
            return (d >= 0).astype(np.float64)
        return (d > 0) + 0.5 * (d == 0)
    mx = s.max(axis=1)
    if tie_rule == "correct":
        return (s[:, 0] >= mx).astype(np.float64)
    if tie_rule != "half":
        raise EvaluationError(f"unknown tie rule {tie_rule!r}; known: {list(TIE_RULES)}")
    at_max = s == mx[:, None]
    return at_max[:, 0] / at_max.sum(axis=1)


# -------------------------------------------------------------------------- verification
@dataclass
class Roc:
    """ROC points at every distinct threshold, from (0, 0) to (1, 1); rows = replicates."""

    fpr: np.ndarray  # (B, K+1) or (K+1,)
    tpr: np.ndarray
    thresholds: np.ndarray  # (K,) descending distinct scores


def roc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> Roc:
    """ROC over distinct thresholds. ``weights`` (P,) or (B, P) -> fpr/tpr (B, K+1)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).astype(bool).reshape(-1)
    if s.shape != y.shape:
        raise EvaluationError(f"scores {s.shape} and labels {y.shape} disagree")
    if not y.any() or y.all():
        raise EvaluationError("verification needs both positive and negative pairs")
    order = np.argsort(-s, kind="stable")
    ss = s[order]
    ends = np.flatnonzero(np.r_[ss[1:] != ss[:-1], True])  # last index of each tie group
    w = np.ones((1, s.size)) if weights is None else np.atleast_2d(np.asarray(weights, np.float64))
    wy = w[:, order] * y[order]
    wn = w[:, order] * ~y[order]
    tp = np.cumsum(wy, axis=1)[:, ends]
    fp = np.cumsum(wn, axis=1)[:, ends]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tp / tp[:, -1:]
        fpr = fp / fp[:, -1:]
    zero = np.zeros((w.shape[0], 1))
    tpr = np.concatenate([zero, tpr], axis=1)
    fpr = np.concatenate([zero, fpr], axis=1)
    if weights is None or np.ndim(weights) == 1:
        tpr, fpr = tpr[0], fpr[0]
    return Roc(fpr=fpr, tpr=tpr, thresholds=ss[ends])


def auc_from_roc(r: Roc) -> np.ndarray | float:
    """Trapezoid area under the ROC (ties = half credit); NaN for a replicate without
    positive or without negative pairs."""
    fpr, tpr = np.atleast_2d(r.fpr), np.atleast_2d(r.tpr)
    a = (np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2).sum(axis=1)
    return float(a[0]) if np.ndim(r.fpr) == 1 else a


def eer_from_roc(r: Roc) -> np.ndarray | float:
    """Equal error rate by linear interpolation where FNR - FPR crosses 0."""
    fpr, tpr = np.atleast_2d(r.fpr), np.atleast_2d(r.tpr)
    d = (1.0 - tpr) - fpr  # non-increasing along the curve, 1 at (0,0), -1 at (1,1)
    i = np.argmax(d <= 0, axis=1)  # first index at or past the crossing (>= 1)
    rows = np.arange(d.shape[0])
    d0, d1 = d[rows, i - 1], d[rows, i]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(d0 - d1 > 0, d0 / (d0 - d1), 0.0)
    e = fpr[rows, i - 1] + t * (fpr[rows, i] - fpr[rows, i - 1])
    # a (bootstrap) replicate without positive or without negative pairs has no ROC: NaN
    e = np.where(np.isfinite(d).all(axis=1), e, np.nan)
    return float(e[0]) if np.ndim(r.fpr) == 1 else e


def tar_at_far(r: Roc, far: float) -> np.ndarray | float:
    """Highest TPR among ROC points whose FPR <= ``far`` (an attainable threshold)."""
    fpr, tpr = np.atleast_2d(r.fpr), np.atleast_2d(r.tpr)
    t = np.where(fpr <= far + 1e-12, tpr, 0.0).max(axis=1)
    t = np.where(np.isfinite(fpr).all(axis=1) & np.isfinite(tpr).all(axis=1), t, np.nan)
    return float(t[0]) if np.ndim(r.fpr) == 1 else t


def eer_cmpc(scores: np.ndarray, labels: np.ndarray) -> float:
    """CMPC's EER: FPR at the ``roc_curve`` point minimising |FNR - FPR| (no interpolation)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(labels).astype(int), np.asarray(scores, np.float64))
    fnr = 1 - tpr
    return float(fpr[np.nanargmin(np.abs(fnr - fpr))])


def verification_metrics(
    scores: np.ndarray,
    labels: np.ndarray,
    fars: tuple[float, ...] = (0.01, 0.001),
    eer_mode: str = "interp",
) -> dict[str, float]:
    """``auc``, ``eer``, ``tar@far=<far>`` for one score array."""
    if eer_mode not in EER_MODES:
        raise EvaluationError(f"unknown EER mode {eer_mode!r}; known: {list(EER_MODES)}")
    r = roc(scores, labels)
    out = {"auc": float(auc_from_roc(r))}
    out["eer"] = float(eer_from_roc(r)) if eer_mode == "interp" else eer_cmpc(scores, labels)
    for far in fars:
        out[f"tar@far={far:g}"] = float(tar_at_far(r, far))
    return out


# ----------------------------------------------------------------------------- retrieval
def _row_counts(sorted_rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, how many entries are >= and > each value.

    ``sorted_rows`` (Q, G) ascending, ``values`` (Q, R). The heavy work (sorting the rows)
    is done in bulk by the caller; this is two binary searches per row (O(R log G) each),
    a few microseconds per query - exact float comparisons, ties included.
    """
    q, g = sorted_rows.shape
    ge = np.empty(values.shape, dtype=np.int64)
    gt = np.empty(values.shape, dtype=np.int64)
    for i in range(q):
        ge[i] = sorted_rows[i].searchsorted(values[i], side="left")
        gt[i] = sorted_rows[i].searchsorted(values[i], side="right")
    return g - ge, g - gt


@dataclass
class QueryStats:
    """Per-query retrieval results for one block of queries."""

    ap: np.ndarray  # (Q,)
    hits_at: dict[int, np.ndarray]  # k -> (Q,) expected hits in the top k
    r_prec: np.ndarray  # (Q,)
    n_rel: np.ndarray  # (Q,)


def _stats_columns(blocks: list[QueryStats], ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Per-query columns (``ap``, ``rprec``, ``n_rel``, ``hits@k``) of consecutive blocks."""
    out = {
        "ap": [b.ap for b in blocks],
        "rprec": [b.r_prec for b in blocks],
        "n_rel": [b.n_rel for b in blocks],
    }
    for k in ks:
        out[f"hits@{k}"] = [b.hits_at[k] for b in blocks]
    return {k: np.concatenate(v) for k, v in out.items()}


def _ssnet_stats(rank: np.ndarray, rel_mask: np.ndarray, ks: tuple[int, ...]) -> QueryStats:
    """SSNet-AP statistics from each relevant item's exact 1-based rank (Q, R) in the stable
    descending order (ranks of distinct items are distinct)."""
    n_rel = rel_mask.sum(axis=1)
    # relevant items ranked at or above each one = its place among the sorted ranks + 1
    # (pads last); O(R log R) per query, no (R, R) table (R reaches thousands on
    # galleries of few identities)
    big = np.iinfo(np.int64).max
    o = np.argsort(np.where(rel_mask, rank, big), axis=1, kind="stable")
    above = np.empty_like(o)
    np.put_along_axis(above, o, np.broadcast_to(np.arange(1, o.shape[1] + 1), o.shape), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(rel_mask, above / rank, 0.0)
    apv = np.where(n_rel > 0, prec.sum(1) / np.maximum(n_rel, 1), 0.0)
    hits = {k: ((rank <= k) & rel_mask).sum(1).astype(np.float64) for k in ks}
    top_r = ((rank <= n_rel[:, None]) & rel_mask).sum(1)
    rprec = np.where(n_rel > 0, top_r / np.maximum(n_rel, 1), 0.0)
    return QueryStats(apv, hits, rprec, n_rel)


def _ties_before(
    s: np.ndarray,
    rs: np.ndarray,
    rel_mask: np.ndarray,
    col_pos: np.ndarray,
    rel_pos: np.ndarray,
    n_eq: np.ndarray,
    own: np.ndarray,
) -> np.ndarray:
    """For each relevant item, the columns of ``s`` with exactly its score that come before
    it in the stable order (``col_pos`` < its ``rel_pos``). ``n_eq`` (Q, R) counts the
    equal-scoring columns, ``own`` (Q, R) is 1 where the item itself is one of them; only
    rows with another equal score are compared column by column."""
    before = np.zeros(rs.shape, dtype=np.int64)
    for i in np.flatnonzero((rel_mask & (n_eq - own > 0)).any(axis=1)):
        eq = s[i][None, :] == rs[i][:, None]
        before[i] = np.count_nonzero(eq & (col_pos[None, :] < rel_pos[i][:, None]), axis=1)
    return before


#: Score entries of a block from which :func:`rank_counts` uses the compiled kernel (its
#: first call in a process loads it: ~0.5 s from numba's disk cache, a few s without).
_RANK_KERNEL_MIN = 1 << 20

#: Scores (voices x faces) from which both retrieval directions over the same items share
#: one score matrix (:func:`rank_retrieval_pair`).
_PAIR_MIN = 4 * _RANK_KERNEL_MIN


def prefetch_retrieval(n_queries: int, n_gallery: int, both_directions: bool) -> None:
    """Start loading the retrieval kernels in the background (see
    :func:`vfbench.evaluate._kernels.prefetch`) when a retrieval of ``n_queries`` x
    ``n_gallery`` items will use them: both directions over the same items from
    ``_PAIR_MIN`` scores (:func:`rank_retrieval_pair`), one direction from the size where
    :func:`rank_retrieval` takes 16M-score blocks to the kernel. Numba's first-use cost
    (~1 s) then overlaps reading and preparing the inputs."""
    if both_directions and n_queries * n_gallery >= _PAIR_MIN:
        _kernels.prefetch("rank_counts", "column_counts")
    elif n_queries * n_gallery >= 4 * _RANK_KERNEL_MIN:
        _kernels.prefetch("rank_counts")


@dataclass
class RankCounts:
    """Where each relevant item of each query lands in the ranking of its row, as counts.

    All (Q, R) int64, 0 on padding: ``n_gt`` gallery items scoring higher, ``n_ge`` scoring
    higher or equal (the item itself included), ``before`` (stable order only) the equal
    ones ahead of it in gallery order. Every retrieval statistic is a function of these.
    """

    n_gt: np.ndarray
    n_ge: np.ndarray
    before: np.ndarray


def rank_counts(
    s: np.ndarray,
    rel_idx: np.ndarray,
    rel_mask: np.ndarray,
    col_pos: np.ndarray | None = None,
    stable: bool = False,
) -> RankCounts:
    """Rank counts of the relevant items of a block of queries (see :class:`RankCounts`).

    ``s`` (Q, G) float32 scores of each query against the whole gallery; ``rel_idx`` (Q, R)
    the relevant columns, real where ``rel_mask``; ``col_pos`` (G,) each column's gallery
    position (default: column order), the tie order when ``stable``. Large blocks go to the
    compiled kernel (:func:`vfbench.evaluate._kernels._make_rank_counts`: no row is sorted,
    O(G log R) per row); small ones, or without numba, to numpy (one bulk row sort, two
    binary searches per query, and a stable argsort of the rows where a relevant item shares
    its score). Both give the same counts: exact float comparisons.
    """
    s = np.asarray(s, dtype=np.float32)
    q, g = s.shape
    pos = np.arange(g) if col_pos is None else np.asarray(col_pos, dtype=np.int64)
    rel_mask = np.asarray(rel_mask, dtype=bool)
    ri = np.where(rel_mask, rel_idx, 0)
    rows = np.arange(q)[:, None]
    rs = s[rows, ri]  # the relevant scores, from the very matrix they are compared with
    if s.size >= _RANK_KERNEL_MIN:
        got = _kernels.rank_counts(s, pos, rs, pos[ri], rel_mask, stable, scoring_threads())
        if got is not None:
            return RankCounts(*got)
    rs = np.where(rel_mask, rs, np.float32(-np.inf))
    n_ge, n_gt = _row_counts(np.sort(s, axis=1), rs)
    before = np.zeros(rs.shape, dtype=np.int64)
    own = rel_mask.astype(np.int64)  # each relevant item is a column of its own row
    tie = (rel_mask & (n_ge - n_gt - own > 0)).any(axis=1) if stable else np.zeros(q, bool)
    tie_rows = np.flatnonzero(tie)
    if tie_rows.size:
        # rows where a relevant item shares its score (float32 cosines collide often on
        # large galleries): one stable argsort of those rows with the columns in gallery
        # order puts equal scores in gallery order, so an item's place inside its block
        # of equal scores is the count of equal ones before it - vectorised, no row loop
        at_pos = np.argsort(pos)  # column at each gallery position
        o = np.argsort(s[tie_rows][:, at_pos], axis=1, kind="stable")
        place = np.empty_like(o)
        np.put_along_axis(place, o, np.broadcast_to(np.arange(g), o.shape), axis=1)
        rp = np.where(rel_mask[tie_rows], pos[ri[tie_rows]], 0)
        n_lt = g - n_ge[tie_rows]
        inside = np.take_along_axis(place, rp, axis=1) - n_lt
        before[tie_rows] = np.where(rel_mask[tie_rows], inside, 0)
    return RankCounts(np.where(rel_mask, n_gt, 0), np.where(rel_mask, n_ge, 0), before)


def retrieval_block(
    s: np.ndarray,
    rel_idx: np.ndarray,
    rel_mask: np.ndarray,
    ks: tuple[int, ...] = (1, 5, 10),
    ap: str = "sklearn",
    col_pos: np.ndarray | None = None,
) -> QueryStats:
    """Ranking statistics of a block of queries.

    ``s`` (Q, G) scores of each query against the whole gallery; ``rel_idx`` (Q, R) the
    gallery columns relevant to each query, padded, with ``rel_mask`` (Q, R) marking real
    entries. Cost: :func:`rank_counts` (the relevant items' places in each row, without
    sorting rows when the compiled kernel is there). ``col_pos``: each column's gallery
    position, the tie order of the SSNet AP (default: column order).
    """
    if ap not in AP_VARIANTS:
        raise EvaluationError(f"unknown AP variant {ap!r}; known: {list(AP_VARIANTS)}")
    s = np.asarray(s, dtype=np.float32)
    rel_mask = np.asarray(rel_mask, dtype=bool)
    c = rank_counts(s, rel_idx, rel_mask, col_pos, stable=ap == "ssnet")
    if ap == "ssnet":  # rank in the stable descending order: ties in gallery order
        return _ssnet_stats(c.n_gt + c.before + 1, rel_mask, ks)
    rows = np.arange(s.shape[0])[:, None]
    rs = np.where(rel_mask, s[rows, np.where(rel_mask, rel_idx, 0)], np.float32(-np.inf))
    return _sklearn_stats(rs, rel_mask, c.n_ge, c.n_gt, ks)


def _count_ge_within(rs: np.ndarray, rel_mask: np.ndarray) -> np.ndarray:
    """(Q, R): for each real entry, how many real entries of its row are >= it (ties
    included); O(R log R) per row. Pads are moved below every real score."""
    x = np.where(rel_mask, rs, -np.inf)
    r = x.shape[1]
    o = np.argsort(x, axis=1, kind="stable")
    sv = np.take_along_axis(x, o, axis=1)
    start = np.ones(sv.shape, bool)
    start[:, 1:] = sv[:, 1:] != sv[:, :-1]
    first = np.maximum.accumulate(np.where(start, np.arange(r)[None, :], 0), axis=1)
    out = np.empty_like(o)
    np.put_along_axis(out, o, r - first, axis=1)  # entries from the first of its value on
    return np.where(rel_mask, out, 0)


def _sklearn_stats(
    rs: np.ndarray, rel_mask: np.ndarray, n_ge: np.ndarray, n_gt: np.ndarray, ks: tuple[int, ...]
) -> QueryStats:
    """sklearn-AP statistics from each relevant item's score ``rs`` (Q, R) and the counts of
    gallery items scoring >= (``n_ge``) and > (``n_gt``) it."""
    n_rel = rel_mask.sum(axis=1)
    h_ge = _count_ge_within(rs, rel_mask)  # relevant items scoring >= each relevant one
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(rel_mask, h_ge / np.maximum(n_ge, 1), 0.0)
    apv = np.where(n_rel > 0, prec.sum(1) / np.maximum(n_rel, 1), 0.0)
    tie = np.maximum(n_ge - n_gt, 1)

    def hits_top(k: np.ndarray | int) -> np.ndarray:
        kk = np.asarray(k)[..., None] if np.ndim(k) else k
        p = np.clip((kk - n_gt) / tie, 0.0, 1.0)
        return np.where(rel_mask, p, 0.0).sum(1)

    hits = {k: hits_top(k) for k in ks}
    rprec = np.where(n_rel > 0, hits_top(n_rel) / np.maximum(n_rel, 1), 0.0)
    return QueryStats(apv, hits, rprec, n_rel)


def average_precision(scores: np.ndarray, relevant: np.ndarray, ap: str = "sklearn") -> float:
    """AP of one ranked list (reference/small use): ``scores`` (G,), ``relevant`` (G,) bool."""
    rel = np.asarray(relevant, bool)
    idx = np.flatnonzero(rel)
    st = retrieval_block(
        np.asarray(scores, np.float32)[None, :],
        idx[None, :],
        np.ones((1, idx.size), bool),
        (1,),
        ap,
    )
    return float(st.ap[0])


def _block_scores(qb: np.ndarray, gb: np.ndarray, scorer: Any, direction: str) -> np.ndarray:
    """(Q, G) scores of a block of queries against gallery rows, C-contiguous (the counting
    reads rows). The built-in scorers are symmetric, so face queries are scored as the
    first argument too; a callable takes the voices first (a transposed copy)."""
    if direction == "v2f" or not callable(scorer):
        return score_matrix(qb, gb, scorer, prepared=True)
    return np.ascontiguousarray(score_matrix(gb, qb, scorer, prepared=True).T)


def relevant_slots(
    cnt: np.ndarray, start: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's relevant items in a gallery sorted by identity code: ``mask`` (Q, R)
    marks the real entries (R = the largest relevant set, at least 1) and ``pos`` (Q, R)
    their positions in the sorted gallery (0 where masked). ``cnt`` / ``start``: items per
    code and the sorted position of each code's first item; ``codes`` (Q,) the queries'."""
    r = cnt[codes]
    ar = np.arange(max(int(r.max(initial=0)), 1))
    mask = ar[None, :] < r[:, None]
    return mask, np.where(mask, start[codes][:, None] + ar[None, :], 0)


def rank_retrieval(
    qv: np.ndarray,
    gv: np.ndarray,
    qc: np.ndarray,
    gc: np.ndarray,
    scorer: Any = "cosine",
    ap: str = "sklearn",
    ks: tuple[int, ...] = (1, 5, 10),
    direction: str = "v2f",
    attrs: tuple[np.ndarray, np.ndarray] | None = None,
    block_elems: int | None = None,
    gallery_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Rank a whole gallery for every query, in memory-bounded query blocks.

    ``qv`` (Q, D) query vectors, ``gv`` (G, D) gallery vectors (already prepared, e.g. unit
    rows for cosine), ``qc`` (Q,) / ``gc`` (G,) integer identity codes (relevant = same
    code). ``direction`` says which side is the voice (the scorer takes voices first).
    ``attrs``: instead of the embeddings, score by equality of a known attribute
    (``(q_attr, g_attr)``, "" = unknown): 1 or 0, the ties left as ties - the gender-only
    baseline ("same-gender items first, otherwise at random"); with ``ap="sklearn"`` its
    p@k / recall@k / R-precision are the exact expectations under a random tie order.
    Returns per-query arrays ``ap``, ``rprec``, ``n_rel`` and ``hits@k``. Queries are
    scored in blocks of ``block_elems`` scores: default 16M (64 MB of float32 scores;
    larger GEMMs run closer to BLAS speed) when the compiled counting kernel takes the
    blocks, which needs no more than the block itself; 4M otherwise (the numpy path's
    row sort needs about 40 bytes a score: ~160 MB).

    Galleries that do not fit in memory: pass ``gv`` as a memory map (``np.load(path,
    mmap_mode="r")`` of prepared rows) or set ``gallery_rows``; the gallery is then read in
    blocks of ``gallery_rows`` rows (default 65,536 for a memory map) and never copied
    whole, at twice the scoring cost (see :func:`_stream_retrieval`); same figures.
    """

    if block_elems is None:
        big = qv.shape[0] * gv.shape[0] >= 4 * _RANK_KERNEL_MIN
        block_elems = 16 << 20 if big and _kernels.rank_counts_kernel() is not None else 4 << 20
    if attrs is None and (gallery_rows is not None or isinstance(gv, np.memmap)):
        rows_g = int(gallery_rows or 65536)
        if rows_g < 1:
            raise EvaluationError(f"gallery_rows must be >= 1, got {gallery_rows}")
        if rows_g < gv.shape[0]:
            return _stream_retrieval(qv, gv, qc, gc, scorer, ap, ks, direction, rows_g, block_elems)

    qc = np.asarray(qc, dtype=np.int64)
    gc = np.asarray(gc, dtype=np.int64)
    order = np.argsort(gc, kind="stable")
    gc_s = gc[order]
    gv_s = gv[order]
    n_codes = int(max(qc.max(initial=0), gc.max(initial=0))) + 1
    cnt = np.bincount(gc_s, minlength=n_codes)
    start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    g = gv_s.shape[0]
    rows = max(1, block_elems // max(g, 1))
    out: list[QueryStats] = []
    ga = np.asarray(attrs[1])[order] if attrs is not None else np.empty(0)
    for a in range(0, qv.shape[0], rows):
        qcb = qc[a : a + rows]
        if attrs is not None:
            qa = np.asarray(attrs[0])[a : a + rows]
            s = ((qa[:, None] == ga[None, :]) & (qa != "")[:, None]).astype(np.float32)
        else:
            s = _block_scores(qv[a : a + rows], gv_s, scorer, direction)
        mask, idx = relevant_slots(cnt, start, qcb)
        st = retrieval_block(s, idx, mask, ks, ap, order)  # ties: original gallery order
        out.append(st)
    return _stats_columns(out, ks)


def _stats_dict(
    rs: np.ndarray,
    mask: np.ndarray,
    n_gt: np.ndarray,
    n_ge: np.ndarray,
    before: np.ndarray,
    ap: str,
    ks: tuple[int, ...],
    chunk: int = 2048,
) -> dict[str, np.ndarray]:
    """Per-query statistics from rank counts (in chunks of queries: the AP works on
    (chunk, R, R) arrays)."""
    out: list[QueryStats] = []
    for a in range(0, max(mask.shape[0], 1), chunk):
        sl = slice(a, a + chunk)
        if ap == "ssnet":
            st = _ssnet_stats(n_gt[sl] + before[sl] + 1, mask[sl], ks)
        else:
            st = _sklearn_stats(rs[sl], mask[sl], n_ge[sl], n_gt[sl], ks)
        out.append(st)
    return _stats_columns(out, ks)


def rank_retrieval_pair(
    v: np.ndarray,
    f: np.ndarray,
    vc: np.ndarray,
    fc: np.ndarray,
    scorer: Any = "cosine",
    ap: str = "sklearn",
    ks: tuple[int, ...] = (1, 5, 10),
    block_elems: int = 16 << 20,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Both retrieval directions over the same items from one score matrix: ``(v2f, f2v)``,
    each as :func:`rank_retrieval` returns it (voices ranking the faces, faces ranking the
    voices), or None without the compiled kernels or below ``_PAIR_MIN`` scores (where
    loading the kernels would cost more than the second GEMM saves): then rank each
    direction apart.

    ``v`` (Nv, D) / ``f`` (Nf, D) prepared vectors, ``vc`` / ``fc`` identity codes. The
    voices x faces matrix is computed once, in blocks of whole identities' voice rows
    (about ``block_elems`` scores): its rows are complete, so each voice query is counted
    as in :func:`rank_counts`; its columns are the face queries, counted block by block
    into per-column histograms (:func:`vfbench.evaluate._kernels._make_column_counts`).
    A face query's relevant voices all lie in one block, and their scores are needed
    before the first block: the "diagonal" scores (a block's voices x the faces of the
    same identities, ~1/n_blocks of the matrix) are computed first, and replace that part
    of the block in the column counts, so that every column is compared with the very
    values its relevant scores were taken from. Half the GEMM work of ranking the two
    directions apart; same definitions (each direction ranks one set of float32 scores;
    the two directions' scores of a pair may differ in the last bit, as they do apart).
    """
    if ap not in AP_VARIANTS:
        raise EvaluationError(f"unknown AP variant {ap!r}; known: {list(AP_VARIANTS)}")
    if v.shape[0] * f.shape[0] < _PAIR_MIN:
        return None
    if _kernels.rank_counts_kernel() is None or _kernels.column_counts_kernel() is None:
        return None
    threads = scoring_threads()
    stable = ap == "ssnet"
    vc = np.asarray(vc, dtype=np.int64)
    fc = np.asarray(fc, dtype=np.int64)
    ov = np.argsort(vc, kind="stable")  # voices by identity: original index = position
    of = np.argsort(fc, kind="stable")
    vcode, fcode = vc[ov], fc[of]
    vs = np.ascontiguousarray(v[ov], dtype=np.float32)
    fs = np.ascontiguousarray(f[of], dtype=np.float32)
    nv, nf = vs.shape[0], fs.shape[0]
    n_codes = int(max(vc.max(initial=0), fc.max(initial=0))) + 1
    vcnt = np.bincount(vcode, minlength=n_codes)
    fcnt = np.bincount(fcode, minlength=n_codes)
    vstart = np.concatenate([[0], np.cumsum(vcnt)[:-1]])
    fstart = np.concatenate([[0], np.cumsum(fcnt)[:-1]])
    target = max(1, block_elems // max(nf, 1))
    bounds = []
    a = 0
    while a < nv:  # blocks of whole identities
        b = min(nv, a + target)
        if b < nv:
            c = vcode[b - 1]
            b = int(vstart[c] + vcnt[c])
        bounds.append((a, b))
        a = b

    # f2v relevant scores, from the diagonal blocks, sorted per face (pads +inf, last)
    nrel_f = vcnt[fcode].astype(np.int64)
    rf = max(int(nrel_f.max(initial=0)), 1)
    arf = np.arange(rf)
    srt = np.full((nf, rf), np.inf, np.float32)
    spos = np.zeros((nf, rf), np.int64)
    diag: list[tuple[int, int, np.ndarray | None]] = []
    for a, b in bounds:
        c0, c1 = vcode[a], vcode[b - 1]
        fa, fb = int(fstart[c0]), int(fstart[c1] + fcnt[c1])
        if fb <= fa:
            diag.append((fa, fb, None))
            continue
        d = score_matrix(vs[a:b], fs[fa:fb], scorer, prepared=True)
        diag.append((fa, fb, d))
        cj = fcode[fa:fb]
        m = arf[None, :] < vcnt[cj][:, None]
        rows = np.where(m, vstart[cj][:, None] - a + arf[None, :], 0)
        vals = d[rows, np.arange(fb - fa)[:, None]]
        srt[fa:fb] = np.where(m, vals, np.float32(np.inf))
        spos[fa:fb] = np.where(m, ov[a + rows], 0)
    o = np.argsort(srt, axis=1, kind="stable")
    srt = np.ascontiguousarray(np.take_along_axis(srt, o, axis=1))
    spos = np.ascontiguousarray(np.take_along_axis(spos, o, axis=1))
    acc = (
        np.zeros((nf, rf + 1), np.int64),
        np.zeros((nf, rf + 1), np.int64),
        np.zeros((nf, rf), np.int64),
    )

    v_mask, v_pos = relevant_slots(fcnt, fstart, vcode)
    rv = v_mask.shape[1]
    v_rs = np.full((nv, rv), -np.inf, np.float32)
    v_gt = np.zeros((nv, rv), np.int64)
    v_ge = np.zeros((nv, rv), np.int64)
    v_bf = np.zeros((nv, rv), np.int64)
    buf = np.empty((max(b - a for a, b in bounds), nf), np.float32)  # one block buffer
    for (a, b), (fa, fb, dg) in zip(bounds, diag, strict=True):
        s = score_matrix(vs[a:b], fs, scorer, prepared=True, out=buf[: b - a])
        m = v_mask[a:b]
        idx = v_pos[a:b]
        rs = s[np.arange(b - a)[:, None], idx]
        got = _kernels.rank_counts(s, of, rs, of[idx], m, stable, threads)
        if got is None:
            return None
        v_gt[a:b], v_ge[a:b], v_bf[a:b] = got
        v_rs[a:b] = np.where(m, rs, np.float32(-np.inf))
        if dg is not None:  # the columns' own-identity part: the values their scores came from
            s[:, fa:fb] = dg
        if not _kernels.column_counts(s, ov[a:b], srt, spos, nrel_f, stable, acc, threads):
            return None
    lt, le, bf = acc
    f_gt = np.cumsum(lt[:, ::-1], axis=1)[:, ::-1][:, 1:]  # places > m
    f_ge = np.cumsum(le[:, ::-1], axis=1)[:, ::-1][:, 1:]
    f_mask = arf[None, :] < nrel_f[:, None]
    f_rs = np.where(f_mask, srt, np.float32(-np.inf))
    zero = np.int64(0)
    sv = _stats_dict(v_rs, v_mask, v_gt, v_ge, v_bf, ap, ks)
    sf = _stats_dict(
        f_rs,
        f_mask,
        np.where(f_mask, f_gt, zero),
        np.where(f_mask, f_ge, zero),
        np.where(f_mask, bf, zero),
        ap,
        ks,
    )
    out_v = {k: np.empty_like(x) for k, x in sv.items()}
    out_f = {k: np.empty_like(x) for k, x in sf.items()}
    for k in sv:  # back to the callers' query order
        out_v[k][ov] = sv[k]
        out_f[k][of] = sf[k]
    return out_v, out_f


def _stream_retrieval(
    qv: np.ndarray,
    gv: np.ndarray,
    qc: np.ndarray,
    gc: np.ndarray,
    scorer: Any,
    ap: str,
    ks: tuple[int, ...],
    direction: str,
    gallery_rows: int,
    block_elems: int,
) -> dict[str, np.ndarray]:
    """:func:`rank_retrieval` reading the gallery in blocks of ``gallery_rows`` rows.

    Every statistic is a function of, per relevant item, its score and how many gallery
    items score >= / > it (and, for the SSNet AP, how many equal ones come first in the
    stable order), so they are summed over gallery blocks. Two passes per query block:
    the relevant items' scores are taken from the very block matrices the counts compare
    against (recomputing them another way could differ in the last bit and miscount
    ties). Tied items are in gallery order in both paths, so both give the same figures.
    """

    if ap not in AP_VARIANTS:
        raise EvaluationError(f"unknown AP variant {ap!r}; known: {list(AP_VARIANTS)}")
    qc = np.asarray(qc, dtype=np.int64)
    gc = np.asarray(gc, dtype=np.int64)
    g = gv.shape[0]
    order = np.argsort(gc, kind="stable")
    pos = np.arange(g)  # an item's place in the gallery: the SSNet tie order
    n_codes = int(max(qc.max(initial=0), gc.max(initial=0))) + 1
    cnt = np.bincount(gc, minlength=n_codes)
    start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    q_rows = max(1, block_elems // gallery_rows)
    bounds = [(b, min(g, b + gallery_rows)) for b in range(0, g, gallery_rows)]
    out: list[QueryStats] = []

    def scores(qb: np.ndarray, b0: int, b1: int) -> np.ndarray:
        return _block_scores(qb, np.asarray(gv[b0:b1], dtype=np.float32), scorer, direction)

    for a in range(0, qv.shape[0], q_rows):
        qb = np.asarray(qv[a : a + q_rows], dtype=np.float32)
        qcb = qc[a : a + q_rows]
        mask, rel_pos = relevant_slots(cnt, start, qcb)
        rel = order[rel_pos]  # original gallery rows of the relevant items
        rs = np.full(mask.shape, -np.inf, dtype=np.float32)
        for b0, b1 in bounds:  # pass 1: the relevant items' scores
            inb = mask & (rel >= b0) & (rel < b1)
            if inb.any():
                s = scores(qb, b0, b1)
                qi, ri = np.nonzero(inb)
                rs[qi, ri] = s[qi, rel[qi, ri] - b0]
        n_ge = np.zeros(mask.shape, dtype=np.int64)
        n_gt = np.zeros(mask.shape, dtype=np.int64)
        before = np.zeros(mask.shape, dtype=np.int64)
        for b0, b1 in bounds:  # pass 2: counts
            s = scores(qb, b0, b1)
            got = None
            if s.size >= _RANK_KERNEL_MIN:  # compiled: no sort (see rank_counts)
                got = _kernels.rank_counts(
                    s, pos[b0:b1], rs, rel, mask, ap == "ssnet", scoring_threads()
                )
            if got is not None:
                n_gt += got[0]
                n_ge += got[1]
                before += got[2]
                continue
            ge, gt = _row_counts(np.sort(s, axis=1), rs)
            n_ge += ge
            n_gt += gt
            if ap == "ssnet":  # equal scores other than the item itself: stable order
                own = (mask & (rel >= b0) & (rel < b1)).astype(np.int64)
                before += _ties_before(s, rs, mask, pos[b0:b1], rel, ge - gt, own)
        if ap == "ssnet":
            st = _ssnet_stats(n_gt + before + 1, mask, ks)
        else:
            st = _sklearn_stats(rs, mask, n_ge, n_gt, ks)
        out.append(st)
    return _stats_columns(out, ks)
