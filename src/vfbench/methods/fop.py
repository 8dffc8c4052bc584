"""FOP (Saeed, Khan, Nawaz, Yousaf & Del Bue, ICASSP 2022, "Fusion and Orthogonal
Projection for Improved Face-Voice Association"; the FAME 2024/2026 challenge baseline).

Two branches, one per modality: ``Linear -> BatchNorm -> ReLU -> Dropout -> L2`` (the FOP
head below, ``head.dim`` wide; ``head.fc/l2/scale`` do not apply). During training every
(voice, face) pair of one identity is fused by a gated multimodal unit and the fused
embedding is trained with identity cross-entropy + ``alpha`` x the orthogonal projection
loss (:mod:`vfbench.train.losses.fop`). At test time each modality's embedding is the tanh
of its branch output (what the gate fuses), compared by cosine: FAME scores by the L2
distance of these embeddings, which on the normalised vectors ranks pairs as cosine does.

Options (``loss.kwargs``): ``alpha`` (1.0, OPL weight), ``gamma`` (0.7, weight of the
different-identity term in OPL, as the authors' code), ``dropout`` (0.5), ``hidden`` (gate
MLP width, 0 = ``head.dim``). The OPL needs several items per identity in a batch: the CPU
config samples P = 16 identities x K = 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.methods.base import ZooMethod
from vfbench.methods.registry import METHODS
from vfbench.models.encoders import out_dim
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss
from vfbench.train.protocol import Batch, Gather


@dataclass
class FOPOptions:
    alpha: float = 1.0
    gamma: float = 0.7
    dropout: float = 0.5
    hidden: int = 0

    def validate(self) -> None:
        if self.alpha < 0 or self.gamma < 0:
            raise ValueError(f"alpha and gamma must be >= 0, got {self.alpha}, {self.gamma}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.hidden < 0:
            raise ValueError(f"hidden must be >= 0, got {self.hidden}")


class FOPBranch(nn.Module):
    """FOP's embedding branch: (B, in_dim) -> (B, dim) unit vectors (before the tanh)."""

    def __init__(self, in_dim: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, dim)
        self.bn = nn.BatchNorm1d(dim)
        self.drop = nn.Dropout(dropout)
        self.out_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.drop(torch.relu(self.bn(self.fc(x)))), dim=-1)


@METHODS.register("fop")
class FOP(ZooMethod):
    name = "fop"
    description = "FOP: gated fusion of each pair, identity CE + orthogonal projection loss"
    loss_name = "fop"
    options_cls = FOPOptions

    def build_model(
        self, cfg: TrainConfig, voice_backbone: nn.Module, face_backbone: nn.Module
    ) -> VoiceFaceModel:
        o = self.options(cfg)
        vh = FOPBranch(out_dim(voice_backbone), cfg.head.dim, o.dropout)
        fh = FOPBranch(out_dim(face_backbone), cfg.head.dim, o.dropout)
        return VoiceFaceModel(voice_backbone, face_backbone, vh, fh)

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss(
            "fop", dim=cfg.head.dim, num_classes=num_classes, alpha=o.alpha, gamma=o.gamma,
            hidden=o.hidden,
        )  # fmt: skip

    def loss(
        self, model: VoiceFaceModel, objective: nn.Module, batch: Batch, gather: Gather
    ) -> torch.Tensor:
        # the gate fuses the branch outputs (it applies the tanh itself)
        ev = model.embed("voice", batch.voice, batch.voice_features)
        ef = model.embed("face", batch.face, batch.face_features)
        out: torch.Tensor = objective(
            gather(ev), batch.global_voice_labels, gather(ef), batch.global_face_labels
        )
        return out

    def embed(
        self, model: VoiceFaceModel, modality: str, x: torch.Tensor, features: bool = False
    ) -> torch.Tensor:
        return torch.tanh(model.embed(modality, x, features))
