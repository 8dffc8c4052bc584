"""Batch-hard triplet loss (Hermans et al. 2017), voice-anchored: for each voice anchor the
farthest positive face and the nearest negative face, max(d_ap - d_an + m, 0)."""

from __future__ import annotations

import torch

from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import MarginLoss, euclidean, pair_masks, reduce


class BatchHardLoss(MarginLoss):
    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        d = euclidean(v, f)
        pos, neg = pair_masks(lv, lf)
        big = torch.finfo(d.dtype).max / 4
        hard_pos = torch.where(pos, d, torch.zeros_like(d)).max(1).values
        hard_neg = torch.where(neg, d, torch.full_like(d, big)).min(1).values
        valid = pos.any(1) & neg.any(1)
        vals = torch.relu(hard_pos - hard_neg + self.margin)
        return reduce(vals, valid, self.reduction)


@LOSSES.register("batch_hard")
def batch_hard(margin: float = 1.0, reduction: str = "mean") -> BatchHardLoss:
    return BatchHardLoss(margin, reduction)
