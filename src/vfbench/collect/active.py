"""Is the visible face the speaker? Mouth-region motion vs audio energy correlation.

For every decoded frame the pipeline records, per open face track, the mean absolute grey
difference of the mouth area (lower middle of the face box) against the previous frame. A
talking face moves its mouth when the audio is loud: over a speech segment the Pearson
correlation between that motion and the audio's log-energy envelope (one value per video
frame) is clearly positive for the speaker and near zero for a silent face or a dubbed
clip. It is reported per segment as ``av_corr`` and enforced with ``qc_voice.min_av_corr``.
"""

from __future__ import annotations

import numpy as np


def energy_envelope(audio: np.ndarray, sr: int, times: np.ndarray, win_s: float) -> np.ndarray:
    """(len(times),) log-energy (dB) of ``audio`` in the window ``[t - win_s, t)``."""
    out = np.empty(len(times), np.float64)
    n = len(audio)
    for i, t in enumerate(times):
        a, b = int(max(0.0, t - win_s) * sr), int(max(0.0, t) * sr)
        a, b = min(a, n), min(max(b, a + 1), n)
        x = audio[a:b]
        out[i] = (
            10 * np.log10(float(np.mean(x.astype(np.float64) ** 2)) + 1e-10) if len(x) else -100.0
        )
    return out


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation, or None when either series is constant or too short (< 5)."""
    if len(x) < 5 or len(x) != len(y):
        return None
    xs, ys = x - x.mean(), y - y.mean()
    den = float(np.sqrt((xs**2).sum() * (ys**2).sum()))
    if den < 1e-12:
        return None
    return float((xs * ys).sum() / den)


def av_correlation(
    motion_t: np.ndarray,
    motion_v: np.ndarray,
    audio: np.ndarray,
    sr: int,
    start: float,
    end: float,
) -> float | None:
    """Correlation of mouth motion and audio energy over ``[start, end)`` seconds.

    ``motion_t``/``motion_v``: (n,) frame times (s) and mouth motion of one track. Returns
    None when fewer than 5 frames of the track fall inside the segment or a series is flat.
    A still face (zero motion everywhere) therefore yields None, which QC treats as "cannot
    tell" unless ``min_av_corr`` demands evidence.
    """
    sel = (motion_t >= start) & (motion_t < end)
    t, v = motion_t[sel], motion_v[sel]
    if len(t) < 5:
        return None
    win = float(np.median(np.diff(t))) if len(t) > 1 else 0.04
    e = energy_envelope(audio, sr, t, win)
    return pearson(v.astype(np.float64), e)
