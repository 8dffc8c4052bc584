"""Cross-modal Barlow Twins (Zbontar et al., ICML 2021), the Barlow Twins baseline of
Self-Lifting (Chen et al., ICMR 2022): the voice and the face of one pair are the two
"views".

Both embeddings go through ONE shared linear projector ``W`` (D -> P, no bias; training
only), each projected dimension is standardised over the batch (mean 0, std 1), and the
cross-correlation ``C = z_v^T z_f / N`` (P, P) is pushed to the identity:
``L = sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2`` (lambda = 5e-3 as in the paper).
No labels: only the pairing is used.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.pair_parts import require_pairs


def standardize(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-dimension standardisation over the batch (unbiased std, as torch.std)."""
    return (z - z.mean(0)) / (z.std(0) + eps)


def barlow_twins_loss(za: torch.Tensor, zb: torch.Tensor, lam: float) -> torch.Tensor:
    """(N, P), (N, P) -> scalar Barlow Twins loss of the two views."""
    n = za.shape[0]
    c = standardize(za).T @ standardize(zb) / n
    on = (1.0 - c.diagonal()).pow(2).sum()
    off = c.pow(2).sum() - c.diagonal().pow(2).sum()
    return on + lam * off


class BarlowTwinsLoss(nn.Module):
    def __init__(self, dim: int = 128, proj_dim: int = 256, lam: float = 5e-3) -> None:
        super().__init__()
        if proj_dim < 1 or lam < 0:
            raise ConfigError(f"barlow_twins: proj_dim >= 1 and lam >= 0, got {proj_dim}, {lam}")
        self.lam = float(lam)
        self.projector = nn.Linear(dim, proj_dim, bias=False)
        nn.init.xavier_normal_(self.projector.weight)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        require_pairs(lv, lf, "barlow_twins")
        if v.shape[0] < 2:
            raise ConfigError("barlow_twins: needs a batch of >= 2 pairs (batch statistics)")
        return barlow_twins_loss(self.projector(v), self.projector(f), self.lam)


@LOSSES.register("barlow_twins")
def barlow_twins(dim: int = 128, proj_dim: int = 256, lam: float = 5e-3) -> BarlowTwinsLoss:
    return BarlowTwinsLoss(dim, proj_dim, lam)
