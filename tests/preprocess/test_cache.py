"""Tests of the shard writer, the memory-mapped reader and merging."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from vfbench.errors import DataError
from vfbench.preprocess.cache import (
    FeatureCache,
    list_shards,
    merge_caches,
    read_shard_index,
    shard_complete,
    shard_name,
    update_cache_info,
    write_shard,
)


def _build(root: Path, shards: dict[int, dict[str, np.ndarray]], failed=None, h="abc") -> None:
    for k, arrays in shards.items():
        write_shard(
            root / f"voice-{h}", shard_name(k, arrays), "voice", h, arrays, failed or {}, {}
        )
    update_cache_info(root, "voice", h, {"sample_rate": 16000, "hop_length": 160})


def test_roundtrip_float16_and_uint8(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(257, 33)).astype(np.float16)
    b = rng.normal(size=(257, 7)).astype(np.float16)
    f = rng.integers(0, 256, size=(112, 112, 3), dtype=np.uint8)
    write_shard(
        tmp_path / "voice-h1", "shard-000000-x", "voice", "h1", {"a": a, "b": b}, {"c": "silent: x"}
    )
    write_shard(tmp_path / "face-h2", "shard-000000-y", "face", "h2", {"f": f}, {})
    update_cache_info(tmp_path, "voice", "h1", {"sample_rate": 16000})
    update_cache_info(tmp_path, "face", "h2", {"size": 112})
    cache = FeatureCache.open(tmp_path)
    assert cache.ids("voice") == ["a", "b"]
    assert cache.ids("face") == ["f"]
    va = cache.load("voice", "a")
    assert va.dtype == np.float32 and va.shape == (257, 33)
    np.testing.assert_array_equal(va, a.astype(np.float32))
    np.testing.assert_array_equal(cache.load("voice", "b"), b.astype(np.float32))
    ff = cache.load("face", "f")
    assert ff.dtype == np.uint8
    np.testing.assert_array_equal(ff, f)
    assert cache.failed == {("voice", "c"): "silent: x"}
    assert cache.config == {"audio": {"sample_rate": 16000}, "face": {"size": 112}}
    # offsets are 64-byte aligned
    idx = read_shard_index(tmp_path / "voice-h1" / "shard-000000-x.json")
    assert all(e["offset"] % 64 == 0 for e in idx["items"])
    # pickling drops open maps but keeps working
    c2 = pickle.loads(pickle.dumps(cache))
    np.testing.assert_array_equal(c2.load("voice", "a"), va)


def test_open_refuses_non_cache_and_names_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a feature cache"):
        FeatureCache.open(tmp_path)
    (tmp_path / "cache.json").write_text('{"format": "other"}')
    with pytest.raises(DataError, match="cache.json"):
        FeatureCache.open(tmp_path)
    with pytest.raises(DataError, match="not found"):
        FeatureCache.open(tmp_path / "nope")


def test_missing_item_error_names_reason(tmp_path: Path) -> None:
    _build(tmp_path, {0: {"a": np.zeros((2, 2), np.float16)}}, failed={"z": "too_short: 0.1 s"})
    cache = FeatureCache.open(tmp_path)
    with pytest.raises(DataError, match="'z'.*too_short"):
        cache.load("voice", "z")


def test_truncated_blob_is_incomplete_and_reader_names_file(tmp_path: Path) -> None:
    _build(tmp_path, {0: {"a": np.ones((4, 4), np.float16)}})
    d = tmp_path / "voice-abc"
    (index,) = list_shards(d)
    assert shard_complete(d, index.stem)
    blob = d / (index.stem + ".bin")
    blob.write_bytes(blob.read_bytes()[:-3])
    assert not shard_complete(d, index.stem)
    with pytest.raises(DataError, match=index.name):
        FeatureCache.open(tmp_path)


def test_orphan_blob_without_index_is_ignored(tmp_path: Path) -> None:
    _build(tmp_path, {0: {"a": np.ones((4, 4), np.float16)}})
    (tmp_path / "voice-abc" / "shard-000001-deadbeef.bin").write_bytes(b"partial")
    assert FeatureCache.open(tmp_path).ids("voice") == ["a"]


def test_failed_then_succeeded_elsewhere_is_not_failed(tmp_path: Path) -> None:
    _build(tmp_path, {0: {"a": np.ones((1, 1), np.float16)}, 1: {}}, failed={"a": "silent: x"})
    assert FeatureCache.open(tmp_path).failed == {}


def test_merge_parts_and_refuse_mixed_configs(tmp_path: Path) -> None:
    p1, p2, out = tmp_path / "p1", tmp_path / "p2", tmp_path / "out"
    _build(p1, {0: {"a": np.full((2, 3), 1, np.float16)}})
    _build(p2, {1: {"b": np.full((2, 3), 2, np.float16)}})
    merge_caches([p1, p2], out)
    cache = FeatureCache.open(out)
    assert cache.ids("voice") == ["a", "b"]
    assert cache.load("voice", "b")[0, 0] == 2.0
    # in place: merge p2 into p1
    merge_caches([p1, p2], p1)
    assert FeatureCache.open(p1).ids("voice") == ["a", "b"]
    p3 = tmp_path / "p3"
    _build(p3, {2: {"c": np.zeros((1, 1), np.float16)}}, h="zzz")
    with pytest.raises(DataError, match="p3.*config"):
        merge_caches([p1, p3], tmp_path / "bad")


def test_cache_json_records_hash_folder(tmp_path: Path) -> None:
    _build(tmp_path, {0: {"a": np.zeros((1, 1), np.float16)}})
    info = json.loads((tmp_path / "cache.json").read_text())
    assert info["modalities"]["voice"]["dir"] == "voice-abc"
    assert (tmp_path / "voice-abc" / "config.json").is_file()


def test_verify_finds_a_flipped_byte_and_fsync_path_writes_the_same(tmp_path: Path) -> None:
    arrays = {"a": np.arange(64, dtype=np.float16).reshape(8, 8), "b": np.ones((3, 5), np.float16)}
    write_shard(tmp_path / "voice-h", "shard-000000-x", "voice", "h", arrays, {}, fsync=True)
    update_cache_info(tmp_path, "voice", "h", {})
    assert FeatureCache.open(tmp_path).verify() == []
    blob = tmp_path / "voice-h" / "shard-000000-x.bin"
    raw = bytearray(blob.read_bytes())
    off = read_shard_index(tmp_path / "voice-h" / "shard-000000-x.json")["items"][1]["offset"]
    raw[off + 3] ^= 0xFF
    blob.write_bytes(bytes(raw))
    problems = FeatureCache.open(tmp_path).verify()
    assert len(problems) == 1 and "'b'" in problems[0] and "shard-000000-x.bin" in problems[0]


def test_load_window_of_frames(tmp_path: Path) -> None:
    spec = np.arange(5 * 20, dtype=np.float16).reshape(5, 20)
    _build(tmp_path, {0: {"a": spec}})
    cache = FeatureCache.open(tmp_path)
    w = cache.load("voice", "a", frames=(3, 9))
    assert w.flags["C_CONTIGUOUS"] and w.dtype == np.float32
    np.testing.assert_array_equal(w, spec[:, 3:9].astype(np.float32))
    with pytest.raises(DataError, match="frames .* outside 0..20 .*'a'"):
        cache.load("voice", "a", frames=(15, 25))
