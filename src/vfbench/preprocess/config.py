"""The preprocessing configuration: audio front end, face detection/alignment, cache layout.

Defaults follow the paper (Sec. 5.1 "Training Details", Table 5): 16 kHz mono audio,
512-point FFT over 25 ms Hamming windows with a 10 ms hop (257 x 100·k for k seconds),
per-frequency-bin mean/variance normalisation; faces detected and aligned to
112 x 112 x 3, box crops enlarged by 1.1.

Load with ``vfbench.config.load_config(PreprocessConfig, yaml_or_None, ["audio.vad=energy"])``.
Each modality's cache folder is keyed by :meth:`PreprocessConfig.modality_hash`, so changing
any setting that affects the stored arrays never reuses stale entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from vfbench.config import to_dict
from vfbench.utils.io import stable_hash

#: Bumped whenever the code that produces the arrays changes in a way that alters them.
FEATURE_VERSION = {"voice": 1, "face": 2}  # face 2: bounded decode + two-pass detection


@dataclass
class AudioConfig:
    """Audio decoding, rejection rules and the STFT front end (paper Sec. 5.1).

    Times in seconds, sizes in samples at ``sample_rate`` Hz.
    """

    sample_rate: int = 16000
    n_fft: int = 512  # 512-point FFT -> 257 frequency bins
    win_length: int = 400  # 25 ms at 16 kHz
    hop_length: int = 160  # 10 ms at 16 kHz -> 100 frames per second
    window: Literal["hamming", "hann"] = "hamming"
    magnitude: Literal["linear", "log"] = "linear"
    log_eps: float = 1e-6  # log(|X| + eps) when magnitude == "log"
    normalize: bool = True  # per-frequency-bin mean/variance over time (VoxCeleb/SVHF)
    vad: Literal["none", "energy", "webrtc"] = "none"  # trims leading/trailing non-speech
    vad_aggressiveness: int = 2  # webrtcvad mode 0..3
    vad_energy_db: float = -40.0  # energy VAD: frames this far below the loudest are silence
    min_duration: float = 0.5  # shorter clips are rejected ("too_short")
    max_duration: float = 0.0  # > 0: keep only the first max_duration seconds
    silence_dbfs: float = -60.0  # RMS below this (dB re full scale) -> "silent"
    clip_level: float = 0.999  # |x| >= clip_level counts as a clipped sample
    clip_fraction: float = 0.01  # more clipped samples than this fraction -> "clipped"
    store_dtype: Literal["float16", "float32"] = "float16"  # halves the cache; load() -> float32

    def validate(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"audio.sample_rate must be > 0, got {self.sample_rate}")
        if not 0 < self.win_length <= self.n_fft:
            raise ValueError(
                f"audio.win_length ({self.win_length}) must be in 1..n_fft ({self.n_fft})"
            )
        if not 0 < self.hop_length <= self.win_length:
            raise ValueError(
                f"audio.hop_length ({self.hop_length}) must be in 1..win_length ({self.win_length})"
            )
        if not 0 <= self.vad_aggressiveness <= 3:
            raise ValueError("audio.vad_aggressiveness must be 0..3")
        if self.vad == "webrtc" and self.sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError("audio.vad=webrtc needs sample_rate 8000/16000/32000/48000")
        if self.min_duration < 0 or self.max_duration < 0:
            raise ValueError("audio.min_duration and audio.max_duration must be >= 0")
        if not 0 <= self.clip_fraction <= 1:
            raise ValueError("audio.clip_fraction must be in [0, 1]")

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1


@dataclass
class FaceConfig:
    """Face detection and alignment (paper Sec. 5.1 and Table 5: box scale 1.1)."""

    detector: str = "dlib_hog"  # a name in vfbench.preprocess.face.DETECTORS
    upsample: int = 1  # dlib detector upsampling passes (finds faces down to ~40 px at 1)
    align: Literal["landmarks", "box"] = "landmarks"
    box_scale: float = 1.1  # box mode: square crop of side box_scale * detector box side
    size: int = 112  # output side in pixels (ArcFace template is defined at 112)
    select: Literal["largest", "central"] = "largest"  # which face when several
    min_face: int = 0  # detections with a smaller box side (px) are ignored
    fast_side: int = 640  # > 0: first try detecting without upsampling on a copy this big
    max_side: int = 1920  # full detection pass on a copy at most this big (0 = no limit)
    decode_pixels: int = 4_194_304  # larger images are decoded reduced (JPEG draft, reduce)
    max_pixels: int = 64_000_000  # larger images are refused ("too_large") before decoding

    def validate(self) -> None:
        if self.size <= 0:
            raise ValueError(f"face.size must be > 0, got {self.size}")
        if self.box_scale <= 0:
            raise ValueError(f"face.box_scale must be > 0, got {self.box_scale}")
        if self.upsample < 0:
            raise ValueError("face.upsample must be >= 0")
        if self.fast_side < 0 or self.max_side < 0:
            raise ValueError("face.fast_side and face.max_side must be >= 0 (0 = off / no limit)")
        if self.decode_pixels < 1 or self.max_pixels < 1:
            raise ValueError("face.decode_pixels and face.max_pixels must be >= 1")


@dataclass
class PreprocessConfig:
    """Everything ``vfbench preprocess`` needs; see ``docs/preprocessing.md``."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    shard_size: int = 128  # items per shard file (the unit of resume and parallelism)
    contact_sheet: int = 48  # number of aligned faces on the QC contact sheet
    fsync: bool = False  # flush shards to disk before renaming (power-loss safety; slower)

    def validate(self) -> None:
        if self.shard_size <= 0:
            raise ValueError(f"shard_size must be > 0, got {self.shard_size}")

    def section(self, modality: str) -> dict[str, Any]:
        """The settings that determine the arrays of ``modality`` ("voice" or "face")."""
        if modality == "voice":
            d = to_dict(self.audio)
        elif modality == "face":
            d = to_dict(self.face)
        else:
            raise ValueError(f"modality must be 'voice' or 'face', got {modality!r}")
        return {"feature_version": FEATURE_VERSION[modality], **d}

    def modality_hash(self, modality: str) -> str:
        """Hash naming the cache sub-folder of ``modality``: its settings + ``shard_size``.

        ``shard_size`` fixes which items share a shard file, so it is part of the folder's
        identity too: one folder always holds one consistent set of shards.
        """
        return stable_hash({**self.section(modality), "shard_size": self.shard_size}, length=12)
