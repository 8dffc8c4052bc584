"""Learnable PINs-style method (Nagrani, Albanie & Zisserman 2018, "Learnable PINs:
Cross-Modal Embeddings for Person Identity").

Two-stream voice/face embeddings (L2-normalised, ``head.scale: 1``) trained with a
contrastive loss on voice-face pairs and curriculum hard-negative mining: the fraction of
hard negatives grows over training. The schedule is configurable in ``loss.kwargs``:
``hard_start`` -> ``hard_end`` linearly between ``ramp_start`` and ``ramp_end``, given as
FRACTIONS of the run (``steps``) so one config works at every scale; ``margin`` of the
contrastive loss; ``symmetric`` mines for face anchors too. See
:mod:`vfbench.train.losses.curriculum_contrastive`. Evaluated by embedding distance.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from vfbench.methods.base import ZooMethod
from vfbench.methods.registry import METHODS
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss


@dataclass
class PinsOptions:
    margin: float = 1.0
    hard_start: float = 0.0
    hard_end: float = 0.5
    ramp_start: float = 0.0  # fraction of the run
    ramp_end: float = 0.8
    symmetric: bool = True

    def validate(self) -> None:
        for k in ("hard_start", "hard_end", "ramp_start", "ramp_end"):
            x = getattr(self, k)
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"{k} must be in [0, 1], got {x}")
        if self.ramp_end < self.ramp_start:
            raise ValueError(f"ramp_end ({self.ramp_end}) < ramp_start ({self.ramp_start})")
        if self.margin <= 0:
            raise ValueError(f"margin must be > 0, got {self.margin}")


@METHODS.register("pins")
class Pins(ZooMethod):
    name = "pins"
    description = "Learnable PINs: contrastive pairs, curriculum hard-negative mining"
    loss_name = "curriculum_contrastive"
    options_cls = PinsOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss(
            "curriculum_contrastive",
            margin=o.margin,
            hard_start=o.hard_start,
            hard_end=o.hard_end,
            ramp_start=int(round(o.ramp_start * cfg.steps)),
            ramp_end=int(round(o.ramp_end * cfg.steps)),
            symmetric=o.symmetric,
            seed=cfg.seed,
        )
