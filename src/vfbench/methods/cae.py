"""CAE: cross-modal autoencoder (the "CCAE" baseline of Self-Lifting, Chen et al., ICMR
2022). Label-free: the voice and face embeddings of a pair are pulled together (MSE) and
each must reconstruct the OTHER modality's backbone features through a decoder (training
only; the decoders live in the objective). See :mod:`vfbench.train.losses.cross_modal_ae`.

The reconstruction targets are the features the heads read: the cached backbone features
in feature mode, the backbone outputs (detached) otherwise. Options (``loss.kwargs``):
``hidden`` (decoder width, 256), ``dropout`` (0.5), ``align_weight`` (1), ``recon_weight``
(1). Head: FC without L2; evaluated by cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vfbench.methods.base import ZooMethod
from vfbench.methods.registry import METHODS
from vfbench.models.encoders import out_dim
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss
from vfbench.train.protocol import Batch, Gather


@dataclass
class CAEOptions:
    hidden: int = 256
    dropout: float = 0.5
    align_weight: float = 1.0
    recon_weight: float = 1.0

    def validate(self) -> None:
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.align_weight < 0 or self.recon_weight <= 0:
            raise ValueError("align_weight must be >= 0 and recon_weight > 0")


@METHODS.register("cae")
class CAE(ZooMethod):
    name = "cae"
    description = "CAE: label-free cross-modal autoencoder (align + reconstruct the other modality)"
    loss_name = "cross_modal_ae"
    options_cls = CAEOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss(
            "cross_modal_ae",
            dim=int(getattr(model.voice_head, "out_dim", cfg.head.dim)),
            voice_dim=out_dim(model.voice_backbone),
            face_dim=out_dim(model.face_backbone),
            hidden=o.hidden,
            dropout=o.dropout,
            align_weight=o.align_weight,
            recon_weight=o.recon_weight,
        )

    def loss(
        self, model: VoiceFaceModel, objective: nn.Module, batch: Batch, gather: Gather
    ) -> torch.Tensor:
        xv = batch.voice if batch.voice_features else model.voice_backbone(batch.voice)
        xf = batch.face if batch.face_features else model.face_backbone(batch.face)
        ev, ef = model.voice_head(xv), model.face_head(xf)
        out: torch.Tensor = objective(
            gather(ev), batch.global_voice_labels, gather(ef), batch.global_face_labels,
            voice_input=gather(xv.detach()), face_input=gather(xf.detach()),
        )  # fmt: skip
        return out
