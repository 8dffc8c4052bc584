"""Thin ResNet-34 with NetVLAD / GhostVLAD aggregation (Xie et al. 2019) - the paper's voice net.

Input (B, 1, 257, T) normalised spectrogram (T = 100 frames/s) -> (B, out_dim=512).
Trunk: 7x7 conv 64 + 2x2 max-pool, four stages of bottleneck blocks [3, 4, 6, 3] with
filters (48,48,96), (96,96,128), (128,128,256), (256,256,512) (strides 1, 2, 2, 2), a
(3,1)/(2,1) max-pool, then a (H', 1) conv to ``bottleneck`` channels that spans the
frequency axis. The frame features are aggregated by NetVLAD (``clusters`` centroids) or
GhostVLAD (``ghost`` extra clusters whose residuals are dropped) and projected to
``out_dim``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.models.encoders import ENCODERS, check_modality


class _Block(nn.Module):
    def __init__(self, cin: int, f: tuple[int, int, int], stride: int) -> None:
        super().__init__()
        f1, f2, f3 = f
        self.body = nn.Sequential(
            nn.Conv2d(cin, f1, 1, stride=stride, bias=False),
            nn.BatchNorm2d(f1),
            nn.ReLU(True),
            nn.Conv2d(f1, f2, 3, padding=1, bias=False),
            nn.BatchNorm2d(f2),
            nn.ReLU(True),
            nn.Conv2d(f2, f3, 1, bias=False),
            nn.BatchNorm2d(f3),
        )
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != f3:
            self.down = nn.Sequential(
                nn.Conv2d(cin, f3, 1, stride=stride, bias=False), nn.BatchNorm2d(f3)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.down(x))


class VLAD(nn.Module):
    """NetVLAD (Arandjelovic et al. 2016) with optional ghost clusters (GhostVLAD).

    (B, D, N) local features -> (B, clusters * D), intra- and L2-normalised.
    """

    def __init__(self, dim: int, clusters: int = 8, ghost: int = 0) -> None:
        super().__init__()
        self.clusters, self.ghost = clusters, ghost
        self.assign = nn.Conv1d(dim, clusters + ghost, 1)
        self.centroids = nn.Parameter(torch.randn(clusters, dim) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.softmax(self.assign(x), dim=1)[:, : self.clusters]  # (B, K, N)
        # sum_n a_kn (x_n - c_k) = a @ x^T - (sum_n a_kn) c_k
        v = torch.bmm(a, x.transpose(1, 2)) - a.sum(-1, keepdim=True) * self.centroids
        v = F.normalize(v, dim=2)
        return F.normalize(v.flatten(1), dim=1)


class ThinResNet34(nn.Module):
    def __init__(
        self,
        aggregation: str = "netvlad",
        n_freq: int = 257,
        clusters: int = 8,
        ghost: int = 2,
        bottleneck: int = 512,
        out_dim: int = 512,
    ) -> None:
        super().__init__()
        self.modality, self.input_kind, self.out_dim = "voice", "spectrogram", out_dim
        stages = [
            (3, (48, 48, 96), 1),
            (4, (96, 96, 128), 2),
            (6, (128, 128, 256), 2),
            (3, (256, 256, 512), 2),
        ]
        layers: list[nn.Module] = [
            nn.Conv2d(1, 64, 7, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
        ]
        cin = 64
        for n, f, s in stages:
            for i in range(n):
                layers.append(_Block(cin, f, s if i == 0 else 1))
                cin = f[2]
        layers.append(nn.MaxPool2d((3, 1), (2, 1)))
        self.trunk = nn.Sequential(*layers)
        with torch.no_grad():
            h = self.trunk.eval()(torch.zeros(1, 1, n_freq, 8)).shape[2]
        self.trunk.train()
        self.fc = nn.Sequential(nn.Conv2d(cin, bottleneck, (h, 1)), nn.ReLU(True))
        if aggregation not in ("netvlad", "ghostvlad"):
            raise ValueError(f"aggregation must be 'netvlad' or 'ghostvlad', got {aggregation!r}")
        self.vlad = VLAD(bottleneck, clusters, ghost if aggregation == "ghostvlad" else 0)
        self.proj = nn.Linear(clusters * bottleneck, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(self.trunk(x)).squeeze(2)  # (B, bottleneck, T')
        return self.proj(self.vlad(y))


@ENCODERS.register("thin_resnet34")
def thin_resnet34(
    modality: str,
    aggregation: str = "netvlad",
    n_freq: int = 257,
    clusters: int = 8,
    ghost: int = 2,
    bottleneck: int = 512,
    out_dim: int = 512,
) -> ThinResNet34:
    """Voice only. ``aggregation`` is "netvlad" or "ghostvlad"."""
    check_modality("thin_resnet34", modality, ("voice",))
    return ThinResNet34(aggregation, n_freq, clusters, ghost, bottleneck, out_dim)
