"""Eq. 1 anchored on both modalities: voice-anchored (v_i, f_i, f_j) plus face-anchored
(f_i, v_i, v_j) triplets, summed (or each averaged, then summed)."""

from __future__ import annotations

import torch

from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import MarginLoss, all_triplet_hinge, euclidean, reduce


class SymmetricTripletLoss(MarginLoss):
    def __init__(self, margin: float = 1.0, reduction: str = "sum") -> None:
        super().__init__(margin, reduction)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        d = euclidean(v, f)
        a, ma = all_triplet_hinge(d, lv, lf, self.margin)
        b, mb = all_triplet_hinge(d.T, lf, lv, self.margin)
        return reduce(a, ma, self.reduction) + reduce(b, mb, self.reduction)


@LOSSES.register("symmetric_triplet")
def symmetric_triplet(margin: float = 1.0, reduction: str = "sum") -> SymmetricTripletLoss:
    return SymmetricTripletLoss(margin, reduction)
