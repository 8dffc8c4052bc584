"""The retrieval counts (metrics.rank_counts): compiled kernel and numpy fallback against
plain loops, scikit-learn and a stable sort, on scores with many exact ties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from vfbench.evaluate import _kernels, metrics
from vfbench.evaluate.metrics import rank_counts, rank_retrieval, retrieval_block

PATHS = ["kernel", "numpy"]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch) -> str:
    """Run the test once through the compiled kernel (forced on small blocks) and once
    through the numpy fallback (numba disabled); ``_check_path_ran`` proves which ran."""
    if request.param == "kernel":
        pytest.importorskip("numba")
        monkeypatch.setattr(metrics, "_RANK_KERNEL_MIN", 0)
        monkeypatch.setenv("VFBENCH_NUMBA", "1")
    else:
        monkeypatch.setenv("VFBENCH_NUMBA", "0")
    real = _kernels.rank_counts
    _RAN.clear()

    def spy(*a, **kw):
        got = real(*a, **kw)
        _RAN.append(got is not None)
        return got

    monkeypatch.setattr(_kernels, "rank_counts", spy)
    return str(request.param)


_RAN: list[bool] = []


def _check_path_ran(path: str) -> None:
    assert any(_RAN) == (path == "kernel")


def _tied_block(seed: int, q: int = 30, g: int = 400, r: int = 25):
    """Quantised scores (a handful of levels: most scores tie with many others), relevant
    sets of varying size with padding, a query without relevant items, and a gallery
    order that is not the column order."""
    rng = np.random.default_rng(seed)
    s = rng.integers(-4, 5, size=(q, g)).astype(np.float32) / 4
    s[1] = 0.25  # a constant row: every item tied
    rel_idx = np.stack([rng.choice(g, r, replace=False) for _ in range(q)])
    rel_mask = rng.random((q, r)) < 0.7
    rel_mask[2] = False  # no relevant item
    rel_mask[3] = False
    rel_mask[3, 7] = True  # exactly one
    col_pos = rng.permutation(g)
    return s, rel_idx, rel_mask, col_pos


def _loop_counts(s, rel_idx, rel_mask, col_pos):
    """Reference: per query and relevant item, count over the row with plain comparisons."""
    n_gt = np.zeros(rel_idx.shape, np.int64)
    n_ge = np.zeros(rel_idx.shape, np.int64)
    before = np.zeros(rel_idx.shape, np.int64)
    for i in range(s.shape[0]):
        for m in range(rel_idx.shape[1]):
            if not rel_mask[i, m]:
                continue
            v, p = s[i, rel_idx[i, m]], col_pos[rel_idx[i, m]]
            n_gt[i, m] = sum(x > v for x in s[i])
            n_ge[i, m] = sum(x >= v for x in s[i])
            before[i, m] = sum(x == v and cp < p for x, cp in zip(s[i], col_pos, strict=True))
    return n_gt, n_ge, before


@pytest.mark.parametrize("seed", [0, 1])
def test_rank_counts_equal_plain_loops_with_ties(path: str, seed: int) -> None:
    s, rel_idx, rel_mask, col_pos = _tied_block(seed)
    ref = _loop_counts(s, rel_idx, rel_mask, col_pos)
    c = rank_counts(s, rel_idx, rel_mask, col_pos, stable=True)
    _check_path_ran(path)
    np.testing.assert_array_equal(c.n_gt, ref[0])
    np.testing.assert_array_equal(c.n_ge, ref[1])
    np.testing.assert_array_equal(c.before, ref[2])
    assert (ref[1] - ref[0] > 1).mean() > 0.5  # the case is really full of ties
    c2 = rank_counts(s, rel_idx, rel_mask, col_pos, stable=False)  # counts without order
    np.testing.assert_array_equal(c2.n_gt, ref[0])
    np.testing.assert_array_equal(c2.n_ge, ref[1])


def _expected_hits_loop(row: np.ndarray, rel: np.ndarray, k: int) -> float:
    """Expected relevant items in the top k under a uniformly random order of each tie
    block, walking the blocks of equal scores from the top."""
    above, hits = 0, 0.0
    for v in sorted(set(row.tolist()), reverse=True):
        block = row == v
        t, h = int(block.sum()), int((block & rel).sum())
        hits += h * min(max(k - above, 0), t) / t
        above += t
    return hits


@pytest.mark.parametrize("seed", [2, 3])
def test_sklearn_ap_and_tie_aware_hits_against_references(path: str, seed: int) -> None:
    s, rel_idx, rel_mask, col_pos = _tied_block(seed)
    ks = (1, 5, 40)
    st = retrieval_block(s, rel_idx, rel_mask, ks, "sklearn", col_pos)
    _check_path_ran(path)
    for i in range(s.shape[0]):
        rel = np.zeros(s.shape[1], bool)
        rel[rel_idx[i][rel_mask[i]]] = True
        n = int(rel.sum())
        if n == 0:
            assert st.ap[i] == 0.0 and st.r_prec[i] == 0.0
            continue
        assert st.ap[i] == pytest.approx(average_precision_score(rel, s[i]), abs=1e-12)
        for k in ks:
            assert st.hits_at[k][i] == pytest.approx(_expected_hits_loop(s[i], rel, k))
        assert st.r_prec[i] == pytest.approx(_expected_hits_loop(s[i], rel, n) / n)


def _stable_sort_stats(row: np.ndarray, rel: np.ndarray, col_pos: np.ndarray, ks):
    """SSNet's AP with a stable descending sort of the gallery (in gallery order)."""
    at_pos = np.argsort(col_pos)  # column at each gallery position
    order = at_pos[np.argsort(-row[at_pos], kind="stable")]
    hit = rel[order]
    ranks = np.flatnonzero(hit) + 1
    ap = float((np.arange(1, ranks.size + 1) / ranks).mean()) if ranks.size else 0.0
    return ap, {k: int(hit[:k].sum()) for k in ks}, int(hit[: ranks.size].sum())


@pytest.mark.parametrize("seed", [4, 5])
def test_ssnet_ap_against_a_stable_sort_in_gallery_order(path: str, seed: int) -> None:
    s, rel_idx, rel_mask, col_pos = _tied_block(seed)
    ks = (1, 5, 40)
    st = retrieval_block(s, rel_idx, rel_mask, ks, "ssnet", col_pos)
    _check_path_ran(path)
    for i in range(s.shape[0]):
        rel = np.zeros(s.shape[1], bool)
        rel[rel_idx[i][rel_mask[i]]] = True
        ap, hits, top_r = _stable_sort_stats(s[i], rel, col_pos, ks)
        assert st.ap[i] == pytest.approx(ap, abs=1e-12)
        for k in ks:
            assert st.hits_at[k][i] == hits[k]
        n = int(rel.sum())
        assert st.r_prec[i] == pytest.approx(top_r / n if n else 0.0)


@pytest.mark.parametrize("ap", ["sklearn", "ssnet"])
def test_kernel_and_numpy_give_identical_retrieval_figures(monkeypatch, ap: str) -> None:
    """Whole rank_retrieval, both directions, small integer vectors (exactly tied dot
    products, identity codes not in gallery order): the two paths agree to the bit."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(9)
    qv = rng.integers(-1, 2, size=(90, 6)).astype(np.float32)
    gv = rng.integers(-1, 2, size=(310, 6)).astype(np.float32)
    qc = rng.integers(0, 25, 90)
    gc = rng.integers(0, 25, 310)
    qc[0] = 77  # no relevant gallery item
    out = {}
    for p in PATHS:
        with monkeypatch.context() as m:
            if p == "kernel":
                m.setattr(metrics, "_RANK_KERNEL_MIN", 0)
                m.setenv("VFBENCH_NUMBA", "1")
            else:
                m.setenv("VFBENCH_NUMBA", "0")
            for d in ("v2f", "f2v"):
                out[p, d] = rank_retrieval(
                    qv, gv, qc, gc, "dot", ap, (1, 5, 20), d, block_elems=5000
                )
                # the gallery read in blocks (counts summed over blocks)
                out[p, d, "stream"] = rank_retrieval(
                    qv, gv, qc, gc, "dot", ap, (1, 5, 20), d, block_elems=5000, gallery_rows=64
                )
    for key, ref in out.items():
        assert set(ref) == set(out["numpy", key[1]])
        for name, val in ref.items():
            np.testing.assert_array_equal(val, out["numpy", key[1]][name], err_msg=f"{key} {name}")
        assert 0.0 < ref["ap"].mean() < 1.0


def test_kernel_counts_do_not_depend_on_the_thread_count() -> None:
    pytest.importorskip("numba")
    s, rel_idx, rel_mask, col_pos = _tied_block(6, q=64)
    rs = s[np.arange(s.shape[0])[:, None], rel_idx]
    one = _kernels.rank_counts(s, col_pos, rs, col_pos[rel_idx], rel_mask, True, 1)
    two = _kernels.rank_counts(s, col_pos, rs, col_pos[rel_idx], rel_mask, True, 2)
    assert one is not None and two is not None
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ap", ["sklearn", "ssnet"])
@pytest.mark.parametrize("block_elems", [2600, 1 << 20])
def test_one_matrix_for_both_directions_equals_ranking_each_apart(
    monkeypatch, ap: str, block_elems: int
) -> None:
    """rank_retrieval_pair (rows -> voice queries, columns -> face queries, diagonal
    blocks first) against rank_retrieval per direction: integer vectors, so every dot
    product is exact and ties abound; identities present on one side only; blocks of
    ~10 voice rows (many blocks, identities cut at block edges) and one block."""
    pytest.importorskip("numba")
    monkeypatch.setattr(metrics, "_PAIR_MIN", 0)
    rng = np.random.default_rng(17)
    v = rng.integers(-1, 2, size=(300, 6)).astype(np.float32)
    f = rng.integers(-1, 2, size=(260, 6)).astype(np.float32)
    vc = rng.integers(0, 25, 300)
    fc = rng.integers(2, 27, 260)  # codes 0-1 voices only, 25-26 faces only
    got = metrics.rank_retrieval_pair(v, f, vc, fc, "dot", ap, (1, 5, 20), block_elems)
    assert got is not None
    refs = (
        rank_retrieval(v, f, vc, fc, "dot", ap, (1, 5, 20), "v2f"),
        rank_retrieval(f, v, fc, vc, "dot", ap, (1, 5, 20), "f2v"),
    )
    for g, ref in zip(got, refs, strict=True):
        assert set(g) == set(ref)
        for key in ref:
            np.testing.assert_allclose(g[key], ref[key], rtol=0, atol=1e-12, err_msg=key)
        assert 0.0 < ref["ap"].mean() < 1.0
    assert (refs[1]["n_rel"][fc >= 25] == 0).all() and (got[1]["ap"][fc >= 25] == 0).all()


def test_pair_without_the_kernel_says_so(monkeypatch) -> None:
    monkeypatch.setattr(metrics, "_PAIR_MIN", 0)
    monkeypatch.setenv("VFBENCH_NUMBA", "0")
    z = np.zeros((3, 2), np.float32)
    assert metrics.rank_retrieval_pair(z, z, np.arange(3), np.arange(3)) is None


def test_within_row_counts_against_the_all_pairs_table() -> None:
    """The O(R log R) helpers of the AP (relevant items >= / ranked above each one) equal
    the (Q, R, R) comparison table they replace, with ties and pads."""
    rng = np.random.default_rng(8)
    rs = rng.integers(0, 4, size=(50, 30)).astype(np.float32)
    mask = rng.random((50, 30)) < 0.6
    ref = ((rs[:, None, :] >= rs[:, :, None]) & mask[:, None, :]).sum(axis=2)
    np.testing.assert_array_equal(metrics._count_ge_within(rs, mask), np.where(mask, ref, 0))
    rank = np.stack([rng.permutation(200)[:30] + 1 for _ in range(50)])  # distinct ranks
    st = metrics._ssnet_stats(rank, mask, (1,))
    above = ((rank[:, None, :] <= rank[:, :, None]) & mask[:, None, :]).sum(2)
    n = mask.sum(1)
    ap = np.where(n > 0, np.where(mask, above / rank, 0).sum(1) / np.maximum(n, 1), 0)
    np.testing.assert_allclose(st.ap, ap, rtol=0, atol=1e-12)
