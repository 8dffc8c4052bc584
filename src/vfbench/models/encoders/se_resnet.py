"""SE-ResNet-50 (Hu et al. 2018): ResNet-50 with squeeze-and-excitation in every block.

(B, 3, H, W) -> (B, 2048). Parameters 26,039,024 (Cadene's ``se_resnet50``, 28,088,024,
minus its 2048x1000 fc). Table 5's "SE-ResNet50" backbone row.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.models.encoders import ENCODERS, check_modality
from vfbench.models.encoders.resnet import ResNet


class SqueezeExcite(nn.Module):
    """Channel gating: x * sigmoid(W2 relu(W1 avgpool(x))) with reduction r."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


@ENCODERS.register("se_resnet50")
def se_resnet50(modality: str, reduction: int = 16) -> ResNet:
    """Face or voice: -> (B, 2048)."""
    check_modality("se_resnet50", modality, ("face", "voice"))
    return ResNet(
        (3, 4, 6, 3),
        in_channels=3 if modality == "face" else 1,
        extra=lambda c: SqueezeExcite(c, reduction),
        modality=modality,
    )
