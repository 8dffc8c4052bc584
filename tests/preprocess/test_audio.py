"""Tests of decoding, resampling, rejection rules, VAD and the STFT front end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _pp_media import speechlike, write_av_audio, write_video_only

from vfbench.preprocess.audio import (
    ItemRejected,
    decode_audio,
    load_audio,
    process_voice,
    resample,
    spectrogram,
    stft_magnitude,
    vad_trim,
)
from vfbench.preprocess.config import AudioConfig


def _reference_stft(x: np.ndarray, n_fft=512, win=400, hop=160) -> np.ndarray:
    """Plain loop: frame t = x[t*hop : t*hop+win] (reflect-extended), symmetric Hamming."""
    n_frames = len(x) // hop
    need = max(0, (n_frames - 1) * hop + win - len(x))
    xp = np.concatenate([x, x[-2 : -2 - need : -1]]) if need else x
    w = np.hamming(win)
    cols = [np.abs(np.fft.rfft(xp[t * hop : t * hop + win] * w, n=n_fft)) for t in range(n_frames)]
    return np.array(cols).T


@pytest.mark.parametrize("seconds", [1.0, 2.5, 3.0])
def test_stft_shape_is_257_by_100k(seconds: float) -> None:
    x = np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32)
    spec = stft_magnitude(x)
    assert spec.shape == (257, round(100 * seconds))


def test_stft_matches_reference_loop() -> None:
    x = np.random.default_rng(1).standard_normal(16000 + 77)
    ref = _reference_stft(x)
    ours = stft_magnitude(x.astype(np.float32))
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3)


def test_sine_peaks_in_its_bin() -> None:
    t = np.arange(16000) / 16000
    spec = stft_magnitude(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    # 1000 Hz / (16000 / 512) Hz per bin; the last frame reads the reflected tail
    assert np.all(spec[:, :-1].argmax(axis=0) == 32)


def test_normalised_bins_have_zero_mean_unit_std_and_log_option() -> None:
    x = speechlike(2.0, 16000)
    spec = spectrogram(x, AudioConfig())
    np.testing.assert_allclose(spec.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(spec.std(axis=1), 1, atol=1e-2)
    raw = spectrogram(x, AudioConfig(normalize=False))
    log = spectrogram(x, AudioConfig(normalize=False, magnitude="log"))
    np.testing.assert_allclose(log, np.log(raw + 1e-6), rtol=1e-5, atol=1e-5)


def test_resample_keeps_frequency_and_amplitude() -> None:
    sr = 44100
    t = np.arange(sr) / sr
    y = resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), sr, 16000)
    assert y.size == 16000 and y.dtype == np.float32
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    assert abs(spec.argmax() - 440) <= 1  # 1 Hz bins
    assert abs(np.sqrt(np.mean(y[1000:-1000] ** 2)) - np.sqrt(0.5)) < 0.01


def test_stereo_44k_flac_becomes_16k_mono_of_right_length(tmp_path: Path) -> None:
    sr = 44100
    t = np.arange(2 * sr) / sr
    left = 0.5 * np.sin(2 * np.pi * 300 * t)
    right = np.zeros_like(left)
    sf.write(tmp_path / "s.flac", np.stack([left, right], axis=1), sr)
    res = load_audio(tmp_path / "s.flac", AudioConfig())
    assert res.wave.size == 32000  # exactly 2.0 s at 16 kHz
    assert res.stats["orig_sample_rate"] == 44100 and res.stats["channels"] == 2
    # mono = mean of channels: a 0.5-amplitude sine on one channel -> 0.25 amplitude
    assert abs(np.abs(res.wave[2000:-2000]).max() - 0.25) < 0.01
    spec = np.abs(np.fft.rfft(res.wave))
    assert abs(spec.argmax() * 16000 / res.wave.size - 300) < 1


def _click(seconds: float, sr: int, at: float) -> np.ndarray:
    x = 0.001 * np.random.default_rng(0).standard_normal(int(seconds * sr)).astype(np.float32)
    x[int(at * sr) : int(at * sr) + 40] = 0.8
    return x


@pytest.mark.parametrize(
    ("fmt", "codec", "ext"), [("mp4", "aac", "m4a"), ("adts", "aac", "aac"), ("mp3", "mp3", "mp3")]
)
def test_encoder_priming_is_removed(tmp_path: Path, fmt: str, codec: str, ext: str) -> None:
    """A click at 0.5 s must decode at 0.5 s (AAC/MP3 encoders prepend ~1024+ samples)."""
    p = tmp_path / f"c.{ext}"
    write_av_audio(p, _click(2.0, 44100, 0.5), 44100, fmt, codec)
    cfg = AudioConfig(silence_dbfs=-200)
    res = load_audio(p, cfg)
    onset = np.flatnonzero(np.abs(res.wave) > 0.3)[0] / 16000
    assert abs(onset - 0.5) < 0.003, onset
    if ext != "aac":  # containers that state the duration: exact length
        assert abs(res.wave.size / 16000 - 2.0) < 0.002


def test_mp4_with_video_decodes_audio_stream(tmp_path: Path) -> None:
    p = tmp_path / "v.mp4"
    write_av_audio(p, speechlike(1.0, 48000), 48000, "mp4", "aac", video=True)
    spec, stats = process_voice(p, AudioConfig())
    assert spec.shape == (257, 100) and spec.dtype == np.float16
    assert stats["orig_sample_rate"] == 48000


def test_real_grid_clip(shared_dir: Path) -> None:
    p = shared_dir / "media" / "grid" / "bbaf2n.mpg"
    res = load_audio(p, AudioConfig())
    assert res.stats["channels"] == 2 and res.stats["orig_sample_rate"] == 44100
    assert abs(res.wave.size / 16000 - 2.978) < 0.01


@pytest.mark.parametrize(
    ("code", "make"),
    [
        ("zero_bytes", lambda p: p.write_bytes(b"")),
        ("too_short", lambda p: sf.write(p, speechlike(0.1, 16000), 16000)),
        ("silent", lambda p: sf.write(p, np.zeros(16000, np.float32), 16000)),
        ("clipped", lambda p: sf.write(p, np.clip(8 * speechlike(1.0, 16000), -1, 1), 16000)),
        ("undecodable", lambda p: p.write_bytes(b"RIFF....WAVEfmt garbage" * 10)),
    ],
)
def test_bad_wavs_are_rejected_with_code_and_file(tmp_path: Path, code: str, make) -> None:
    p = tmp_path / f"{code}.wav"
    make(p)
    with pytest.raises(ItemRejected, match=f"^{code}: .*{code}.wav") as info:
        load_audio(p, AudioConfig())
    assert info.value.code == code


def test_video_only_m4a_has_no_audio_stream(tmp_path: Path) -> None:
    p = tmp_path / "v.m4a"
    write_video_only(p)
    with pytest.raises(ItemRejected, match="no_audio_stream: .*v.m4a.*video") as info:
        decode_audio(p)
    assert info.value.code == "no_audio_stream"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ItemRejected, match="missing_file: .*nope.flac"):
        decode_audio(tmp_path / "nope.flac")


def test_energy_vad_trims_leading_and_trailing_silence() -> None:
    sr = 16000
    x = np.concatenate([np.zeros(8000), speechlike(1.0, sr), np.zeros(8000)]).astype(np.float32)
    x += 1e-4 * np.random.default_rng(0).standard_normal(x.size).astype(np.float32)
    y = vad_trim(x, sr, AudioConfig(vad="energy"))
    assert abs(y.size / sr - 1.0) < 0.07
    assert vad_trim(x, sr, AudioConfig(vad="none")).size == x.size


def test_webrtc_vad_removes_silence() -> None:
    sr = 16000
    x = np.concatenate([np.zeros(16000), speechlike(1.0, sr, amp=0.5)]).astype(np.float32)
    y = vad_trim(x, sr, AudioConfig(vad="webrtc", vad_aggressiveness=3))
    assert y.size <= x.size - 0.8 * sr


def test_max_duration_keeps_the_start(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", speechlike(3.0, 16000), 16000)
    res = load_audio(tmp_path / "a.wav", AudioConfig(max_duration=1.25))
    assert res.wave.size == 20000
