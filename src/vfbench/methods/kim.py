"""Kim et al. 2018-style method ("On Learning Associations of Faces and Voices").

Voice and face networks trained jointly with a triplet loss whose anchors are taken from
BOTH modalities (voice-anchored and face-anchored triplets), on unconstrained Euclidean
embeddings: no L2 normalisation and no scale by default (``head.l2: false``,
``head.scale: 1``) - the point where TriNet differs (paper section 2: "TriNet uses L2
normalization and voice-anchored embedding learning"). Neither network is frozen in the
paper-scale config (both fine-tuned; feature mode on CPU trains the heads).

Choices (``loss.kwargs``): ``negatives: random`` (default) draws one random negative per
(anchor, positive) pair, like Kim et al.'s randomly mined discrete triplets; ``all`` uses
every triplet of the batch. ``margin`` defaults to 1. See
:mod:`vfbench.train.losses.kim_triplet`. Evaluated by (negative) Euclidean distance of the
embeddings, the distance it was trained on (``distance = "l2"``).
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
class KimOptions:
    margin: float = 1.0
    negatives: str = "random"

    def validate(self) -> None:
        if self.negatives not in ("random", "all"):
            raise ValueError(f"negatives must be 'random' or 'all', got {self.negatives!r}")
        if self.margin <= 0:
            raise ValueError(f"margin must be > 0, got {self.margin}")


@METHODS.register("kim")
class Kim(ZooMethod):
    name = "kim"
    description = "Kim et al.: voice- and face-anchored triplets, unnormalised embeddings"
    loss_name = "kim_triplet"
    options_cls = KimOptions
    distance = "l2"  # trained on Euclidean distances of unnormalised embeddings

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss("kim_triplet", margin=o.margin, negatives=o.negatives, seed=cfg.seed)
