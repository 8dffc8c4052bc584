"""Small composable parts of the metric-learning losses: distance, miners, reducer.

Shapes: ``v`` (Nv, D), ``f`` (Nf, D), labels (Nv,), (Nf,) integer identity ids.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.errors import ConfigError

REDUCTIONS = ("sum", "mean")


def euclidean(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(Na, D), (Nb, D) -> (Na, Nb) Euclidean distances (gradient-safe at 0)."""
    a2 = (a * a).sum(1, keepdim=True)
    b2 = (b * b).sum(1, keepdim=True).T
    d2 = (a2 + b2 - 2.0 * (a @ b.T)).clamp_min(eps)
    return d2.sqrt()


def pair_masks(lv: torch.Tensor, lf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Nv, Nf) boolean masks of positive (same identity) and negative pairs."""
    pos = lv[:, None] == lf[None, :]
    return pos, ~pos


def triplet_mask(lv: torch.Tensor, lf: torch.Tensor) -> torch.Tensor:
    """(Nv, Nf, Nf) mask of valid voice-anchored triplets (a, p, n): y_a == y_p != y_n."""
    pos, neg = pair_masks(lv, lf)
    return pos[:, :, None] & neg[:, None, :]


def all_triplet_hinge(
    d: torch.Tensor, lv: torch.Tensor, lf: torch.Tensor, margin: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hinge max(d(a,p) - d(a,n) + m, 0) of every valid triplet; returns (values, mask).

    ``d`` is the (Nv, Nf) anchor-to-candidate distance matrix; both outputs (Nv, Nf, Nf).
    """
    mask = triplet_mask(lv, lf)
    vals = torch.relu(d[:, :, None] - d[:, None, :] + margin) * mask
    return vals, mask


def reduce(values: torch.Tensor, mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """``sum`` of the masked values, or their ``mean`` over the mask's count (0 if empty)."""
    if reduction == "sum":
        return (values * mask).sum()
    if reduction == "mean":
        n = mask.sum()
        return (values * mask).sum() / n.clamp_min(1)
    raise ConfigError(f"loss reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ConfigError(f"loss reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    return reduction


class MarginLoss(nn.Module):
    """Base of the margin losses on a batch: ``forward(v, lv, f, lf)`` with voice
    embeddings ``v`` (B, D) / labels ``lv`` and face embeddings ``f`` / labels ``lf``."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = float(margin)
        self.reduction = check_reduction(reduction)
