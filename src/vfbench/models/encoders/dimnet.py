"""DIMNet-style voice CNN (Wen et al. 2019): a 1-D CNN over time with the frequency bins as
channels, then average pooling over time.

Input (B, 1, n_freq, T) (a spectrogram or log-mel; n_freq=257 by default) -> (B, out_dim).
Channels 256-384-576-864, kernel 3, stride 2, BN+ReLU, as the released DIMNet voice net.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.models.encoders import ENCODERS, check_modality


class DIMNetCNN1d(nn.Module):
    def __init__(
        self,
        n_freq: int = 257,
        channels: tuple[int, ...] = (256, 384, 576, 864),
        out_dim: int = 512,
    ) -> None:
        super().__init__()
        self.modality, self.input_kind, self.out_dim = "voice", "spectrogram", out_dim
        layers: list[nn.Module] = []
        cin = n_freq
        for c in channels:
            layers += [nn.Conv1d(cin, c, 3, 2, 1, bias=False), nn.BatchNorm1d(c), nn.ReLU(True)]
            cin = c
        layers.append(nn.Conv1d(cin, out_dim, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.squeeze(1)).mean(dim=2)


@ENCODERS.register("dimnet_cnn1d")
def dimnet_cnn1d(modality: str, n_freq: int = 257, out_dim: int = 512) -> DIMNetCNN1d:
    """Voice only: (B, 1, n_freq, T) -> (B, out_dim)."""
    check_modality("dimnet_cnn1d", modality, ("voice",))
    return DIMNetCNN1d(n_freq, out_dim=out_dim)
