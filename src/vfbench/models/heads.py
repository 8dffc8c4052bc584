"""The TriNet embedding head (paper, section 4.2): FC -> L2 normalisation -> x s.

``emb(x) = s * (W x + B) / ||W x + B||_2``. Each part can be switched off for the
ablations of Table 5 ("no L2 norm", "s = 1"): ``fc=False`` keeps the backbone feature,
``l2=False`` skips the normalisation, ``scale=1`` removes the scale.

``center=True`` (a vfbench option, not in the paper) centres the embeddings at test time:
training tracks the running mean of each modality's embeddings (momentum 0.01; the loss
sees them unchanged), and evaluation subtracts it and projects back onto the sphere, the
mean subtraction of cosine scoring back-ends in speaker verification. The voice-anchored
loss of Eq. 1 never compares two voices, so it leaves each voice free to sit closer to
*every* face (a voice "hub" offset); the offset is invisible to voice->face matching but
decides face->voice matching and verification. Centring removes it (docs/trinet.md has
the measurements; centring inside training, BatchNorm-style, measured worse).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TriNetHead(nn.Module):
    """(B, in_dim) backbone features -> (B, dim) embeddings on a sphere of radius ``scale``."""

    def __init__(
        self,
        in_dim: int,
        dim: int = 128,
        fc: bool = True,
        l2: bool = True,
        scale: float = 128.0,
        center: bool = False,
        momentum: float = 0.01,
    ) -> None:
        super().__init__()
        self.fc: nn.Module = nn.Linear(in_dim, dim) if fc else nn.Identity()
        self.out_dim = dim if fc else in_dim
        self.l2 = l2
        self.scale = float(scale)
        self.center = center
        self.momentum = float(momentum)
        if center:  # only then: checkpoints without centring keep their state-dict keys
            self.register_buffer("running_mean", torch.zeros(self.out_dim))
            self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        if self.l2:
            y = F.normalize(y, p=2.0, dim=-1, eps=1e-12)
        y = y * self.scale if self.scale != 1.0 else y
        if not self.center:
            return y
        rm = self.get_buffer("running_mean")
        if self.training:  # track the mean; the loss sees the embeddings as they are
            with torch.no_grad():
                n = self.get_buffer("num_batches_tracked")
                m = 1.0 if int(n) == 0 else self.momentum  # the first batch sets the mean
                rm.mul_(1.0 - m).add_(y.detach().mean(dim=0), alpha=m)
                n.add_(1)
            return y
        y = y - rm
        if self.l2:  # back onto the sphere of radius ``scale``
            y = F.normalize(y, p=2.0, dim=-1, eps=1e-12) * self.scale
        return y

    def extra_repr(self) -> str:
        return f"l2={self.l2}, scale={self.scale}, center={self.center}"


class ClassifierHead(nn.Module):
    """Softmax identity classifier (pretraining, DIMNet-style objectives): (B, D) -> (B, C) logits."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)
