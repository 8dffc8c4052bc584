"""Scoring: both strategies and callables agree with a naive reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vfbench.errors import EvaluationError
from vfbench.evaluate.scoring import mean_vectors, normalize, pair_scores, score_matrix


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(30, 8)).astype(np.float32)
    f = rng.normal(size=(25, 8)).astype(np.float32)
    vi = rng.integers(0, 30, size=(200, 1))
    fi = rng.integers(0, 25, size=(200, 3))
    return v, f, vi, fi


@pytest.mark.parametrize("strategy", ["gather", "matmul", "auto"])
def test_pair_scores_cosine_equals_naive(data, strategy):
    v, f, vi, fi = data
    got = pair_scores(v, f, vi, fi, "cosine", strategy=strategy, block_bytes=512)
    vn, fn = normalize(v), normalize(f)
    ref = np.einsum("tkd,tkd->tk", np.broadcast_to(vn[vi], (200, 3, 8)), fn[fi])
    assert got.shape == (200, 3)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_l2_dot_and_callable(data):
    v, f, vi, fi = data
    l2 = pair_scores(v, f, vi, fi, "l2", strategy="gather")
    ref = -((v[vi] - f[fi]) ** 2).sum(-1)
    np.testing.assert_allclose(l2, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        pair_scores(v, f, vi, fi, "l2", strategy="matmul"), ref, rtol=1e-4, atol=1e-4
    )
    dot = pair_scores(v, f, vi, fi, "dot")
    np.testing.assert_allclose(dot, (v[vi] * f[fi]).sum(-1), rtol=1e-5, atol=1e-5)
    calls = []

    def neg_l1(a, b):
        calls.append(a.shape)
        return -np.abs(a[:, None, :] - b[None, :, :]).sum(-1)

    got = pair_scores(v, f, vi, fi, neg_l1)
    np.testing.assert_allclose(got, -np.abs(v[vi] - f[fi]).sum(-1), rtol=1e-5)
    assert calls


def test_bad_scorers_raise(data):
    v, f, vi, fi = data
    with pytest.raises(EvaluationError, match="unknown scorer 'hamming'"):
        pair_scores(v, f, vi, fi, "hamming")
    with pytest.raises(EvaluationError, match="returned shape"):
        score_matrix(v, f, lambda a, b: np.zeros((2, 2)))
    with pytest.raises(EvaluationError, match="NaN"):
        score_matrix(v, f, lambda a, b: np.full((a.shape[0], b.shape[0]), np.nan))
    with pytest.raises(EvaluationError, match="dim"):
        score_matrix(v, f[:, :4], "cosine")


def test_mean_vectors_ignores_padding():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]], np.float32)
    got = mean_vectors(x, np.array([[0, 1], [2, -1]]))
    np.testing.assert_allclose(got, [[0.5, 0.5], [2.0, 2.0]])


def test_threaded_gather_is_bit_identical_to_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    v = normalize(rng.normal(size=(3000, 32)).astype(np.float32))
    f = normalize(rng.normal(size=(2500, 32)).astype(np.float32))
    n = 200_003  # > the single-thread threshold, not a multiple of any chunk size
    vi, fi = rng.integers(0, 3000, n), rng.integers(0, 2500, n)
    got = {}
    for threads in ("1", "3"):
        monkeypatch.setenv("VFBENCH_THREADS", threads)
        for scorer in ("cosine", "l2"):
            got[threads, scorer] = pair_scores(v, f, vi, fi, scorer, True, strategy="gather")
    for scorer in ("cosine", "l2"):
        assert np.array_equal(got["1", scorer], got["3", scorer])
    ref = np.einsum("pd,pd->p", v[vi[:1000]], f[fi[:1000]])
    assert np.allclose(got["3", "cosine"][:1000], ref, atol=1e-6)
    monkeypatch.setenv("VFBENCH_THREADS", "many")
    with pytest.raises(EvaluationError, match="VFBENCH_THREADS"):
        pair_scores(v, f, vi, fi, "cosine", True, strategy="gather")


@pytest.mark.parametrize("impl", ["faiss", "numba"])
def test_compiled_kernel_matches_numpy_and_ignores_thread_count(
    monkeypatch: pytest.MonkeyPatch, impl: str
) -> None:
    from vfbench.evaluate import _kernels, scoring

    if impl == "numba":
        monkeypatch.setenv("VFBENCH_FAISS", "0")  # the numba kernel
        if _kernels.pair_dots_kernel() is None:
            pytest.skip("numba not available")
    elif _kernels.faiss_module() is None:
        pytest.skip("faiss not available")
    monkeypatch.setattr(scoring, "_KERNEL_MIN_PAIRS", 1000)
    monkeypatch.setattr(_kernels, "_FAISS_CHUNK", 1111)  # several chunks, one partial
    rng = np.random.default_rng(7)
    v = rng.normal(size=(500, 40)).astype(np.float32)
    f = rng.normal(size=(400, 40)).astype(np.float32)
    v[3] = 0.0  # a zero row scores 0 by cosine on both paths
    vi, fi = rng.integers(0, 500, (3000, 1)), rng.integers(0, 400, (3000, 2))
    vi[:5] = 3
    vv, ff = np.broadcast_arrays(vi, fi)
    for scorer in ("cosine", "dot", "l2"):
        got = {}
        for threads in ("1", "2"):
            monkeypatch.setenv("VFBENCH_THREADS", threads)
            got[threads] = pair_scores(v, f, vi, fi, scorer, strategy="gather")
        assert np.array_equal(got["1"], got["2"])  # one thread per pair: same bits
        assert _kernels.scoring_path(0).startswith(f"compiled kernel ({impl} ")
        monkeypatch.setenv("VFBENCH_NUMBA", "0")  # the numpy path
        ref = pair_scores(v, f, vi, fi, scorer, strategy="gather")
        monkeypatch.delenv("VFBENCH_NUMBA")
        assert got["1"].shape == ref.shape == (3000, 2)
        assert np.allclose(got["1"], ref, rtol=1e-5, atol=1e-4), scorer
        if scorer == "cosine":
            assert np.all(got["1"][:5] == 0.0)
        if scorer == "dot":  # and against the definition
            assert np.allclose(got["1"], np.einsum("pkd,pkd->pk", v[vv], f[ff]), atol=1e-4)


@pytest.mark.parametrize("scorer", ["cosine", "dot", "l2"])
def test_score_matrix_into_a_buffer_gives_the_same_values(scorer: str) -> None:
    from vfbench.evaluate.scoring import prepare

    rng = np.random.default_rng(4)
    v, f = prepare(rng.normal(size=(7, 5)), rng.normal(size=(9, 5)), scorer)
    buf = np.full((10, 9), np.nan, np.float32)
    got = score_matrix(v, f, scorer, prepared=True, out=buf[:7])
    ref = score_matrix(v, f, scorer, prepared=True)
    assert np.shares_memory(got, buf)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(buf[:7], ref)
    assert np.isnan(buf[7:]).all()


def test_kernel_expected_by_pair_count_and_density(monkeypatch: pytest.MonkeyPatch) -> None:
    from vfbench.evaluate import scoring

    big = scoring._KERNEL_MIN_PAIRS
    assert scoring.kernel_expected(2 * big, 20_000, 20_000)  # a 1M-trial 1:2 list
    assert not scoring.kernel_expected(big - 1, 20_000, 20_000)  # numpy path below
    assert not scoring.kernel_expected(2 * big, 1_000, 1_000)  # dense: the matmul wins
    monkeypatch.setenv("VFBENCH_NUMBA", "0")
    assert not scoring.kernel_expected(2 * big, 20_000, 20_000)


def test_prefetch_loads_once_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    """The prefetch thread loads each kernel once; a second request while it runs neither
    waits for it nor starts another; a later use finds the kernel ready."""
    import threading

    from vfbench.evaluate import _kernels

    monkeypatch.setattr(_kernels, "_KERNEL", {})
    monkeypatch.setattr(_kernels, "_PREFETCHED", set())
    gate = threading.Event()
    loads: list[str] = []

    def fake_compile(name: str) -> object:
        with _kernels._LOCK:
            if name not in _kernels._KERNEL:
                gate.wait(10)
                loads.append(name)
                _kernels._KERNEL[name] = object()
            return _kernels._KERNEL[name]

    monkeypatch.setattr(_kernels, "_compile", fake_compile)
    th = _kernels.prefetch("pair_dots")
    assert th is not None and th.is_alive()
    assert _kernels.prefetch("pair_dots") is None  # returns at once (the lock is held)
    gate.set()
    th.join(10)
    assert loads == ["pair_dots"] and _kernels.prefetch("pair_dots") is None
    assert _kernels._compile("pair_dots") is _kernels._KERNEL["pair_dots"]
    assert loads == ["pair_dots"]
    monkeypatch.setenv("VFBENCH_NUMBA", "off")
    monkeypatch.setattr(_kernels, "_PREFETCHED", set())
    assert _kernels.prefetch("inv_norms") is None


def test_load_trials_prefetches_for_a_large_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, match_list: Any
) -> None:
    from vfbench.evaluate import _kernels, scoring
    from vfbench.evaluate.importers import import_list, load_trials

    lst, v, f = match_list(tmp_path)
    asked: list[tuple[str, ...]] = []
    monkeypatch.setattr(_kernels, "prefetch", lambda *names: asked.append(names))
    load_trials([lst], v, f)
    assert asked == []  # 80 pairs: the numpy path, nothing to load
    monkeypatch.setattr(scoring, "_KERNEL_MIN_PAIRS", 80)
    monkeypatch.setattr(scoring, "_MATMUL_ADVANTAGE", 1.0)
    if _kernels.faiss_module() is not None:
        load_trials([lst], v, f)
        assert asked == []  # faiss scores the pairs: no numba kernel to load
    monkeypatch.setenv("VFBENCH_FAISS", "0")
    load_trials([lst], v, f)
    assert asked == [("pair_dots",)]
    import_list("matching", [lst])  # importing without scoring: no prefetch
    assert asked == [("pair_dots",)]


def test_distinct_counts_kernel_and_numpy_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    from vfbench.evaluate import scoring

    idx = np.random.default_rng(3).integers(0, 5000, 20_000).astype(np.int32)
    want = np.unique(idx).size
    assert scoring._n_distinct(idx, 5000) == want  # numpy below _DISTINCT_KERNEL_MIN
    monkeypatch.setattr(scoring, "_DISTINCT_KERNEL_MIN", 1)  # compiled loop (if numba)
    assert scoring._n_distinct(idx, 5000) == want


def test_prefetch_for_lists_by_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vfbench.evaluate import _kernels, importers

    asked: list[tuple[str, ...]] = []
    monkeypatch.setattr(_kernels, "prefetch", lambda *names: asked.append(names))
    small = tmp_path / "small.txt"
    small.write_text("a.wav b.jpg c.jpg\n")
    importers.prefetch_for_lists([small, tmp_path / "missing.txt"])
    assert asked == []
    monkeypatch.setattr(importers, "PREFETCH_LIST_BYTES", small.stat().st_size)
    monkeypatch.setenv("VFBENCH_FAISS", "0")  # with faiss there is nothing to load
    importers.prefetch_for_lists([small])
    assert asked == [("pair_dots",)]


def test_mean_vectors_without_padding_equal_the_masked_formula_bit_for_bit():
    """Index sets without padding skip the mask product; the means are exactly the masked
    formula's (and the plain per-set mean up to float32 rounding)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 16)).astype(np.float32)
    x[7] = -0.0  # signed zeros and large values survive unchanged
    x[8] = 1e30
    idx = rng.integers(0, 50, size=(200, 3, 8))
    idx[0, 0] = 7
    got = mean_vectors(x, idx)
    masked = ((x[idx] * (idx >= 0)[..., None]).sum(-2) / 8).astype(np.float32)
    np.testing.assert_array_equal(got, masked)
    np.testing.assert_allclose(got, x[idx].astype(np.float64).mean(-2), rtol=1e-5, atol=1e-6)
    padded = idx.copy()
    padded[:, :, 5:] = -1  # the padded path still averages only the valid items
    np.testing.assert_allclose(
        mean_vectors(x, padded), x[idx[:, :, :5]].astype(np.float64).mean(-2), rtol=1e-5, atol=1e-5
    )
