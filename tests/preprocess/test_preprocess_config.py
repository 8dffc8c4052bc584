"""Tests of PreprocessConfig validation and the per-modality config hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbench.config import load_config
from vfbench.errors import ConfigError
from vfbench.preprocess.config import PreprocessConfig


def test_defaults_follow_the_paper() -> None:
    cfg = PreprocessConfig()
    a = cfg.audio
    assert (a.sample_rate, a.n_fft, a.win_length, a.hop_length, a.window) == (
        16000,
        512,
        400,
        160,
        "hamming",
    )
    assert a.n_bins == 257 and a.frames_per_second == 100
    assert cfg.face.size == 112 and cfg.face.box_scale == 1.1


def test_yaml_and_overrides(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("audio:\n  vad: energy\nface:\n  detector: none\n")
    cfg = load_config(PreprocessConfig, p, ["audio.min_duration=1.5", "shard_size=16"])
    assert cfg.audio.vad == "energy" and cfg.face.detector == "none"
    assert cfg.audio.min_duration == 1.5 and cfg.shard_size == 16


@pytest.mark.parametrize(
    ("override", "msg"),
    [
        ("audio.nfft=3", "audio.nfft"),
        ("audio.hop_length=500", "hop_length"),
        ("audio.win_length=600", "win_length"),
        ("audio.vad=loud", "audio.vad"),
        ("face.align=magic", "face.align"),
        ("face.box_scale=0", "box_scale"),
        ("shard_size=0", "shard_size"),
    ],
)
def test_bad_values_are_named(override: str, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        load_config(PreprocessConfig, None, [override])


def test_hash_changes_only_for_the_modality_concerned() -> None:
    base = PreprocessConfig()
    audio = load_config(PreprocessConfig, None, ["audio.magnitude=log"])
    face = load_config(PreprocessConfig, None, ["face.box_scale=1.3"])
    shards = load_config(PreprocessConfig, None, ["shard_size=7"])
    assert audio.modality_hash("voice") != base.modality_hash("voice")
    assert audio.modality_hash("face") == base.modality_hash("face")
    assert face.modality_hash("face") != base.modality_hash("face")
    assert face.modality_hash("voice") == base.modality_hash("voice")
    assert shards.modality_hash("voice") != base.modality_hash("voice")  # another layout
