"""CollectConfig: validation names the key; the per-video hash tracks per-video settings."""

from __future__ import annotations

import pytest

from vfbench.collect.config import CollectConfig
from vfbench.config import load_config
from vfbench.errors import ConfigError


def test_defaults_and_overrides() -> None:
    cfg = load_config(CollectConfig, None, ["qc_face.min_size=80", "speech.vad=energy"])
    assert cfg.qc_face.min_size == 80 and cfg.speech.vad == "energy"
    assert cfg.sampling.detect_fps == 5.0


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("qc_face.min_sise=3", r"unknown key 'qc_face.min_sise'"),
        ("sampling.detect_fps=0", r"sampling: detect_fps must be in \(0, 60\]"),
        ("speech.frame_ms=25", r"speech: frame_ms must be 10, 20 or 30"),
        ("speech.vad=silero", r"speech.vad: 'silero' is not one of"),
        ("tracking.descriptors_per_track=0", r"descriptors_per_track must be >= 1"),
        ("export.split_ratios=[-1, 1, 1]", r"split_ratios must be >= 0"),
        ("qc_face.dup_max_dist=2.5", r"dup_max_dist must be in \[0, 1\].*grey levels"),
        ("qc_voice.max_av_lag_s=3", r"max_av_lag_s must be in \[0, 1\]"),
        ("identity.min_voice_sim=1.5", r"min_voice_sim must be in \[0, 1\)"),
    ],
)
def test_bad_values_name_the_key(override: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(CollectConfig, None, [override])


def test_video_hash_changes_only_with_per_video_settings() -> None:
    base = CollectConfig().video_hash()
    assert load_config(CollectConfig, None, ["qc_voice.min_snr_db=5"]).video_hash() != base
    assert load_config(CollectConfig, None, ["sampling.detect_fps=2"]).video_hash() != base
    # identity clustering and export run after the per-video stage: no redo needed
    assert load_config(CollectConfig, None, ["identity.cluster_max_dist=0.4"]).video_hash() == base
    assert load_config(CollectConfig, None, ["export.split_seed=7"]).video_hash() == base
    # the voice-consistency threshold is applied per person at the end of the run
    assert load_config(CollectConfig, None, ["identity.min_voice_sim=0.6"]).video_hash() == base
