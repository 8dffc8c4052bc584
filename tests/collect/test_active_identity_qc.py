"""Active-speaker correlation, identity clustering and QC rules on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.collect import qc as Q
from vfbench.collect.active import (
    ENV_HOP_S,
    SyncScore,
    lip_opening,
    pearson,
    speech_envelope,
    sync_score,
)
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


def _talking(seconds: float = 4.0, fps: int = 25, seed: int = 0) -> tuple[np.ndarray, ...]:
    """A mouth opening that follows a random syllable envelope, and speech-band audio whose
    loudness follows the same envelope: (frame times, lip opening, audio)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fps)
    t = (np.arange(n) + 0.5) / fps  # frame i shows while audio block i plays
    env = np.clip(np.convolve(rng.standard_normal(n), np.ones(4) / 4, "same") + 0.6, 0.05, None)
    carrier = np.sin(2 * np.pi * 800 * np.arange(SR // fps) / SR).astype(np.float32)
    audio = np.concatenate([0.3 * a * carrier for a in env]).astype(np.float32)
    return t, 0.05 + 0.1 * env, audio


def test_sync_score_genuine_offset_still_and_lag() -> None:
    t, lip, audio = _talking(8.0)
    env = speech_envelope(audio, SR)
    s = sync_score(t, lip, env, 3.0, 6.0)
    assert s is not None and s.corr > 0.7 and s.lag == 0.0
    assert s.z is not None and s.z > 4.0  # far above chance alignment
    # audio 0.12 s late: found inside the +-0.2 s window, at that lag
    late = np.concatenate([np.zeros(int(0.12 * SR), np.float32), audio])
    s2 = sync_score(t, lip, speech_envelope(late, SR), 3.0, 6.0)
    assert s2 is not None and s2.corr > 0.7 and s2.lag == pytest.approx(0.12, abs=0.041)
    # audio 1 s late: outside the window, the best in-window lag is chance level
    off = np.concatenate([np.zeros(SR, np.float32), audio])
    s3 = sync_score(t, lip, speech_envelope(off, SR), 3.0, 6.0)
    assert s3 is not None and s3.corr < 0.4
    # another talker's audio (independent envelope)
    _, _, other = _talking(8.0, seed=5)
    s4 = sync_score(t, lip, speech_envelope(other, SR), 3.0, 6.0)
    assert s4 is not None and s4.corr < 0.4
    assert sync_score(t, np.full_like(lip, 0.1), env, 3.0, 6.0) is None  # still mouth
    assert sync_score(t, lip, env, 20.0, 21.0) is None  # no frames inside


def test_sync_score_matches_plain_loop() -> None:
    """The vectorised lag search equals a loop of np.corrcoef over shifted envelopes."""
    t, lip, audio = _talking(6.0, seed=3)
    env = speech_envelope(audio, SR)
    s = sync_score(t, lip, env, 2.0, 4.0, max_lag_s=0.2)
    assert s is not None
    sel = (t >= 2.0) & (t < 4.0)
    best = -2.0
    for lag in np.arange(-0.2, 0.2 + 1e-9, 0.04):
        e = env[np.rint((t[sel] + lag) / ENV_HOP_S).astype(int)]
        best = max(best, float(np.corrcoef(np.diff(lip[sel]), np.diff(e))[0, 1]))
    assert s.corr == pytest.approx(best, abs=1e-9)


def test_speech_envelope_band_and_hop() -> None:
    x = np.arange(2 * SR) / SR
    tone = np.where(x < 1.0, 0.0, 0.5 * np.sin(2 * np.pi * 1000 * x)).astype(np.float32)
    hum = (0.5 * np.sin(2 * np.pi * 50 * x)).astype(np.float32)
    e = speech_envelope(tone, SR)
    assert len(e) == 200 and e[50] < -60 and e[150] == pytest.approx(10 * np.log10(0.125), abs=1)
    assert speech_envelope(hum, SR)[100] < e[150] - 30  # 50 Hz hum is outside the band


def test_lip_opening_is_scale_free() -> None:
    pts = np.zeros((68, 2), np.float32)
    pts[36:42] = [0, 0]
    pts[42:48] = [40, 0]  # inter-ocular distance 40
    pts[61:64, 0] = [10, 20, 30]  # upper inner lip, left to right
    pts[65:68, 0] = [30, 20, 10]  # lower inner lip runs back (dlib order)
    pts[61:64, 1] = 50
    pts[65:68, 1] = [58, 58, 58]  # 8 px open
    assert lip_opening(pts) == pytest.approx(0.2)
    assert lip_opening(pts * 3) == pytest.approx(0.2)
    assert lip_opening(np.zeros((68, 2))) == 0.0


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
        sync=SyncScore(corr=0.4, lag=0.0, z=3.0, lip_std=0.05),
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
        "not_active_speaker": dict(sync=None),
    }
    for code, change in cases.items():
        got = Q.voice_reasons(**{**ok, **change})  # type: ignore[arg-type]
        assert [Q.reason_code(r) for r in got] == [code], (code, got)
    for sync, why in (
        (SyncScore(corr=-0.1, lag=0.1, z=0.0, lip_std=0.05), "lip/speech correlation -0.10"),
        (SyncScore(corr=0.5, lag=0.0, z=3.0, lip_std=0.001), "the mouth barely moves"),
    ):
        got = Q.voice_reasons(**{**ok, "sync": sync})  # type: ignore[arg-type]
        assert len(got) == 1 and got[0].startswith("not_active_speaker") and why in got[0]
    # min_av_corr = -1 only reports the correlation
    off = VoiceQC(min_av_corr=-1.0)
    assert Q.voice_reasons(**{**ok, "sync": None, "qc": off}) == []  # type: ignore[arg-type]


def test_count_reasons_counts_codes_once_per_item() -> None:
    got = Q.count_reasons([["blurry: a", "blurry: b"], ["too_small: x"], []])
    assert got == {"blurry": 1, "too_small": 1}
