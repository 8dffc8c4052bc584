"""Softmax-ratio triplet loss (Hoffer & Ailon 2015, "Deep metric learning using Triplet
network"), the objective of LAFV (Kim et al., ACCV 2018, "On Learning Associations of Faces
and Voices").

For a triplet (a, p, n) with Euclidean distances ``d+ = ||a - p||``, ``d- = ||a - n||``:
``(s+, s-) = softmax(d+, d-)`` and the loss is the distance of ``(s+, s-)`` to ``(0, 1)``:
``||(s+, s- - 1)||_2 = sqrt(2) s+`` (``squared: true``: Hoffer & Ailon's squared form
``2 s+^2``). It has no margin and saturates once ``d- >> d+``. Triplets: every (anchor,
positive) pair of the batch with ONE random negative of another identity (seeded by seed
and step, as ``kim_triplet``); anchors are voices, faces, or both (mean of the two).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.kim_triplet import random_triplets
from vfbench.train.losses.pair_parts import step_generator
from vfbench.train.losses.parts import euclidean

ANCHORS = ("voice", "face", "both")


def softmax_ratio(d_pos: torch.Tensor, d_neg: torch.Tensor, squared: bool) -> torch.Tensor:
    """(T,) loss of each triplet from its (T,) positive and negative distances."""
    s_pos = torch.softmax(torch.stack([d_pos, d_neg], dim=1), dim=1)[:, 0]
    return 2.0 * s_pos * s_pos if squared else math.sqrt(2.0) * s_pos


class SoftmaxTripletLoss(nn.Module):
    def __init__(self, anchors: str = "both", squared: bool = False, seed: int = 0) -> None:
        super().__init__()
        if anchors not in ANCHORS:
            raise ConfigError(
                f"softmax_triplet: anchors must be one of {list(ANCHORS)}, got {anchors!r}"
            )
        self.anchors, self.squared, self.seed = anchors, bool(squared), int(seed)
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = int(step)

    def _one(
        self, d: torch.Tensor, la: torch.Tensor, lc: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        a, p, n = random_triplets(la, lc, gen)
        if a.numel() == 0:
            return d.sum() * 0.0
        return softmax_ratio(d[a, p], d[a, n], self.squared).mean()

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        d = euclidean(v, f)
        gen = step_generator(self.seed, self.step, device=d.device)
        parts = []
        if self.anchors in ("voice", "both"):
            parts.append(self._one(d, lv, lf, gen))
        if self.anchors in ("face", "both"):
            parts.append(self._one(d.T, lf, lv, gen))
        return torch.stack(parts).mean()


@LOSSES.register("softmax_triplet")
def softmax_triplet(
    anchors: str = "both", squared: bool = False, seed: int = 0
) -> SoftmaxTripletLoss:
    return SoftmaxTripletLoss(anchors, squared, seed)
