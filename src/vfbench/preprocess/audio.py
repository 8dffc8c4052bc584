"""Audio front end: decode any file to 16 kHz mono float32, reject bad clips, STFT features.

Paper Sec. 5.1: "512-point fast Fourier transform, a short-time Fourier transform for each
frame, and normalization ... The input shape for a k-s audio clip is 257 x (100 x k)".
Here: 25 ms Hamming windows (400 samples), 10 ms hop (160 samples), 512-point FFT ->
257 bins; ``T = floor(N / hop)`` frames (exactly 100·k for k seconds; the last frames
read past the end into a reflected tail of ``win - hop`` samples); magnitude (linear or
log); then each frequency bin normalised to zero mean / unit variance over time.

Decoding: wav/flac/ogg via soundfile, everything else (m4a/aac/mp3/mp4/webm/mpg ...) via
PyAV. Resampling with ``scipy.signal.resample_poly`` (polyphase, Kaiser-windowed FIR).
AAC priming: libavformat already drops the encoder delay that MP4/M4A edit lists and MP3
gapless headers signal; samples that still arrive with negative timestamps are dropped;
raw ADTS ``.aac`` files carry no such signal, so the standard 1024-sample AAC encoder delay
is dropped there (``AAC_ADTS_PRIMING``). Trailing encoder padding is cut to the stream
duration when the container states it exactly.

Every rejection raises :class:`ItemRejected` with a short ``code`` (``zero_bytes``,
``undecodable``, ``no_audio_stream``, ``too_long``, ``non_finite``, ``too_short``, ``silent``, ``clipped``) and a
message naming the file; the runner records it in the QC report instead of crashing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vfbench.data.media import MAX_MEDIA_BYTES
from vfbench.errors import DataError
from vfbench.preprocess.config import AudioConfig
from vfbench.utils.io import input_file_problem

SOUNDFILE_EXTS = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif"}
AAC_ADTS_PRIMING = 1024  # samples of encoder delay at the start of a raw AAC-LC stream
#: Longer clips are refused ("too_long") before decoding them whole: bounded memory (30 min
#: of 48 kHz stereo is 0.7 GB as float32); cut long recordings into utterances first.
MAX_CLIP_SECONDS = 1800.0


class ItemRejected(DataError):
    """An item cannot be preprocessed; ``code`` is the reason's short name for QC tables."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass
class DecodedAudio:
    """Decoded audio: ``samples`` (C, N) float32 in [-1, 1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int
    decoder: str


# --------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------
def decode_audio(path: str | Path) -> DecodedAudio:
    """Decode ``path`` at its native rate/channels; raises :class:`ItemRejected`."""
    p = Path(path)
    why = input_file_problem(p, MAX_MEDIA_BYTES)
    if why:
        code = "missing_file" if why.startswith("file not found") else "unreadable"
        raise ItemRejected(code, f"{p}: {why}")
    if p.stat().st_size == 0:
        raise ItemRejected("zero_bytes", f"{p}: file is empty (0 bytes)")
    if p.suffix.lower() in SOUNDFILE_EXTS:
        try:
            return _decode_soundfile(p)
        except ItemRejected:
            raise
        except Exception as exc:  # libsndfile cannot read it: let FFmpeg try
            try:
                return _decode_av(p)
            except ItemRejected as exc2:
                if exc2.code == "undecodable":
                    raise ItemRejected("undecodable", f"{p}: {exc}") from None
                raise
    return _decode_av(p)


def _decode_soundfile(p: Path) -> DecodedAudio:
    import soundfile as sf

    info = sf.info(str(p))
    if info.samplerate and info.frames / info.samplerate > MAX_CLIP_SECONDS:
        raise ItemRejected(
            "too_long",
            f"{p}: {info.frames / info.samplerate:.0f} s is longer than {MAX_CLIP_SECONDS:.0f} s",
        )
    data, sr = sf.read(str(p), dtype="float32", always_2d=True)  # (N, C)
    return DecodedAudio(np.ascontiguousarray(data.T), int(sr), "soundfile")


def _frame_to_float(frame: object) -> np.ndarray:
    """A PyAV AudioFrame as (C, n) float32 in [-1, 1]."""
    arr = frame.to_ndarray()  # type: ignore[attr-defined]
    fmt = frame.format  # type: ignore[attr-defined]
    channels = len(frame.layout.channels)  # type: ignore[attr-defined]
    if not fmt.is_planar:
        arr = arr.reshape(-1, channels).T
    if arr.dtype == np.uint8:
        return (arr.astype(np.float32) - 128.0) / 128.0
    if arr.dtype == np.int16:
        return arr.astype(np.float32) / 32768.0
    if arr.dtype == np.int32:
        return (arr.astype(np.float64) / 2147483648.0).astype(np.float32)
    return arr.astype(np.float32, copy=False)


def _decode_av(p: Path) -> DecodedAudio:
    import av

    try:
        container = av.open(str(p))
    except Exception as exc:
        raise ItemRejected("undecodable", f"{p}: {exc}") from None
    with container:
        if not container.streams.audio:
            kinds: list[str] = sorted({str(s.type) for s in container.streams}) or ["none"]
            raise ItemRejected(
                "no_audio_stream", f"{p}: no audio stream (streams: {', '.join(kinds)})"
            )
        st = container.streams.audio[0]
        sr = int(st.rate or st.codec_context.sample_rate or 0)
        chunks: list[np.ndarray] = []
        limit = int(MAX_CLIP_SECONDS * (sr or 48000))
        n_dec = 0
        try:
            for frame in container.decode(st):
                x = _frame_to_float(frame)
                n_dec += x.shape[1]
                if n_dec > limit:
                    raise ItemRejected(
                        "too_long",
                        f"{p}: longer than {MAX_CLIP_SECONDS:.0f} s; not decoded further",
                    )
                if frame.pts is not None and frame.time_base is not None:
                    t0 = frame.pts * frame.time_base
                    if t0 < 0:  # priming samples still carrying negative timestamps
                        drop = round(-t0 * frame.sample_rate)
                        x = x[:, drop:]
                chunks.append(x)
        except ItemRejected:
            raise
        except Exception as exc:
            if not chunks:
                raise ItemRejected("undecodable", f"{p}: {exc}") from None
            # a corrupt tail: keep what decoded (the QC stats show the duration)
        if not chunks:
            raise ItemRejected("undecodable", f"{p}: the audio stream has no frames")
        nch = max(c.shape[0] for c in chunks)
        data = np.concatenate([np.broadcast_to(c, (nch, c.shape[1])) for c in chunks], axis=1)
        fmt_name = container.format.name
        if fmt_name == "aac":  # raw ADTS: the priming delay is not signalled
            data = data[:, AAC_ADTS_PRIMING:]
        elif st.duration and st.time_base == Fraction(1, sr):
            data = data[:, : int(st.duration)]  # cut encoder padding at the end
        name = st.codec_context.name
    return DecodedAudio(np.ascontiguousarray(data, dtype=np.float32), sr, f"av:{name}")


# --------------------------------------------------------------------------------------
# conversion, checks, VAD
# --------------------------------------------------------------------------------------
def to_mono(samples: np.ndarray) -> np.ndarray:
    """(C, N) -> (N,) by averaging channels."""
    return samples.mean(axis=0) if samples.shape[0] > 1 else samples[0]


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling of (N,) ``x`` from ``sr_in`` to ``sr_out`` Hz (float32 out)."""
    if sr_in == sr_out:
        return x.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = math.gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def rms_dbfs(x: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale sine is -3 dBFS)."""
    if x.size == 0:
        return -math.inf
    x64 = x if x.size < 1 << 24 else x.astype(np.float64)
    ms = float(np.dot(x64, x64)) / x.size
    return 10.0 * math.log10(ms) if ms > 0 else -math.inf


def vad_trim(x: np.ndarray, sr: int, cfg: AudioConfig) -> np.ndarray:
    """Trim leading/trailing non-speech (30 ms frames); inner pauses are kept."""
    if cfg.vad == "none" or x.size == 0:
        return x
    flen = int(0.03 * sr)
    n = x.size // flen
    if n == 0:
        return x
    frames = x[: n * flen].reshape(n, flen)
    if cfg.vad == "energy":
        db = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
        speech = db >= db.max() + cfg.vad_energy_db
    else:
        import webrtcvad

        vad = webrtcvad.Vad(cfg.vad_aggressiveness)
        pcm = (np.clip(frames, -1.0, 1.0) * 32767.0).astype("<i2")
        speech = np.array([vad.is_speech(f.tobytes(), sr) for f in pcm], dtype=bool)
    idx = np.flatnonzero(speech)
    if idx.size == 0:
        return x[:0]
    return x[idx[0] * flen : (idx[-1] + 1) * flen]


@dataclass
class AudioResult:
    """A clip ready for the STFT: ``wave`` (N,) float32 at the target rate, plus QC stats."""

    wave: np.ndarray
    stats: dict[str, float | int | str]


def load_audio(path: str | Path, cfg: AudioConfig) -> AudioResult:
    """Decode, check, downmix, resample and VAD-trim ``path``; raises :class:`ItemRejected`.

    Clipping is measured before resampling (a resampler smooths the flat tops away).
    """
    p = Path(path)
    dec = decode_audio(p)
    s = dec.samples
    if s.size == 0 or dec.sample_rate <= 0:
        raise ItemRejected("too_short", f"{p}: no samples decoded")
    finite = np.isfinite(s)
    if not finite.all():
        # one inf or NaN turns the whole normalised spectrogram into NaN: never cache it
        bad = int(s.size - np.count_nonzero(finite))
        first = int(np.flatnonzero(~finite.all(axis=0))[0])
        raise ItemRejected(
            "non_finite",
            f"{p}: non-finite samples ({bad} NaN/inf of {s.size}, first at "
            f"{first / dec.sample_rate:.3f} s)",
        )
    stats: dict[str, float | int | str] = {
        "orig_sample_rate": dec.sample_rate,
        "channels": int(s.shape[0]),
        "orig_duration": s.shape[1] / dec.sample_rate,
        "decoder": dec.decoder,
    }
    peak = float(max(s.max(), -s.min()))
    clipped = (
        float(np.count_nonzero(np.abs(s) >= cfg.clip_level)) / s.size
        if peak >= cfg.clip_level
        else 0.0
    )
    stats["peak"] = peak
    stats["clipped_fraction"] = clipped
    mono = resample(to_mono(s), dec.sample_rate, cfg.sample_rate)
    level = rms_dbfs(mono)
    stats["rms_dbfs"] = level if math.isfinite(level) else -999.0
    if level < cfg.silence_dbfs:
        raise ItemRejected(
            "silent", f"{p}: RMS level {level:.1f} dBFS is below silence_dbfs {cfg.silence_dbfs}"
        )
    if clipped > cfg.clip_fraction:
        raise ItemRejected(
            "clipped",
            f"{p}: {100 * clipped:.2f}% of samples at full scale (limit {100 * cfg.clip_fraction:g}%)",
        )
    wave = vad_trim(mono, cfg.sample_rate, cfg)
    if cfg.max_duration > 0:
        wave = wave[: int(round(cfg.max_duration * cfg.sample_rate))]
    dur = wave.size / cfg.sample_rate
    stats["duration"] = dur
    if wave.size == 0 and cfg.vad != "none":
        raise ItemRejected("silent", f"{p}: voice activity detection found no speech")
    if dur < cfg.min_duration or wave.size < cfg.hop_length:
        raise ItemRejected(
            "too_short", f"{p}: {dur:.3f} s is shorter than min_duration {cfg.min_duration} s"
        )
    return AudioResult(wave, stats)


# --------------------------------------------------------------------------------------
# STFT features
# --------------------------------------------------------------------------------------
def _window(kind: str, n: int) -> np.ndarray:
    # symmetric windows, as MATLAB's hamming() used by the VGGVox/SVHF front end
    return (np.hamming(n) if kind == "hamming" else np.hanning(n)).astype(np.float32)


def stft_magnitude(
    x: np.ndarray,
    n_fft: int = 512,
    win_length: int = 400,
    hop_length: int = 160,
    window: str = "hamming",
) -> np.ndarray:
    """|STFT| of (N,) ``x`` as (n_fft // 2 + 1, N // hop_length) float32.

    Frame ``t`` covers samples ``[t·hop, t·hop + win)``; the signal is extended by a
    reflected tail so the last frames are full. Each frame is windowed and zero-padded to
    ``n_fft`` (paper Sec. 5.1: 257 x 100·k for k seconds at 16 kHz).
    """
    return np.ascontiguousarray(_stft_tf(x, n_fft, win_length, hop_length, window).T)


def _stft_tf(
    x: np.ndarray, n_fft: int, win_length: int, hop_length: int, window: str
) -> np.ndarray:
    """|STFT| in (T, F) float32 layout (the FFT's natural one); see :func:`stft_magnitude`.

    Frames are cut ``n_fft`` long and multiplied by the window zero-padded to ``n_fft``,
    which equals windowing ``win_length`` samples and zero-padding the frame, without the
    FFT's separate padding copy.
    """
    from scipy.fft import rfft

    x = np.asarray(x, dtype=np.float32)
    n_frames = x.size // hop_length
    if n_frames == 0:
        raise DataError(f"signal of {x.size} samples is shorter than one hop ({hop_length})")
    need = (n_frames - 1) * hop_length + win_length - x.size  # reflected tail
    if need > 0:
        if need < x.size:
            x = np.pad(x, (0, need), mode="reflect")
        else:
            x = np.pad(x, (0, need), mode="wrap")
    span = max(n_fft, win_length)
    x = np.pad(x, (0, span - win_length))  # read past the tail only where the window is 0
    w = np.zeros(span, dtype=np.float32)
    w[:win_length] = _window(window, win_length)
    frames = sliding_window_view(x, span)[::hop_length][:n_frames]
    return np.abs(rfft(frames * w, n=n_fft, axis=1))  # complex64 -> float32


def spectrogram(wave: np.ndarray, cfg: AudioConfig, dtype: str = "float32") -> np.ndarray:
    """The stored voice feature: (n_bins, T) in ``dtype``, magnitude (linear/log), bin-normalised.

    Computed in (T, F) layout in place (no extra full-size temporaries); transposed once
    at the end, fused with the cast to ``dtype``.
    """
    mag = _stft_tf(wave, cfg.n_fft, cfg.win_length, cfg.hop_length, cfg.window)  # (T, F)
    if cfg.magnitude == "log":
        mag += cfg.log_eps
        np.log(mag, out=mag)
    if cfg.normalize:
        mag -= mag.mean(axis=0)
        sd = np.sqrt(np.einsum("tf,tf->f", mag, mag) / mag.shape[0])
        mag /= sd + 1e-5
    return np.ascontiguousarray(mag.T, dtype=dtype)


def process_voice(
    path: str | Path, cfg: AudioConfig
) -> tuple[np.ndarray, dict[str, float | int | str]]:
    """File -> (stored array in ``cfg.store_dtype``, QC stats). Raises :class:`ItemRejected`."""
    res = load_audio(path, cfg)
    spec = spectrogram(res.wave, cfg, dtype=cfg.store_dtype)
    res.stats["frames"] = int(spec.shape[1])
    return spec, res.stats
