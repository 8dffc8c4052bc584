"""Speech segments of an audio track and their QC measurements.

A voice activity decision per frame (webrtcvad, or an energy threshold over the track's
noise floor) is smoothed into segments: runs closer than ``merge_gap_s`` merge, each is
padded by ``pad_s``, runs shorter than ``min_segment_s`` are dropped and longer ones than
``max_segment_s`` split evenly. Per segment we measure SNR (mean speech-frame energy over
the track's noise floor, dB), clipping (fraction of samples at full scale) and speech ratio.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from vfbench.collect.config import SpeechConfig

EPS_DB = -100.0  # energy of digital silence


@dataclass(frozen=True)
class Segment:
    """A speech segment ``[start, end)`` in seconds from the start of the audio."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def frame_energy_db(audio: np.ndarray, sr: int, frame_ms: int = 30) -> np.ndarray:
    """(n_frames,) mean power in dBFS of consecutive non-overlapping frames."""
    n = int(sr * frame_ms / 1000)
    k = len(audio) // n
    if k == 0:
        return np.zeros(0, np.float32)
    fr = audio[: k * n].reshape(k, n).astype(np.float64)
    p = (fr**2).mean(axis=1)
    return np.maximum(10 * np.log10(np.maximum(p, 1e-30)), EPS_DB).astype(np.float32)


def noise_floor_db(energy_db: np.ndarray) -> float:
    """The track's noise floor: 10th percentile of frame energies (dBFS)."""
    return float(np.percentile(energy_db, 10)) if len(energy_db) else EPS_DB


def vad_mask(audio: np.ndarray, sr: int, cfg: SpeechConfig) -> np.ndarray:
    """(n_frames,) bool: speech per ``cfg.frame_ms`` frame."""
    n = int(sr * cfg.frame_ms / 1000)
    k = len(audio) // n
    if k == 0:
        return np.zeros(0, bool)
    e = frame_energy_db(audio, sr, cfg.frame_ms)
    # Frames at digital silence / far below audibility are never speech.
    audible = e > -60.0
    if cfg.vad == "energy":
        return audible & (e > noise_floor_db(e) + cfg.energy_margin_db)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import webrtcvad
    vad = webrtcvad.Vad(cfg.aggressiveness)
    pcm = (np.clip(audio[: k * n], -1, 1) * 32767).astype("<i2").reshape(k, n)
    mask = np.array([vad.is_speech(row.tobytes(), sr) for row in pcm], dtype=bool)
    return mask & audible


def segments_from_mask(
    mask: np.ndarray,
    frame_s: float,
    total_s: float,
    merge_gap_s: float = 0.3,
    pad_s: float = 0.1,
    min_len_s: float = 0.5,
    max_len_s: float = 10.0,
) -> list[Segment]:
    """Turn a per-frame speech mask into padded, merged, length-limited segments."""
    runs: list[list[float]] = []
    idx = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    for a, b in zip(idx[0::2], idx[1::2], strict=True):
        s, e = a * frame_s, b * frame_s
        if runs and s - runs[-1][1] <= merge_gap_s:
            runs[-1][1] = e
        else:
            runs.append([s, e])
    out: list[Segment] = []
    for s, e in runs:
        s, e = max(0.0, s - pad_s), min(total_s, e + pad_s)
        if e - s < min_len_s:
            continue
        parts = max(1, math.ceil((e - s) / max_len_s - 1e-9))
        step = (e - s) / parts
        for i in range(parts):
            out.append(Segment(round(s + i * step, 4), round(s + (i + 1) * step, 4)))
    return out


def speech_segments(
    audio: np.ndarray, sr: int, cfg: SpeechConfig
) -> tuple[list[Segment], np.ndarray]:
    """Segments of ``audio`` and the per-frame speech mask they came from."""
    mask = vad_mask(audio, sr, cfg)
    segs = segments_from_mask(
        mask,
        cfg.frame_ms / 1000,
        len(audio) / sr,
        cfg.merge_gap_s,
        cfg.pad_s,
        cfg.min_segment_s,
        cfg.max_segment_s,
    )
    return segs, mask


@dataclass(frozen=True)
class SegmentStats:
    snr_db: float
    clip_frac: float
    speech_ratio: float
    rms_db: float


def segment_stats(
    audio: np.ndarray, sr: int, seg: Segment, mask: np.ndarray, frame_ms: int, floor_db: float
) -> SegmentStats:
    """QC measurements of one segment (see module docstring)."""
    a, b = int(seg.start * sr), int(seg.end * sr)
    x = audio[a:b]
    fs = frame_ms / 1000
    fa, fb = int(seg.start / fs), max(int(seg.start / fs) + 1, int(math.ceil(seg.end / fs)))
    m = mask[fa:fb]
    e = frame_energy_db(x, sr, frame_ms)
    speech_e = e[m[: len(e)]] if len(e) and m[: len(e)].any() else e
    p = float(np.mean(10 ** (speech_e / 10))) if len(speech_e) else 0.0
    level = 10 * math.log10(p) if p > 0 else EPS_DB
    clip = float(np.mean(np.abs(x) >= 0.999)) if len(x) else 0.0
    return SegmentStats(
        snr_db=round(level - floor_db, 2),
        clip_frac=round(clip, 6),
        speech_ratio=round(float(m.mean()) if len(m) else 0.0, 4),
        rms_db=round(level, 2),
    )


def split_at(segs: list[Segment], cuts: list[float], min_len_s: float = 0.5) -> list[Segment]:
    """Split every segment at the shot cuts (seconds, same origin) strictly inside it.

    A segment spanning a cut shows different pictures on each side, so each side must be
    judged on its own (the speaker may be on screen in one shot only). Pieces shorter than
    ``min_len_s`` are dropped, as the voice activity detector drops short runs.
    """
    out: list[Segment] = []
    cs = sorted(cuts)
    for seg in segs:
        bounds = [seg.start, *[c for c in cs if seg.start < c < seg.end], seg.end]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if b - a >= min_len_s:
                out.append(Segment(round(a, 4), round(b, 4)))
    return out
