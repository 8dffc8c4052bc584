"""Quality control: per-face and per-voice-segment checks against :class:`CollectConfig`.

Each check returns a list of reasons (empty = kept). A reason is ``"<code>: <detail>"``,
e.g. ``"too_small: 52 px < qc_face.min_size 64"``; summaries count the codes.

Face codes: ``too_small``, ``blurry``, ``non_frontal``, ``low_det_score``,
``near_duplicate``, ``over_track_quota``, ``track_too_short``, ``not_target_identity``.
Voice codes: ``too_short``, ``too_long``, ``low_snr``, ``clipping``, ``low_speech_ratio``,
``no_face_on_screen``, ``multiple_faces``, ``face_coverage_low``, ``not_active_speaker``,
``speaker_not_target``, ``voice_mismatch``. Video codes: ``unreadable``, ``no_video_stream``,
``no_audio_stream``, ``no_speech``, ``no_faces``, ``range_past_end``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from vfbench.collect.active import SyncScore
from vfbench.collect.config import FaceQC, VoiceQC


def reason_code(reason: str) -> str:
    """``"too_small: 52 px < 64"`` -> ``"too_small"``."""
    return reason.split(":", 1)[0].strip()


def face_reasons(size: float, sharp: float, pose: float, score: float, qc: FaceQC) -> list[str]:
    """Reasons a single face fails QC (size in px, Laplacian variance, frontalness 0..1,
    detector score)."""
    out = []
    if size < qc.min_size:
        out.append(f"too_small: {size:.0f} px < qc_face.min_size {qc.min_size}")
    if sharp < qc.min_sharpness:
        out.append(f"blurry: sharpness {sharp:.1f} < qc_face.min_sharpness {qc.min_sharpness}")
    if pose < qc.min_pose:
        out.append(f"non_frontal: pose {pose:.2f} < qc_face.min_pose {qc.min_pose}")
    if score < qc.min_det_score:
        out.append(f"low_det_score: {score:.2f} < qc_face.min_det_score {qc.min_det_score}")
    return out


def thumb(chip: np.ndarray, size: int = 32) -> np.ndarray:
    """(size, size) float32 contrast-normalised grey thumbnail for near-duplicate removal:
    zero mean and unit standard deviation, so a dark or low-contrast face is compared on its
    structure, not on its few grey levels (a flat image stays all zeros)."""
    from PIL import Image

    g = Image.fromarray(chip).convert("L").resize((size, size), Image.Resampling.BILINEAR)
    x = np.asarray(g, dtype=np.float32)
    x = x - x.mean()
    sd = float(x.std())
    return x / sd if sd > 1e-3 else x


def near_duplicates(thumbs: list[np.ndarray], max_dist: float) -> list[int | None]:
    """For each thumbnail in order, the index of an earlier *kept* one it duplicates, else
    None (kept). Distance = mean absolute difference of the (contrast-normalised,
    :func:`thumb`) thumbnails, in standard deviations."""
    kept: list[int] = []
    out: list[int | None] = []
    for i, t in enumerate(thumbs):
        dup = None
        for k in kept:
            if float(np.abs(thumbs[k] - t).mean()) <= max_dist:
                dup = k
                break
        out.append(dup)
        if dup is None:
            kept.append(i)
    return out


def spread_quota(n: int, quota: int) -> np.ndarray:
    """(n,) bool: ``quota`` indices spread evenly over ``range(n)`` (all when n <= quota)."""
    keep = np.zeros(n, bool)
    if n <= quota:
        keep[:] = True
    elif quota > 0:
        keep[np.unique(np.linspace(0, n - 1, quota).round().astype(int))] = True
    return keep


def voice_reasons(
    duration: float,
    snr_db: float,
    clip_frac: float,
    speech_ratio: float,
    n_tracks: int,
    other_overlap: float,
    coverage: float,
    sync: SyncScore | None,
    qc: VoiceQC,
) -> list[str]:
    """Reasons a speech segment fails QC. ``n_tracks``: face tracks seen during it;
    ``other_overlap``: fraction of its sampled frames with more than one face;
    ``coverage``: fraction with the speaker's track visible; ``sync``: the visible-speaker
    check of the speaker's track (None = not measurable)."""
    out = []
    if duration < qc.min_duration:
        out.append(f"too_short: {duration:.2f} s < qc_voice.min_duration {qc.min_duration}")
    if duration > qc.max_duration:
        out.append(f"too_long: {duration:.2f} s > qc_voice.max_duration {qc.max_duration}")
    if snr_db < qc.min_snr_db:
        out.append(f"low_snr: {snr_db:.1f} dB < qc_voice.min_snr_db {qc.min_snr_db}")
    if clip_frac > qc.max_clip_frac:
        out.append(f"clipping: {clip_frac:.4f} > qc_voice.max_clip_frac {qc.max_clip_frac}")
    if speech_ratio < qc.min_speech_ratio:
        out.append(
            f"low_speech_ratio: {speech_ratio:.2f} < qc_voice.min_speech_ratio {qc.min_speech_ratio}"
        )
    if n_tracks == 0:
        out.append("no_face_on_screen: no face track visible during the segment")
    else:
        if other_overlap > qc.max_other_face_overlap:
            out.append(
                f"multiple_faces: {n_tracks} face tracks, >1 face on {other_overlap:.0%} of "
                f"frames > qc_voice.max_other_face_overlap {qc.max_other_face_overlap}"
            )
        if coverage < qc.min_face_coverage:
            out.append(
                f"face_coverage_low: speaker visible {coverage:.0%} < "
                f"qc_voice.min_face_coverage {qc.min_face_coverage}"
            )
        if qc.min_av_corr > -1.0:
            if sync is None:
                out.append(
                    "not_active_speaker: lip motion not measurable (no landmarks or a "
                    "still mouth during the segment)"
                )
            elif sync.lip_std < qc.min_lip_motion:
                out.append(
                    f"not_active_speaker: the mouth barely moves (lip opening sd "
                    f"{sync.lip_std:.4f} < qc_voice.min_lip_motion {qc.min_lip_motion})"
                )
            elif sync.corr < qc.min_av_corr:
                out.append(
                    f"not_active_speaker: lip/speech correlation {sync.corr:.2f} (best lag "
                    f"{sync.lag:+.2f} s) < qc_voice.min_av_corr {qc.min_av_corr}"
                )
    return out


def count_reasons(reason_lists: Iterable[list[str]]) -> dict[str, int]:
    """Counts of reason codes, most frequent first (an item counts once per code)."""
    c: Counter[str] = Counter()
    for rs in reason_lists:
        c.update({reason_code(r) for r in rs})
    return dict(c.most_common())
