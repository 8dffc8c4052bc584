"""Identity classification (DIMNet-style, Wen et al. 2019): one softmax classifier shared by
both modalities, cross-entropy on voice and face embeddings against the global identity
label. Holds parameters (the classifier), which the training loop optimises at the head
learning rate and checkpoints with the model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES


class IdentityCELoss(nn.Module):
    def __init__(self, dim: int, num_classes: int, scale: float = 1.0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"identity_ce needs num_classes >= 2, got {num_classes}")
        self.classifier = nn.Linear(dim, num_classes)
        self.scale = float(scale)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        # embeddings may sit on a sphere of radius s; rescale so logits stay moderate
        return 0.5 * (
            F.cross_entropy(self.classifier(v / self.scale), lv)
            + F.cross_entropy(self.classifier(f / self.scale), lf)
        )


@LOSSES.register("identity_ce")
def identity_ce(dim: int = 128, num_classes: int = 2, scale: float = 1.0) -> IdentityCELoss:
    return IdentityCELoss(dim, num_classes, scale)
