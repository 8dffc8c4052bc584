"""Small CPU-sized CNNs for both modalities (the demo / tests backbone).

face: (B, 3, H, W) (112x112 in vfbench) -> (B, 8*width*grid^2): average-pool by
    ``downsample`` (2: 56x56), four strided 2-D conv blocks (5x5/2, 3x3/2 x3), then average
    pooling to a ``grid`` x ``grid`` map (2: keeps the coarse layout - where hair, jaw and
    face are - which global pooling throws away), flattened; ~0.1 M parameters, ~4 MMAC per
    face at downsample 2 (~15 at 1).
voice: (B, 1, F, T) -> (B, 16*width): a 1-D CNN over time with the F frequency bins as
    input channels (keeps the full pitch/formant resolution at a fraction of a 2-D CNN's
    cost), three strided blocks, then mean + standard-deviation pooling over time;
    ~0.1 M parameters, ~9 MMAC per 2.5 s clip (F = 257, T = 250). Any T >= 8.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.models.encoders import ENCODERS


def _block2d(cin: int, cout: int, k: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _block1d(cin: int, cout: int, k: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm1d(cout),
        nn.ReLU(inplace=True),
    )


class SmallFaceCNN(nn.Module):
    def __init__(self, width: int = 16, downsample: int = 2, grid: int = 2) -> None:
        super().__init__()
        self.modality, self.input_kind = "face", "image"
        w = width
        self.features = nn.Sequential(
            nn.AvgPool2d(downsample) if downsample > 1 else nn.Identity(),
            _block2d(3, w, 5, 2),
            _block2d(w, 2 * w, 3, 2),
            _block2d(2 * w, 4 * w, 3, 2),
            _block2d(4 * w, 8 * w, 3, 2),
        )
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.out_dim = 8 * w * grid * grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)


class SmallVoiceCNN(nn.Module):
    def __init__(self, width: int = 16, n_freq: int = 257) -> None:
        super().__init__()
        self.modality, self.input_kind = "voice", "spectrogram"
        w = width
        self.features = nn.Sequential(
            _block1d(n_freq, 4 * w, 3, 2),
            _block1d(4 * w, 8 * w, 3, 2),
            _block1d(8 * w, 8 * w, 3, 2),
        )
        self.out_dim = 16 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.flatten(1, 2))  # (B, 8w, T/8)
        return torch.cat([h.mean(2), h.std(2)], dim=1)


@ENCODERS.register("small_cnn")
def small_cnn(
    modality: str, width: int = 16, n_freq: int = 257, downsample: int = 2, grid: int = 2
) -> nn.Module:
    """face (B, 3, H, W) -> (B, 8*width*grid^2); voice (B, 1, n_freq, T) -> (B, 16*width)."""
    if modality == "face":
        return SmallFaceCNN(width, downsample, grid)
    return SmallVoiceCNN(width, n_freq)
