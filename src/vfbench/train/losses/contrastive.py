"""Contrastive loss (Hadsell et al. 2006) over all voice-face pairs of the batch:
positives d^2, negatives max(m - d, 0)^2."""

from __future__ import annotations

import torch

from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import MarginLoss, euclidean, pair_masks, reduce


class ContrastiveLoss(MarginLoss):
    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        d = euclidean(v, f)
        pos, _ = pair_masks(lv, lf)
        vals = torch.where(pos, d**2, torch.relu(self.margin - d) ** 2)
        return reduce(vals, torch.ones_like(pos), self.reduction)


@LOSSES.register("contrastive")
def contrastive(margin: float = 1.0, reduction: str = "mean") -> ContrastiveLoss:
    return ContrastiveLoss(margin, reduction)
