"""``TrainConfig``: the validated schema of ``vfbench train`` configs (``configs/*.yaml``).

Defaults in code are the paper's TriNet setting (section 5.1) where the paper gives one;
YAML files and ``--set key=value`` override them; an unknown key is an error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfbench.config import apply_overrides, check_override_keys, from_dict, read_yaml
from vfbench.errors import ConfigError


@dataclass
class DataConfig:
    """Where the training data lives (a manifest + its preprocessing cache)."""

    manifest: str = ""  # manifest folder (identities, splits, genders, media paths)
    cache: str = ""  # FeatureCache folder built by ``vfbench preprocess``
    train_split: str = "train"
    val_split: str = "val"
    max_train_identities: int = 0  # >0: keep this many train identities (Table 4 "train1000")
    crop_seconds: float = 2.5  # training voice crops (paper 5.1); validation uses full clips
    val_max_identities: int = 0  # >0: validate on at most this many val identities
    face_augment: bool = True
    # preprocessing the cache must have been built with (recorded with results; Table 5
    # "no face detection" rows point ``cache`` at a cache built with detector none/box)
    preprocess: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.crop_seconds <= 0:
            raise ValueError(f"data.crop_seconds must be > 0, got {self.crop_seconds}")
        if self.max_train_identities < 0 or self.val_max_identities < 0:
            raise ValueError("data.max_train_identities / val_max_identities must be >= 0")


@dataclass
class EncoderConfig:
    """One modality's backbone: registry name, kwargs, weights, and how it trains."""

    name: str = "small_cnn"
    kwargs: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None  # state-dict file (weights_only=True); "pretrain" = stage output
    frozen: bool = False
    lr: float = 1e-6  # fixed learning rate when not frozen (paper: face net 1e-6)

    def validate(self) -> None:
        if self.lr < 0:
            raise ValueError(f"lr must be >= 0, got {self.lr}")


@dataclass
class VoiceEncoderConfig(EncoderConfig):
    """The voice backbone: frozen by default (the paper's voice-anchored space)."""

    frozen: bool = True
    lr: float = 0.0


@dataclass
class HeadConfig:
    """TriNet head: FC -> L2 norm -> x scale (section 4.2); each switchable (Table 5)."""

    dim: int = 128
    fc: bool = True
    l2: bool = True
    scale: float = 128.0
    #: test-time centring on the running mean of the training embeddings (not in the
    #: paper; removes the voice "hub" offset Eq. 1 leaves free, see models/heads.py)
    center: bool = False

    def validate(self) -> None:
        if self.dim < 1 or self.scale <= 0:
            raise ValueError(f"head.dim must be >= 1 and head.scale > 0 ({self.dim}, {self.scale})")


@dataclass
class LossConfig:
    name: str = "trinet_triplet"
    kwargs: dict[str, Any] = field(default_factory=lambda: {"margin": 1.0, "reduction": "sum"})


@dataclass
class SamplerConfig:
    """Identity-based online sampling (section 4.1): P identities x K voices + K faces."""

    P: int = 56
    K: int = 1
    gender_balance: bool = False
    # small corpora: when fewer training identities than P have both voices and faces,
    # use all of them (P lowered, logged and recorded) instead of stopping
    shrink_P: bool = False

    def validate(self) -> None:
        if self.P < 2 or self.K < 1:
            raise ValueError(f"sampler needs P >= 2 and K >= 1 (got P={self.P}, K={self.K})")
        if self.gender_balance and self.P % 2:
            raise ValueError(f"sampler.gender_balance needs an even P, got {self.P}")


@dataclass
class OptimConfig:
    """Adam; the head learning rate steps down by ``gamma`` at each milestone (paper:
    1e-3 -> 1e-4 -> 1e-5 -> 1e-6 at 20k/40k/60k of 70k steps)."""

    head_lr: float = 1e-3
    milestones: list[int] = field(default_factory=lambda: [20000, 40000, 60000])
    gamma: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # >0: clip the global gradient norm

    def validate(self) -> None:
        if sorted(self.milestones) != list(self.milestones):
            raise ValueError(f"optim.milestones must be increasing, got {self.milestones}")
        if self.head_lr <= 0 or not 0 < self.gamma <= 1:
            raise ValueError("optim.head_lr must be > 0 and optim.gamma in (0, 1]")


@dataclass
class ValConfig:
    every: int = 1000  # steps between validations (0 = only at the end)
    n_trials: int = 10000
    seed: int = 0
    gender_balanced: bool = False  # also report the gender-balanced 1:2 accuracy

    def validate(self) -> None:
        if self.every < 0 or self.n_trials < 1:
            raise ValueError("val.every must be >= 0 and val.n_trials >= 1")


@dataclass
class PretrainConfig:
    """Single-modality identity classification on the train split (softmax head) that
    produces backbone weights; stands in for VoxCeleb2 / VGGFace2 pretraining."""

    enabled: bool = False
    modalities: list[str] = field(default_factory=lambda: ["voice", "face"])
    steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    # > 0: add a gender softmax head (manifest genders) to the identity loss with this
    # weight - extra supervision for tiny pretraining sets (not in the paper)
    gender_weight: float = 0.0
    # > 0: likewise a nationality softmax head (manifest nationalities; DIMNet-style
    # covariate supervision); needs data loaded from a manifest, else ignored
    nationality_weight: float = 0.0

    def validate(self) -> None:
        bad = [m for m in self.modalities if m not in ("voice", "face")]
        if bad:
            raise ValueError(f"pretrain.modalities: {bad[0]!r} is not 'voice' or 'face'")
        if self.gender_weight < 0 or self.nationality_weight < 0:
            raise ValueError("pretrain.gender_weight / nationality_weight must be >= 0")
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("pretrain.steps must be >= 1 and pretrain.batch_size >= 2")


@dataclass
class LogConfig:
    every: int = 10  # steps between log rows
    tensorboard: bool = True  # only if torch.utils.tensorboard imports
    progress: bool = True


@dataclass
class TrainConfig:
    """A full training run (one method, one pair of backbones, one schedule)."""

    name: str = "trinet"
    method: str = "trinet"
    seed: int = 0
    steps: int = 70000
    device: str = "cpu"
    feature_mode: bool = True  # cache the features of frozen backbones; train on the cache
    checkpoint_every: int = 1000
    threads: int = 0  # torch CPU threads; 0 = auto (1 in feature mode: tiny ops, no contention)
    data: DataConfig = field(default_factory=DataConfig)
    voice: VoiceEncoderConfig = field(default_factory=VoiceEncoderConfig)
    face: EncoderConfig = field(default_factory=EncoderConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    val: ValConfig = field(default_factory=ValConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")

    def feature_modalities(self) -> tuple[str, ...]:
        """Modalities whose frozen backbone runs once on every item (feature mode); the
        loop then trains on the cached features. Both frozen = heads-only training."""
        if not self.feature_mode:
            return ()
        return tuple(m for m, e in (("voice", self.voice), ("face", self.face)) if e.frozen)


def read_config_tree(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a config YAML; a top-level ``base: other.yaml`` (relative to the file) is read
    first and this file's keys are merged over it (nested mappings merge key by key)."""

    p = Path(path).resolve()
    if p in _seen:
        raise ConfigError(f"{path}: 'base' chain loops back to {p}")
    data = read_yaml(p)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base must be a file name, got {base!r}")
    parent = read_config_tree(p.parent / base, (*_seen, p))
    return _merge(parent, data)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_train_config(
    path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """Load and validate a training config (YAML with optional ``base:`` + overrides)."""

    check_override_keys(TrainConfig, overrides)
    data = read_config_tree(path) if path is not None else {}
    data = apply_overrides(data, overrides)
    return from_dict(TrainConfig, data, str(path) if path is not None else "config")
