"""FOP objective (Saeed et al., ICASSP 2022, "Fusion and Orthogonal Projection for
Improved Face-Voice Association"; the FAME challenge baseline).

Each (voice, face) pair of one identity is fused by a gated multimodal unit
``a = sigmoid(MLP([f; v]))``, ``z = a * tanh(f) + (1 - a) * tanh(v)`` and the fused
embedding ``z`` is supervised by (i) identity cross-entropy through a linear classifier and
(ii) the orthogonal projection loss of Ranasinghe et al. (2021) on L2-normalised ``z``:
``OPL = (1 - mean_{i!=j, y_i=y_j} <z_i, z_j>) + gamma * mean_{y_i!=y_j} |<z_i, z_j>|``
(same identities parallel, different ones orthogonal). Total ``CE + alpha * OPL``.
Inputs ``v``/``f`` are the branch outputs before tanh (L2-normalised by the FOP head).
The fusion MLP and classifier live in this module (training only); evaluation compares the
tanh of the branch embeddings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.pair_parts import require_pairs


def orthogonal_projection_loss(z: torch.Tensor, labels: torch.Tensor, gamma: float) -> torch.Tensor:
    """OPL on (N, D) features: (1 - mean same-label cosine, diagonal excluded) +
    gamma * mean |cosine| of different-label pairs (a mean over an empty set is 0)."""
    zn = F.normalize(z, dim=1)
    dot = zn @ zn.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=z.device)
    pos, neg = (same & ~eye).to(z.dtype), (~same).to(z.dtype)
    pos_mean = (pos * dot).sum() / pos.sum().clamp_min(1.0)
    neg_mean = (neg * dot).abs().sum() / neg.sum().clamp_min(1.0)
    return (1.0 - pos_mean) + gamma * neg_mean


class GatedFusion(nn.Module):
    """FOP's multimodal gate: (N, D) voice, (N, D) face -> (N, D) fused embedding."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.Linear(2 * dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, dim)
        )

    def forward(self, v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        a = torch.sigmoid(self.attention(torch.cat([f, v], dim=1)))
        return a * torch.tanh(f) + (1.0 - a) * torch.tanh(v)


class FOPLoss(nn.Module):
    def __init__(
        self, dim: int, num_classes: int, alpha: float = 1.0, gamma: float = 0.7, hidden: int = 0
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"fop: needs >= 2 training identities, got {num_classes}")
        self.alpha, self.gamma = float(alpha), float(gamma)
        self.fusion = GatedFusion(dim, hidden or dim)
        self.classifier = nn.Linear(dim, num_classes)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        require_pairs(lv, lf, "fop")
        z = self.fusion(v, f)
        ce = F.cross_entropy(self.classifier(z), lv)
        return ce + self.alpha * orthogonal_projection_loss(z, lv, self.gamma)


@LOSSES.register("fop")
def fop(
    dim: int = 128, num_classes: int = 2, alpha: float = 1.0, gamma: float = 0.7, hidden: int = 0
) -> FOPLoss:
    return FOPLoss(dim, num_classes, alpha, gamma, hidden)
