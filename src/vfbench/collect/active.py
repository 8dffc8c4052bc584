"""Is the visible face the speaker? Lip motion from 68 landmarks vs the speech envelope.

For every decoded frame the pipeline fits dlib's 68-point shape predictor (the packaged
``face_recognition_models`` model) to each open face track on the detection-scale grey
image and records the **lip opening**: the mean distance of the three inner-lip point
pairs (61-67, 62-66, 63-65, 0-based) divided by the inter-ocular distance, so it does not
depend on the face size (:func:`lip_opening`).

The audio side is the log energy of the 300-3000 Hz band (where the formants that follow
the jaw and lips live) at 100 Hz (:func:`speech_envelope`). A talking mouth opens as the
energy rises, with the audio typically a few tens of ms late or early, so per segment we
correlate the *frame-to-frame changes* of both series (velocities: robust to a slow drift
of head pose or level) at every lip-audio lag in ``±max_lag_s`` (0.2 s) and keep the best
(:func:`sync_score`): ``av_corr`` (the peak Pearson correlation), ``av_lag`` (its lag, s)
and ``av_z`` (the peak in standard deviations of the correlations at far lags 0.6-2.5 s,
which say what chance alignment gives on this very segment). QC rejects a segment with
``av_corr < qc_voice.min_av_corr`` or with a still mouth (the lip opening's standard
deviation below ``qc_voice.min_lip_motion``) as ``not_active_speaker``.

Measured on real footage (``benchmarks/bench_speaker_check.py``) this check alone is weak
on 1-5 s segments (ROC AUC about 0.7 genuine vs dubbed): a dubbed voice still rises and
falls roughly when a mouth moves. It catches still faces and gross offsets; dubbing and
voice-overs are caught by the voice-consistency check per person
(:mod:`vfbench.collect.voice`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENV_HOP_S = 0.01  # speech envelope resolution (s)
BAND_HZ = (300.0, 3000.0)


def lip_opening(points: np.ndarray) -> float:
    """Inner-lip opening of 68 dlib landmarks ``points`` (68, 2), in inter-ocular distances.

    Mean of |p61 - p67|, |p62 - p66|, |p63 - p65| (0-based indices) over the distance of the
    eye centres (mean of 36-41 and 42-47). 0 for degenerate landmarks.
    """
    iod = float(np.linalg.norm(points[36:42].mean(axis=0) - points[42:48].mean(axis=0)))
    if iod < 1e-3:
        return 0.0
    gap = (
        np.linalg.norm(points[61] - points[67])
        + np.linalg.norm(points[62] - points[66])
        + np.linalg.norm(points[63] - points[65])
    ) / 3.0
    return float(gap / iod)


def speech_envelope(audio: np.ndarray, sr: int, win_s: float = 0.04) -> np.ndarray:
    """(n,) log energy (dB) of the 300-3000 Hz band of ``audio``, one value every
    :data:`ENV_HOP_S` seconds (value ``i`` is centred on ``i * ENV_HOP_S``), each over a
    ``win_s`` window."""
    from scipy.signal import butter, sosfiltfilt

    x = audio.astype(np.float64)
    hi = min(BAND_HZ[1], 0.45 * sr)
    if len(x) > 64:
        sos = butter(4, [BAND_HZ[0], hi], btype="band", fs=sr, output="sos")
        x = sosfiltfilt(sos, x)
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    n = int(len(x) / sr / ENV_HOP_S)
    t = np.arange(n) * ENV_HOP_S
    a = np.clip(((t - win_s / 2) * sr).astype(np.int64), 0, len(x))
    b = np.clip(((t + win_s / 2) * sr).astype(np.int64), 0, len(x))
    e = (c[b] - c[a]) / np.maximum(1, b - a)
    return np.asarray(10 * np.log10(e + 1e-10))


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation, or None when either series is constant or too short (< 5)."""
    if len(x) < 5 or len(x) != len(y):
        return None
    xs, ys = x - x.mean(), y - y.mean()
    den = float(np.sqrt((xs**2).sum() * (ys**2).sum()))
    if den < 1e-12:
        return None
    return float((xs * ys).sum() / den)


@dataclass(frozen=True)
class SyncScore:
    """Lip-audio synchrony of one segment (see module docstring).

    ``corr``: peak correlation over lags in ``±max_lag_s``; ``lag``: its lag in seconds
    (positive = audio later than the lips); ``z``: the peak against far lags (None when too
    few far lags fit in the audio); ``lip_std``: standard deviation of the lip opening.
    """

    corr: float
    lag: float
    z: float | None
    lip_std: float


def sync_score(
    lip_t: np.ndarray,
    lip_v: np.ndarray,
    envelope: np.ndarray,
    start: float,
    end: float,
    max_lag_s: float = 0.2,
    far_s: tuple[float, float] = (0.6, 2.5),
) -> SyncScore | None:
    """Synchrony of the lip opening ``lip_v`` (n,) at frame times ``lip_t`` (n,) seconds with
    ``envelope`` (:func:`speech_envelope`, same time origin) over ``[start, end)``.

    Every lag is evaluated at once (one matrix of shifted envelope samples), so a segment
    costs microseconds. Returns None when fewer than 8 frames fall in the segment or the
    lip series is flat.
    """
    sel = (lip_t >= start) & (lip_t < end)
    t, v = lip_t[sel], lip_v[sel].astype(np.float64)
    if len(t) < 8 or len(envelope) < 2:
        return None
    lip_std = float(v.std())
    dv = np.diff(v)
    if float(np.abs(dv).max()) < 1e-9:
        return None
    step = max(float(np.median(np.diff(t))), ENV_HOP_S)  # one frame
    k_far = int(far_s[1] / step + 1e-9)
    lags = step * np.arange(-k_far, k_far + 1)  # symmetric, 0 included
    idx = np.rint((t[None, :] + lags[:, None]) / ENV_HOP_S).astype(np.int64)
    inside = (idx >= 0).all(axis=1) & (idx < len(envelope)).all(axis=1)
    near = inside & (np.abs(lags) <= max_lag_s + 1e-9)
    if not near.any():
        near = np.abs(lags) <= max_lag_s + 1e-9  # segment at the very edge: clip
    m = np.diff(envelope[np.clip(idx, 0, len(envelope) - 1)], axis=1)
    m = m - m.mean(axis=1, keepdims=True)
    dv = dv - dv.mean()
    den = np.sqrt((m * m).sum(axis=1) * float((dv * dv).sum())) + 1e-12
    c = (m @ dv) / den
    k = int(np.flatnonzero(near)[np.argmax(c[near])])
    far = inside & (np.abs(lags) >= far_s[0] - 1e-9)
    z = None
    if far.sum() >= 10:
        f = c[far]
        z = float((c[k] - f.mean()) / (f.std() + 1e-9))
    return SyncScore(corr=float(c[k]), lag=float(lags[k]), z=z, lip_std=lip_std)
