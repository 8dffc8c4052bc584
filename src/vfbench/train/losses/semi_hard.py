"""Semi-hard triplet mining (Schroff et al. 2015), voice-anchored: only triplets whose
negative is farther than the positive but inside the margin, d_ap < d_an < d_ap + m."""

from __future__ import annotations

import torch

from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import MarginLoss, euclidean, reduce, triplet_mask


class SemiHardLoss(MarginLoss):
    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        d = euclidean(v, f)
        dap, dan = d[:, :, None], d[:, None, :]
        with torch.no_grad():
            mask = triplet_mask(lv, lf) & (dan > dap) & (dan < dap + self.margin)
        return reduce(torch.relu(dap - dan + self.margin), mask, self.reduction)


@LOSSES.register("semi_hard")
def semi_hard(margin: float = 1.0, reduction: str = "mean") -> SemiHardLoss:
    return SemiHardLoss(margin, reduction)
