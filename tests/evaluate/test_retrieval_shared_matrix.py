"""evaluate() on CMPC-layout retrieval lists (both directions over the same voices and
faces): one score matrix serves both directions, and gives the figures of ranking each
direction apart (the path without numba)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vfbench.evaluate import metrics
from vfbench.evaluate.api import evaluate
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.importers import load_trials
from vfbench.evaluate.protocol import Protocol, protocol_for_trials


def _cmpc_lists(d: Path, n: int = 240, n_ids: int = 12) -> tuple[Embeddings, Embeddings]:
    """CMPC's retrieval layout (``wav_20k.csv`` / ``jpg_20k.csv``: VoxCeleb1 id + path) and
    small integer embeddings: cosine scores with many exact ties."""
    rng = np.random.default_rng(5)
    vi = np.sort(rng.integers(0, n_ids, n))
    fi = np.sort(rng.integers(0, n_ids, n))
    vid = [f"id{10001 + k}/yt{j:09d}/{j:05d}" for j, k in enumerate(vi.tolist())]
    fid = [f"Name_{k:04d}/1.6/yt{j:09d}/{j:07d}" for j, k in enumerate(fi.tolist())]
    (d / "wav_20k.csv").write_text(
        "VoxCeleb1 ID\twav\n"
        + "".join(f"id{10001 + k}\t{p}.wav\n" for k, p in zip(vi, vid, strict=True))
    )
    (d / "jpg_20k.csv").write_text(
        "VoxCeleb1 ID\tjpg\n"
        + "".join(f"id{10001 + k}\t{p}.jpg\n" for k, p in zip(fi, fid, strict=True))
    )
    centre = rng.integers(-1, 2, size=(n_ids, 5))
    v = (centre[vi] + rng.integers(-1, 2, size=(n, 5))).astype(np.float32)
    f = (centre[fi] + rng.integers(-1, 2, size=(n, 5))).astype(np.float32)
    ident_v = [f"id{10001 + k}" for k in vi]
    ident_f = [f"id{10001 + k}" for k in fi]
    return Embeddings(vid, ident_v, v, "voice"), Embeddings(fid, ident_f, f, "face")


@pytest.mark.parametrize("ap", ["sklearn", "ssnet"])
def test_shared_matrix_gives_the_figures_of_each_direction_apart(tmp_path, monkeypatch, ap):
    pytest.importorskip("numba")
    monkeypatch.setattr(metrics, "_PAIR_MIN", 0)  # the path of large lists, on a small one
    v, f = _cmpc_lists(tmp_path)
    ts, _ = load_trials([tmp_path / "wav_20k.csv", tmp_path / "jpg_20k.csv"], v, f)
    p, ts = protocol_for_trials(Protocol(ap=ap, n_boot=50), ts)
    runs = {}
    for numba_on in ("1", "0"):
        monkeypatch.setenv("VFBENCH_NUMBA", numba_on)
        said: list[str] = []
        runs[numba_on] = (evaluate(v, f, None, p, trials=ts, log=said.append), said)
    shared = [m for m in runs["1"][1] if "one score matrix for both directions" in m]
    assert len(shared) == 1  # computed once, the converse group took the memo
    assert not any("one score matrix" in m for m in runs["0"][1])
    a, b = runs["1"][0].metrics, runs["0"][0].metrics
    assert [(m.direction, m.name) for m in a] == [(m.direction, m.name) for m in b]
    assert {m.direction for m in a} == {"v2f", "f2v"}
    for x, y in zip(a, b, strict=True):
        assert x.value == pytest.approx(y.value, abs=1e-12), (x.direction, x.name)
        for k, iv in x.intervals.items():
            assert iv.low == pytest.approx(y.intervals[k].low, abs=1e-12)
            assert iv.high == pytest.approx(y.intervals[k].high, abs=1e-12)
    maps = [m.value for m in a if m.name == "mAP"]
    assert all(0.0 < x < 1.0 for x in maps)


def test_load_trials_prefetches_the_retrieval_kernels_for_large_lists(tmp_path, monkeypatch):
    from vfbench.evaluate import _kernels
    from vfbench.evaluate.importers import import_list

    v, f = _cmpc_lists(tmp_path)
    lists = [tmp_path / "wav_20k.csv", tmp_path / "jpg_20k.csv"]
    asked: list[tuple[str, ...]] = []
    monkeypatch.setattr(_kernels, "prefetch", lambda *names: asked.append(names))
    load_trials(lists, v, f)
    assert asked == []  # 240 x 240 scores: numpy, nothing to load
    monkeypatch.setattr(metrics, "_PAIR_MIN", 240 * 240)
    load_trials(lists, v, f)
    assert asked == [("rank_counts", "column_counts")]
    import_list("cmpc-retrieval", lists, v, f)  # importing without scoring: no prefetch
    assert len(asked) == 1
