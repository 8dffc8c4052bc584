"""Small CPU-sized CNNs for both modalities (the demo / tests backbone).

face: (B, 3, 112, 112) -> (B, width*8); voice: (B, 1, F, T) -> (B, width*8), any F, T >= 16.
About 0.1-0.4 M parameters; ~30 MFLOP per item.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.models.encoders import ENCODERS


def _block(cin: int, cout: int, k: int, stride: int | tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Four strided conv blocks + global average pooling."""

    def __init__(self, modality: str, width: int = 16, in_channels: int | None = None) -> None:
        super().__init__()
        self.modality = modality
        self.input_kind = "image" if modality == "face" else "spectrogram"
        cin = in_channels if in_channels is not None else (3 if modality == "face" else 1)
        first_stride: int | tuple[int, int] = 2 if modality == "face" else (4, 2)
        w = width
        self.features = nn.Sequential(
            _block(cin, w, 5, first_stride),
            _block(w, 2 * w, 3, 2),
            _block(2 * w, 4 * w, 3, 2),
            _block(4 * w, 8 * w, 3, 2),
        )
        self.out_dim = 8 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(2, 3))


@ENCODERS.register("small_cnn")
def small_cnn(modality: str, width: int = 16) -> SmallCNN:
    return SmallCNN(modality, width=width)
