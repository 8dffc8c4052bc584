"""Eq. 1 of the paper: the voice-anchored triplet loss of TriNet.

    Loss = sum over triplets (v_i, f_i, f_j), i != j, of
           max(d(emb_v(v_i), emb_f(f_i)) - d(emb_v(v_i), emb_f(f_j)) + m, 0)

with d the Euclidean distance and m = 1, over every triplet of the identity-sampled
batch. With K items per identity, the positives of voice v are all faces of its identity
and the negatives all faces of the other identities, so a batch of P identities holds
P*K (anchors) x K (positives) x (P-1)*K (negatives) = P(P-1)K^3 triplets (P(P-1) for
K = 1). ``reduction="sum"`` is the paper's; ``"mean"`` divides by that count.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import all_triplet_hinge, check_reduction, euclidean, reduce


class TriNetTripletLoss(nn.Module):
    def __init__(self, margin: float = 1.0, reduction: str = "sum") -> None:
        super().__init__()
        self.margin = float(margin)
        self.reduction = check_reduction(reduction)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        vals, mask = all_triplet_hinge(euclidean(v, f), lv, lf, self.margin)
        return reduce(vals, mask, self.reduction)


@LOSSES.register("trinet_triplet")
def trinet_triplet(margin: float = 1.0, reduction: str = "sum") -> TriNetTripletLoss:
    return TriNetTripletLoss(margin, reduction)
