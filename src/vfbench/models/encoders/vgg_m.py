"""VGG-M (Chatfield et al. 2014) for faces and its VoxCeleb variant for voices (SVHF).

face: (B, 3, 112, 112) -> (B, out_dim): conv1-5 of VGG-M, global average pool, fc6, fc7.
voice: (B, 1, n_freq, T) -> (B, out_dim): the VoxCeleb VGG-M (Nagrani et al. 2017),
whose fc6 spans the whole frequency axis (a (H, 1) convolution) followed by average
pooling over time only ("1-D in time"), so any utterance length T >= 100 works.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.models.encoders import ENCODERS, check_modality


def _cbr(cin: int, cout: int, k: int, s: int, p: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride=s, padding=p), nn.BatchNorm2d(cout), nn.ReLU(True)]


def _trunk(cin: int, conv3: int) -> nn.Sequential:
    return nn.Sequential(
        *_cbr(cin, 96, 7, 2, 1),
        nn.MaxPool2d(3, 2),
        *_cbr(96, 256, 5, 2, 1),
        nn.MaxPool2d(3, 2),
        *_cbr(256, conv3, 3, 1, 1),
        *_cbr(conv3, 256, 3, 1, 1),
        *_cbr(256, 256, 3, 1, 1),
    )


class VGGMFace(nn.Module):
    def __init__(self, out_dim: int = 1024, fc6: int = 4096) -> None:
        super().__init__()
        self.modality, self.input_kind, self.out_dim = "face", "image", out_dim
        self.trunk = _trunk(3, 512)
        self.head = nn.Sequential(
            nn.Linear(256, fc6), nn.BatchNorm1d(fc6), nn.ReLU(True), nn.Linear(fc6, out_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x).mean(dim=(2, 3)))


class VGGMVoice(nn.Module):
    def __init__(self, n_freq: int = 257, out_dim: int = 1024, fc6: int = 4096) -> None:
        super().__init__()
        self.modality, self.input_kind, self.out_dim = "voice", "spectrogram", out_dim
        self.trunk = nn.Sequential(_trunk(1, 384), nn.MaxPool2d((5, 3), (3, 2)))
        with torch.no_grad():
            h = self.trunk.eval()(torch.zeros(1, 1, n_freq, 200)).shape[2]
        self.trunk.train()
        self.fc6 = nn.Sequential(nn.Conv2d(256, fc6, (h, 1)), nn.BatchNorm2d(fc6), nn.ReLU(True))
        self.fc7 = nn.Linear(fc6, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc6(self.trunk(x))  # (B, fc6, 1, T')
        return self.fc7(y.mean(dim=(2, 3)))


@ENCODERS.register("vgg_m")
def vgg_m(modality: str, out_dim: int = 1024, fc6: int = 4096, n_freq: int = 257) -> nn.Module:
    check_modality("vgg_m", modality, ("face", "voice"))
    if modality == "face":
        return VGGMFace(out_dim, fc6)
    return VGGMVoice(n_freq, out_dim, fc6)
