"""Speech segments and segment QC on hand-built signals."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.collect.config import SpeechConfig
from vfbench.collect.speech import (
    Segment,
    frame_energy_db,
    noise_floor_db,
    segment_stats,
    segments_from_mask,
    speech_segments,
)

SR = 16000


def test_segments_from_mask_merge_pad_drop_split() -> None:
    # frames of 0.1 s: runs [1,3) [4,6) (gap 0.1 -> merged), [10,11) (0.1 s -> dropped)
    m = np.zeros(40, bool)
    m[1:3] = m[4:6] = m[10:11] = True
    m[15:40] = True  # 2.5 s run -> split into 2 pieces of <= 1.5 s
    segs = segments_from_mask(
        m, 0.1, 4.0, merge_gap_s=0.15, pad_s=0.05, min_len_s=0.3, max_len_s=1.5
    )
    assert segs[0] == Segment(0.05, 0.65)
    assert len(segs) == 3
    assert segs[1].start == pytest.approx(1.45) and segs[2].end == pytest.approx(4.0)
    assert segs[1].duration == pytest.approx(segs[2].duration)


def test_frame_energy_of_known_signals() -> None:
    x = np.full(SR, 0.5, np.float32)  # power 0.25 -> -6.02 dB
    e = frame_energy_db(x, SR, 30)
    assert len(e) == SR // 480 and np.allclose(e, 10 * np.log10(0.25), atol=1e-3)
    assert frame_energy_db(np.zeros(100, np.float32), SR, 30).size == 0
    assert noise_floor_db(np.array([-60, -50, -10, -10, -10, -10, -10, -10, -10, -10.0])) < -49


def _tone_bursts(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(4 * SR) / SR
    x = rng.standard_normal(len(t)).astype(np.float32) * 0.001  # -60 dB noise
    speech = (t > 1.0) & (t < 2.5)
    # a voiced, speech-like signal: harmonics of 140 Hz with 4 Hz syllable modulation
    v = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    x[speech] += (0.2 * v * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)))[speech].astype(np.float32)
    return x


@pytest.mark.parametrize("vad", ["energy", "webrtc"])
def test_vad_finds_the_burst(vad: str) -> None:
    x = _tone_bursts(np.random.default_rng(0))
    segs, mask = speech_segments(x, SR, SpeechConfig(vad=vad))  # type: ignore[arg-type]
    assert len(segs) == 1
    # padded by pad_s = 0.1; webrtcvad adds up to ~0.25 s of hangover at the end
    assert segs[0].start == pytest.approx(0.9, abs=0.1)
    assert 2.5 <= segs[0].end <= 2.85
    st = segment_stats(x, SR, segs[0], mask, 30, noise_floor_db(frame_energy_db(x, SR, 30)))
    assert st.snr_db > 40  # ~ -15 dB speech over -60 dB noise
    assert st.clip_frac == 0.0 and st.speech_ratio > 0.8


def test_silence_and_near_silence_have_no_segments() -> None:
    for x in (
        np.zeros(3 * SR, np.float32),
        np.random.default_rng(1).standard_normal(3 * SR).astype(np.float32) * 1e-4,
    ):
        assert speech_segments(x, SR, SpeechConfig())[0] == []
        assert speech_segments(x, SR, SpeechConfig(vad="energy"))[0] == []


def test_clipping_fraction() -> None:
    x = _tone_bursts(np.random.default_rng(2))
    x[SR + 100 : SR + 300] = 1.0  # 200 clipped samples inside the segment
    segs, mask = speech_segments(x, SR, SpeechConfig(vad="energy"))
    st = segment_stats(x, SR, segs[0], mask, 30, -60.0)
    n = int(segs[0].end * SR) - int(segs[0].start * SR)
    assert st.clip_frac == pytest.approx(200 / n, rel=1e-3)
