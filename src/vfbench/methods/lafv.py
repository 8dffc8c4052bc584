"""LAFV (Kim, Shin, Oh, Kaspar, Elgharib & Matusik, ACCV 2018, "On Learning Associations of
Faces and Voices") with the triplet network objective it builds on (Hoffer & Ailon 2015):
the softmax over the (positive, negative) Euclidean distances of a triplet is pushed to
(0, 1) - a margin-free, saturating triplet loss on unnormalised embeddings.

The existing ``kim`` method reads the same paper with a margin hinge; this one uses the
softmax-ratio loss (:mod:`vfbench.train.losses.softmax_triplet`), as the reference
re-implementation of the VFAL benchmark does. Triplets: each (anchor, positive) pair of the
batch with one random negative of another identity; ``anchors`` ``both`` (default),
``voice`` or ``face``; ``squared: true`` for Hoffer & Ailon's squared form. Head: FC, no L2,
no scale; evaluated by (negative) Euclidean distance, the distance it is trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from vfbench.methods.base import ZooMethod
from vfbench.methods.registry import METHODS
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss
from vfbench.train.losses.softmax_triplet import ANCHORS


@dataclass
class LAFVOptions:
    anchors: str = "both"
    squared: bool = False

    def validate(self) -> None:
        if self.anchors not in ANCHORS:
            raise ValueError(f"anchors must be one of {list(ANCHORS)}, got {self.anchors!r}")


@METHODS.register("lafv")
class LAFV(ZooMethod):
    name = "lafv"
    description = "LAFV (Kim et al.): softmax-ratio triplets (Hoffer & Ailon), Euclidean"
    loss_name = "softmax_triplet"
    options_cls = LAFVOptions
    distance = "l2"

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss("softmax_triplet", anchors=o.anchors, squared=o.squared, seed=cfg.seed)
