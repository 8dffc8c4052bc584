"""The TriNet embedding head (paper, section 4.2): FC -> L2 normalisation -> x s.

``emb(x) = s * (W x + B) / ||W x + B||_2``. Each part can be switched off for the
ablations of Table 5 ("no L2 norm", "s = 1"): ``fc=False`` keeps the backbone feature,
``l2=False`` skips the normalisation, ``scale=1`` removes the scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TriNetHead(nn.Module):
    """(B, in_dim) backbone features -> (B, dim) embeddings on a sphere of radius ``scale``."""

    def __init__(
        self, in_dim: int, dim: int = 128, fc: bool = True, l2: bool = True, scale: float = 128.0
    ) -> None:
        super().__init__()
        self.fc: nn.Module = nn.Linear(in_dim, dim) if fc else nn.Identity()
        self.out_dim = dim if fc else in_dim
        self.l2 = l2
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        if self.l2:
            y = F.normalize(y, p=2.0, dim=-1, eps=1e-12)
        return y * self.scale if self.scale != 1.0 else y

    def extra_repr(self) -> str:
        return f"l2={self.l2}, scale={self.scale}"


class ClassifierHead(nn.Module):
    """Softmax identity classifier (pretraining, DIMNet-style objectives): (B, D) -> (B, C) logits."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)
