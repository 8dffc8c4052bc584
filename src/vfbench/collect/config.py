"""Configuration of the collection tool: sampling, tracking, speech, QC thresholds, export.

Every threshold the quality control applies lives here with a default, so a user can steer
the tool from YAML (``vfbench collect run --config my.yaml``) or ``--set qc_face.min_size=80``.
The resolved config is hashed into every video's done-marker: changing a threshold that
affects per-video outputs makes the next run redo those videos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vfbench.config import to_dict
from vfbench.utils.io import stable_hash


@dataclass
class SamplingConfig:
    """How frames are sampled for face detection."""

    detect_fps: float = 5.0  # frames per second run through the face detector
    detect_max_height: int = 360  # frames taller than this are downscaled for detection
    detector: str = "dlib_hog"  # name in the face detector registry
    upsample: int = 0  # dlib HOG upsampling (1 finds faces down to ~40 px, 4x slower)
    max_faces_per_frame: int = 8
    # run the detector on the whole frame every N-th sampled frame (and after shot cuts or
    # when no face is tracked); in between only around tracked faces. 1 = always full.
    full_detect_every: int = 5

    def validate(self) -> None:
        if not 0 < self.detect_fps <= 60:
            raise ValueError(f"detect_fps must be in (0, 60], got {self.detect_fps}")
        if self.full_detect_every < 1:
            raise ValueError(f"full_detect_every must be >= 1, got {self.full_detect_every}")
        if self.detect_max_height < 64:
            raise ValueError(f"detect_max_height must be >= 64, got {self.detect_max_height}")


@dataclass
class TrackingConfig:
    """Linking detections of sampled frames into face tracks; shot-change cuts."""

    iou_min: float = 0.3  # a detection continues a track when IoU >= this ...
    descriptor_max_dist: float = 0.6  # ... and its 128-d descriptor is this close (dlib: 0.6)
    max_gap_s: float = 0.5  # a track ends when unmatched for longer than this
    shot_cut_threshold: float = 0.5  # half-L1 distance of 64-bin grey histograms (0..1)
    min_track_s: float = 0.5  # shorter tracks are rejected ("track_too_short")
    descriptors_per_track: int = 4  # dlib descriptors per track (identity clustering)

    def validate(self) -> None:
        if not 0 <= self.iou_min <= 1:
            raise ValueError(f"iou_min must be in [0, 1], got {self.iou_min}")
        if self.descriptors_per_track < 1:
            raise ValueError(
                f"descriptors_per_track must be >= 1, got {self.descriptors_per_track}"
            )
        if not 0 < self.shot_cut_threshold <= 1:
            raise ValueError(f"shot_cut_threshold must be in (0, 1], got {self.shot_cut_threshold}")


@dataclass
class SpeechConfig:
    """Speech segments from the audio track."""

    vad: Literal["webrtc", "energy"] = "webrtc"
    aggressiveness: int = 2  # webrtcvad mode 0..3
    frame_ms: int = 30  # 10, 20 or 30 (webrtcvad)
    energy_margin_db: float = 12.0  # energy VAD: speech if this far above the noise floor
    merge_gap_s: float = 0.3  # speech runs closer than this are merged
    pad_s: float = 0.1  # padding added around each segment
    min_segment_s: float = 0.5  # runs shorter than this are dropped before QC
    max_segment_s: float = 10.0  # longer runs are split
    sample_rate: int = 16000

    def validate(self) -> None:
        if self.frame_ms not in (10, 20, 30):
            raise ValueError(f"frame_ms must be 10, 20 or 30, got {self.frame_ms}")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {self.aggressiveness}")
        if self.sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"sample_rate must be 8000/16000/32000/48000, got {self.sample_rate}")


@dataclass
class FaceQC:
    """Per-face thresholds. A face failing one is rejected with that reason."""

    min_size: int = 64  # face box side in original pixels
    min_sharpness: float = 15.0  # variance of the Laplacian of the grey 112x112 chip
    min_pose: float = 0.5  # frontalness from the 5 landmarks, 0 (profile) .. 1 (frontal)
    min_det_score: float = 0.0  # detector confidence (dlib HOG margin)
    # mean abs difference of contrast-normalised 32x32 grey thumbnails (each scaled to zero
    # mean, unit standard deviation), so dark, flat faces are judged like bright ones
    dup_max_dist: float = 0.06  # ~ the old 2.5 grey levels at a typical face contrast (sd 40)
    max_per_track: int = 50  # kept faces per track, evenly spread over time

    def validate(self) -> None:
        if not 0 <= self.dup_max_dist <= 1:
            raise ValueError(
                f"dup_max_dist must be in [0, 1] standard deviations of the contrast-normalised "
                f"thumbnails, got {self.dup_max_dist} (it was in grey levels before issue 17: "
                "2.5 grey levels is about 0.06)"
            )


@dataclass
class VoiceQC:
    """Per-segment thresholds. A segment failing one is rejected with that reason."""

    min_duration: float = 1.0  # seconds
    max_duration: float = 15.0
    min_snr_db: float = 10.0  # speech energy over the video's noise floor
    max_clip_frac: float = 0.001  # fraction of samples at full scale
    min_speech_ratio: float = 0.5  # VAD-positive fraction of the segment
    max_other_face_overlap: float = 0.0  # fraction of the segment with >1 face track visible
    min_face_coverage: float = 0.8  # fraction of the segment the speaker's track is visible
    # visible-speaker check (vfbench.collect.active): peak correlation of lip-opening and
    # speech-envelope changes over lip-audio lags within +-max_av_lag_s; -1 = report only
    min_av_corr: float = 0.0
    max_av_lag_s: float = 0.2
    # a mouth whose opening (in inter-ocular distances) varies less than this is still
    min_lip_motion: float = 0.005

    def validate(self) -> None:
        if not 0 <= self.max_av_lag_s <= 1.0:
            raise ValueError(f"max_av_lag_s must be in [0, 1], got {self.max_av_lag_s}")
        if not -1 <= self.min_av_corr <= 1:
            raise ValueError(f"min_av_corr must be in [-1, 1], got {self.min_av_corr}")


@dataclass
class IdentityConfig:
    """Choosing the target person among the face tracks of an identity's videos."""

    cluster_max_dist: float = 0.5  # average-linkage distance threshold (128-d dlib space)
    # voice consistency (vfbench.collect.voice): a kept segment whose speaker embedding has
    # cosine similarity below this to the person's dominant voice is rejected
    # ("voice_mismatch"); 0 turns the check off
    min_voice_sim: float = 0.7

    def validate(self) -> None:
        if not 0 <= self.min_voice_sim < 1:
            raise ValueError(f"min_voice_sim must be in [0, 1), got {self.min_voice_sim}")


@dataclass
class ExportConfig:
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    face_size: int = 112
    jpeg_quality: int = 92

    def validate(self) -> None:
        if any(r < 0 for r in self.split_ratios) or sum(self.split_ratios) <= 0:
            raise ValueError(f"split_ratios must be >= 0 and sum > 0, got {self.split_ratios}")


@dataclass
class CollectConfig:
    """The whole collection config (defaults < YAML < ``--set`` overrides)."""

    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    qc_face: FaceQC = field(default_factory=FaceQC)
    qc_voice: VoiceQC = field(default_factory=VoiceQC)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def video_hash(self) -> str:
        """Hash of the parts that change a video's per-video outputs (not identity/export)."""
        d = to_dict(self)
        return stable_hash(
            {k: d[k] for k in ("sampling", "tracking", "speech", "qc_face", "qc_voice")}
        )
