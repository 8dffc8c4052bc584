"""The validated configuration of the synthetic corpus (``vfbench synth``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vfbench.config import load_config, to_dict

#: Bump when a change to the generator changes the bytes it writes for a given config.
GENERATOR_VERSION = 1


@dataclass
class SynthConfig:
    """Everything that determines the bytes of a synthetic corpus.

    The worker count is deliberately *not* part of it: the output does not depend on it.

    Attributes:
        identities: number of people.
        faces_per_id, voices_per_id: images / utterances per person.
        seed: master seed; every identity and item draws from its own
            ``np.random.SeedSequence(seed, spawn_key=...)`` stream.
        shared_strength: in (0, 1]; how strongly the shared hidden traits (gender
            expression, age, body size, ancestry) drive each modality. A modality renders
            ``s * trait + sqrt(1 - s^2) * noise``; 1 = both modalities see the same
            traits (ceiling near 100%), small = the link is weak.
        face_nuisance, voice_nuisance: >= 0; scale of the per-image / per-utterance
            nuisance (pose, lighting, occlusion, JPEG; noise, SNR, channel, silences).
        image_size: side of the square RGB face images, pixels.
        sample_rate: Hz of the mono 16-bit WAVs.
        min_seconds, max_seconds: utterance length range, seconds.
        sessions_min, sessions_max: recording sessions per identity (a session shares
            its channel colouring and background noise colour, like one VoxCeleb video).
        split_ratios: train/val/test fractions of the identities.
    """

    identities: int = 400
    faces_per_id: int = 8
    voices_per_id: int = 8
    seed: int = 0
    shared_strength: float = 0.7
    face_nuisance: float = 1.0
    voice_nuisance: float = 1.0
    image_size: int = 128
    sample_rate: int = 16000
    min_seconds: float = 2.0
    max_seconds: float = 8.0
    sessions_min: int = 2
    sessions_max: int = 4
    split_ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)

    def validate(self) -> None:
        if self.identities < 2:
            raise ValueError(f"identities must be >= 2, got {self.identities}")
        if self.faces_per_id < 1 or self.voices_per_id < 1:
            raise ValueError(
                f"faces_per_id and voices_per_id must be >= 1, got "
                f"{self.faces_per_id} and {self.voices_per_id}"
            )
        if not 0.0 < self.shared_strength <= 1.0:
            raise ValueError(f"shared_strength must be in (0, 1], got {self.shared_strength}")
        if self.face_nuisance < 0 or self.voice_nuisance < 0:
            raise ValueError("face_nuisance and voice_nuisance must be >= 0")
        if not 32 <= self.image_size <= 1024:
            raise ValueError(f"image_size must be in [32, 1024], got {self.image_size}")
        if not 8000 <= self.sample_rate <= 48000:
            raise ValueError(f"sample_rate must be in [8000, 48000] Hz, got {self.sample_rate}")
        if not 0.5 <= self.min_seconds <= self.max_seconds <= 60:
            raise ValueError(
                f"need 0.5 <= min_seconds <= max_seconds <= 60, got "
                f"{self.min_seconds} and {self.max_seconds}"
            )
        if not 1 <= self.sessions_min <= self.sessions_max <= 20:
            raise ValueError(
                f"need 1 <= sessions_min <= sessions_max <= 20, got "
                f"{self.sessions_min} and {self.sessions_max}"
            )
        r = self.split_ratios
        if any(x < 0 for x in r) or abs(sum(r) - 1.0) > 1e-6:
            raise ValueError(f"split_ratios must be 3 non-negative fractions summing to 1, got {r}")

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = to_dict(self)
        return d


def load_synth_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> SynthConfig:
    """Defaults < YAML file < ``key=value`` overrides, validated (unknown keys name themselves)."""
    return load_config(SynthConfig, path, overrides)
