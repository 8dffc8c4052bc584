"""ResNet-50 (He et al. 2016), the ImageNet architecture without its classifier.

face: (B, 3, H, W) (112x112 in vfbench) -> (B, 2048) after global average pooling.
Parameters: 23,508,032 = torchvision's 25,557,032 minus the 2048x1000 fc.
The bottleneck takes an optional block-level ``extra`` module (used by SE-ResNet50).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vfbench.models.encoders import ENCODERS, check_modality


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self,
        cin: int,
        planes: int,
        stride: int = 1,
        extra: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(cin, planes, 1, bias=False),
            nn.BatchNorm2d(planes),
            nn.ReLU(inplace=True),
            nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(planes),
            nn.ReLU(inplace=True),
            nn.Conv2d(planes, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.extra: nn.Module = extra(cout) if extra is not None else nn.Identity()
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.extra(self.body(x)) + self.down(x))


class ResNet(nn.Module):
    def __init__(
        self,
        layers: tuple[int, ...] = (3, 4, 6, 3),
        in_channels: int = 3,
        extra: Callable[[int], nn.Module] | None = None,
        modality: str = "face",
    ) -> None:
        super().__init__()
        self.modality = modality
        self.input_kind = "image" if modality == "face" else "spectrogram"
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        blocks: list[nn.Module] = []
        cin = 64
        for i, (n, planes) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
            for j in range(n):
                stride = 2 if (j == 0 and i > 0) else 1
                blocks.append(Bottleneck(cin, planes, stride, extra))
                cin = planes * Bottleneck.expansion
        self.body = nn.Sequential(*blocks)
        self.out_dim = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(x)).mean(dim=(2, 3))


@ENCODERS.register("resnet50")
def resnet50(modality: str) -> ResNet:
    """Face (3-channel image) or voice (1-channel spectrogram): -> (B, 2048)."""
    check_modality("resnet50", modality, ("face", "voice"))
    return ResNet((3, 4, 6, 3), in_channels=3 if modality == "face" else 1, modality=modality)
