"""Active-speaker correlation, identity clustering and QC rules on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.collect import qc as Q
from vfbench.collect.active import av_correlation, energy_envelope, pearson
from vfbench.collect.config import FaceQC, VoiceQC
from vfbench.collect.identity import average_linkage_clusters, dominant_cluster

SR = 16000


def test_pearson_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    y = y + x
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert pearson(np.ones(10), y[:10]) is None
    assert pearson(x[:4], y[:4]) is None


def test_av_correlation_talking_vs_still_face() -> None:
    fps = 25
    t = np.arange(3 * fps) / fps
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)  # syllable rate 3 Hz
    audio = np.concatenate(
        [np.full(SR // fps, a, np.float32) * np.sin(np.arange(SR // fps)) for a in env]
    )
    motion = 10 * np.log10(env**2 / 2 + 1e-10) + 100  # mouth opening follows loudness (dB)
    t_end = t + 1 / fps  # motion at frame end aligns with the window [t - 1/fps, t)
    c = av_correlation(t_end, motion, audio, SR, 0.0, 3.0)
    assert c is not None and c > 0.9
    assert av_correlation(t_end, np.zeros_like(t), audio, SR, 0.0, 3.0) is None  # still photo
    assert av_correlation(t_end, -motion, audio, SR, 0.0, 3.0) < -0.9  # type: ignore[operator]
    assert av_correlation(t_end, motion, audio, SR, 5.0, 6.0) is None  # no frames inside


def test_energy_envelope_window() -> None:
    audio = np.concatenate([np.zeros(SR, np.float32), np.ones(SR, np.float32)])
    e = energy_envelope(audio, SR, np.array([0.5, 1.5]), 0.1)
    assert e[0] < -90 and e[1] == pytest.approx(0.0, abs=1e-6)


def test_clusters_and_dominant_identity() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(128), rng.standard_normal(128)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)  # |a - b| ~ 1.4
    x = np.stack([a + 0.01 * rng.standard_normal(128) for _ in range(3)] + [b])
    labels = average_linkage_clusters(x, 0.5)
    assert len(set(labels[:3])) == 1 and labels[3] != labels[0]
    _, mask = dominant_cluster(x, np.ones(4), 0.5)
    assert mask.tolist() == [True, True, True, False]
    # the weights (speaking seconds) decide, not the number of tracks
    _, mask = dominant_cluster(x, np.array([1.0, 1.0, 1.0, 10.0]), 0.5)
    assert mask.tolist() == [False, False, False, True]
    assert dominant_cluster(np.zeros((0, 128)), np.zeros(0), 0.5)[1].size == 0
    assert dominant_cluster(x[:1], np.ones(1), 0.5)[1].tolist() == [True]


def test_face_reasons_each_threshold() -> None:
    qc = FaceQC(min_size=64, min_sharpness=15, min_pose=0.5, min_det_score=0.2)
    assert Q.face_reasons(100, 50, 0.9, 1.0, qc) == []
    got = Q.face_reasons(40, 3, 0.1, 0.0, qc)
    assert [Q.reason_code(r) for r in got] == [
        "too_small",
        "blurry",
        "non_frontal",
        "low_det_score",
    ]
    assert "40 px < qc_face.min_size 64" in got[0]


def test_near_duplicates_compare_with_kept_only() -> None:
    t = [np.full((4, 4), v, np.float32) for v in (0, 1, 10, 11.5, 2)]
    # 1 dup of 0; 10 kept; 11.5 dup of 10 (1.5 <= 2); 2 dup of 0 (2 <= 2)
    assert Q.near_duplicates(t, 2.0) == [None, 0, None, 2, 0]


def test_spread_quota() -> None:
    assert Q.spread_quota(3, 5).all()
    k = Q.spread_quota(10, 3)
    assert k.sum() == 3 and k[0] and k[-1]
    assert not Q.spread_quota(4, 0).any()


def test_voice_reasons_each_threshold() -> None:
    qc = VoiceQC()
    ok = dict(
        duration=2.0,
        snr_db=30.0,
        clip_frac=0.0,
        speech_ratio=0.9,
        n_tracks=1,
        other_overlap=0.0,
        coverage=1.0,
        av_corr=0.4,
        qc=qc,
    )
    assert Q.voice_reasons(**ok) == []  # type: ignore[arg-type]
    cases = {
        "too_short": dict(duration=0.5),
        "too_long": dict(duration=20.0),
        "low_snr": dict(snr_db=3.0),
        "clipping": dict(clip_frac=0.01),
        "low_speech_ratio": dict(speech_ratio=0.2),
        "no_face_on_screen": dict(n_tracks=0),
        "multiple_faces": dict(n_tracks=2, other_overlap=0.5),
        "face_coverage_low": dict(coverage=0.5),
        "not_active_speaker": dict(av_corr=None),
    }
    for code, change in cases.items():
        got = Q.voice_reasons(**{**ok, **change})  # type: ignore[arg-type]
        assert [Q.reason_code(r) for r in got] == [code], (code, got)
    # min_av_corr = -1 only reports the correlation
    off = VoiceQC(min_av_corr=-1.0)
    assert Q.voice_reasons(**{**ok, "av_corr": None, "qc": off}) == []  # type: ignore[arg-type]


def test_count_reasons_counts_codes_once_per_item() -> None:
    got = Q.count_reasons([["blurry: a", "blurry: b"], ["too_small: x"], []])
    assert got == {"blurry": 1, "too_small": 1}
