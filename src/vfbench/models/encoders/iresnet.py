"""LResNet50E-IR (ArcFace's "improved" ResNet-50, Deng et al. 2019) - the paper's face net.

Input (B, 3, 112, 112) in [-1, 1] -> (B, 512). Layers [3, 4, 14, 3] of IR blocks
(BN-conv-BN-PReLU-conv-BN), output block BN-Dropout-FC(512*7*7 -> 512)-BN ("E").
About 43.6 M parameters, as insightface's ``iresnet50``.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.models.encoders import ENCODERS, check_modality


def _conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class IBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin, eps=1e-5),
            _conv3(cin, cout),
            nn.BatchNorm2d(cout, eps=1e-5),
            nn.PReLU(cout),
            _conv3(cout, cout, stride),
            nn.BatchNorm2d(cout, eps=1e-5),
        )
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.down(x)


class IResNet(nn.Module):
    def __init__(
        self, layers: tuple[int, ...] = (3, 4, 14, 3), out_dim: int = 512, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.modality = "face"
        self.input_kind = "image"
        self.out_dim = out_dim
        self.stem = nn.Sequential(_conv3(3, 64), nn.BatchNorm2d(64, eps=1e-5), nn.PReLU(64))
        blocks: list[nn.Module] = []
        cin = 64
        for n, cout in zip(layers, (64, 128, 256, 512), strict=True):
            for i in range(n):
                blocks.append(IBasicBlock(cin, cout, 2 if i == 0 else 1))
                cin = cout
        self.body = nn.Sequential(*blocks)
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(512 * 7 * 7, out_dim)
        self.features = nn.BatchNorm1d(out_dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn2(self.body(self.stem(x)))
        x = self.fc(self.dropout(torch.flatten(x, 1)))
        return self.features(x)


@ENCODERS.register("iresnet50")
def iresnet50(modality: str, out_dim: int = 512, dropout: float = 0.0) -> IResNet:
    """Face only: (B, 3, 112, 112) -> (B, out_dim)."""
    check_modality("iresnet50", modality, ("face",))
    return IResNet((3, 4, 14, 3), out_dim=out_dim, dropout=dropout)
