"""Tests of the training Datasets over the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vfbench.errors import DataError
from vfbench.preprocess.cache import FeatureCache, update_cache_info, write_shard
from vfbench.preprocess.datasets import FaceDataset, VoiceDataset, crop_frames, normalize_bins


@pytest.fixture()
def cache(tmp_path: Path) -> FeatureCache:
    t_long = np.tile(np.arange(400, dtype=np.float16), (257, 1))  # column index as value
    t_short = np.tile(np.arange(100, dtype=np.float16), (257, 1))  # 1 s
    write_shard(
        tmp_path / "voice-v", "shard-000000-a", "voice", "v", {"long": t_long, "short": t_short}, {}
    )
    face = np.zeros((112, 112, 3), np.uint8)
    face[:, :56] = 255  # left half white
    write_shard(tmp_path / "face-f", "shard-000000-b", "face", "f", {"f": face}, {})
    update_cache_info(tmp_path, "voice", "v", {"sample_rate": 16000, "hop_length": 160})
    update_cache_info(tmp_path, "face", "f", {"size": 112})
    return FeatureCache.open(tmp_path)


def test_voice_train_crop_is_contiguous_random_window(cache: FeatureCache) -> None:
    ds = VoiceDataset(cache, ["long"], crop_seconds=2.5, train=True, seed=0)
    starts = set()
    for epoch in range(20):
        ds.set_epoch(epoch)
        x = ds[0]
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
        assert x.shape == (1, 257, 250)
        row = x[0, 0].numpy()
        np.testing.assert_array_equal(row, np.arange(row[0], row[0] + 250))  # contiguous
        starts.add(int(row[0]))
    assert len(starts) > 5 and max(starts) <= 150
    # same (seed, epoch, index) -> same crop
    ds.set_epoch(3)
    a = ds[0]
    ds.set_epoch(3)
    assert torch.equal(a, ds[0])


def test_voice_test_centre_and_full(cache: FeatureCache) -> None:
    x = VoiceDataset(cache, ["long"], crop_seconds=2.5, train=False)[0]
    assert x[0, 0, 0].item() == 75.0  # (400 - 250) // 2
    full = VoiceDataset(cache, ["long"], crop_seconds=None, train=False)[0]
    assert full.shape == (1, 257, 400)


def test_voice_short_clip_wraps(cache: FeatureCache) -> None:
    x = VoiceDataset(cache, ["short"], crop_seconds=2.5, train=False)[0]
    assert x.shape == (1, 257, 250)
    row = x[0, 0].numpy()
    # tiled 3x to 300 frames, centre crop starts at 25: values 25..99, 0..99, 0..74
    expect = np.concatenate([np.arange(25, 100), np.arange(100), np.arange(75)])
    np.testing.assert_array_equal(row, expect)


def test_normalize_crop_matches_normalising_raw_crop() -> None:
    rng = np.random.default_rng(1)
    raw = rng.gamma(2.0, size=(5, 300))
    crop_a = normalize_bins(crop_frames(normalize_bins(raw), 100, False))
    crop_b = normalize_bins(crop_frames(raw, 100, False))
    np.testing.assert_allclose(crop_a, crop_b, atol=1e-4)
    np.testing.assert_allclose(crop_b.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(crop_b.std(axis=1), 1, atol=1e-3)


def test_face_range_and_flip(cache: FeatureCache) -> None:
    x = FaceDataset(cache, ["f"], train=False)[0]
    assert x.shape == (3, 112, 112) and x.dtype == torch.float32
    assert x[:, :, :56].min().item() == 1.0 and x[:, :, 56:].max().item() == -1.0
    ds = FaceDataset(cache, ["f"], train=True, seed=0, max_shift=0, jitter=0.0)
    flipped = 0
    for epoch in range(20):
        ds.set_epoch(epoch)
        y = ds[0]
        assert y.min().item() >= -1.0 and y.max().item() <= 1.0
        if y[0, 0, 0].item() == -1.0:  # white half moved to the right
            flipped += 1
            assert y[0, 0, -1].item() == 1.0
    assert 3 <= flipped <= 17


def test_face_shift_replicates_edge_and_jitter_stays_in_range(cache: FeatureCache) -> None:
    from vfbench.preprocess.datasets import _shift

    img = np.arange(5, dtype=np.float32)[None, :, None].repeat(3, axis=0)  # (3, 5, 1)
    np.testing.assert_array_equal(_shift(img, 0, 2)[0, :, 0], [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(_shift(img, 0, -1)[0, :, 0], [1, 2, 3, 4, 4])
    ds = FaceDataset(cache, ["f"], train=True, seed=5, flip=False, max_shift=4, jitter=0.1)
    clean = FaceDataset(cache, ["f"], train=False)[0]
    changed = 0
    for epoch in range(10):
        ds.set_epoch(epoch)
        y = ds[0]
        assert -1.0 <= y.min().item() and y.max().item() <= 1.0
        changed += int(not torch.equal(y, clean))
    assert changed >= 8


def test_unknown_ids_are_refused(cache: FeatureCache) -> None:
    with pytest.raises(DataError, match="'nope'"):
        VoiceDataset(cache, ["long", "nope"])
    with pytest.raises(DataError, match="'long'"):
        FaceDataset(cache, ["long"])
