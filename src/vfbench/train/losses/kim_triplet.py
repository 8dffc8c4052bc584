"""Kim et al. 2018-style triplet loss ("On Learning Associations of Faces and Voices").

Triplets anchored on BOTH modalities: voice-anchored (v_a, f_p, f_n) and face-anchored
(f_a, v_p, v_n), hinge ``max(d(a, p) - d(a, n) + m, 0)`` with Euclidean ``d`` on
unconstrained embeddings (no L2 normalisation, no scale - the difference the TriNet paper
points out, section 2). Kim et al. mine discrete random triplets, so by default
(``negatives="random"``) each (anchor, positive) pair of the identity-sampled batch gets
ONE uniformly drawn negative (seeded by ``seed`` and the step); ``negatives="all"`` uses
every valid triplet (then it equals ``symmetric_triplet`` with mean reduction).
The loss is the mean hinge over the voice-anchored triplets plus the mean over the
face-anchored ones.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import all_triplet_hinge, euclidean, pair_masks, reduce

NEGATIVES = ("random", "all")


def random_triplets(
    la: torch.Tensor, lc: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(anchor, positive, negative) index triples: every positive pair with one random
    negative candidate of another identity. Pairs whose anchor has no negative are dropped."""
    pos, neg = pair_masks(la, lc)
    a, p = torch.nonzero(pos, as_tuple=True)
    ok = neg[a].any(1)
    a, p = a[ok], p[ok]
    if a.numel() == 0:
        return a, p, p.clone()
    n = torch.multinomial(neg[a].float(), 1, generator=gen)[:, 0]
    return a, p, n


class KimTripletLoss(nn.Module):
    def __init__(self, margin: float = 1.0, negatives: str = "random", seed: int = 0) -> None:
        super().__init__()
        if negatives not in NEGATIVES:
            raise ConfigError(
                f"kim_triplet: negatives must be one of {list(NEGATIVES)}, got {negatives!r}"
            )
        self.margin = float(margin)
        self.negatives = negatives
        self.seed = int(seed)
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = int(step)

    def _one(
        self, d: torch.Tensor, la: torch.Tensor, lc: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        if self.negatives == "all":
            vals, mask = all_triplet_hinge(d, la, lc, self.margin)
            return reduce(vals, mask, "mean")
        a, p, n = random_triplets(la, lc, gen)
        if a.numel() == 0:
            return d.sum() * 0.0
        return torch.relu(d[a, p] - d[a, n] + self.margin).mean()

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        d = euclidean(v, f)
        gen = torch.Generator(device=d.device)
        gen.manual_seed(self.seed * 1_000_003 + self.step)
        return self._one(d, lv, lf, gen) + self._one(d.T, lf, lv, gen)


@LOSSES.register("kim_triplet")
def kim_triplet(margin: float = 1.0, negatives: str = "random", seed: int = 0) -> KimTripletLoss:
    return KimTripletLoss(margin, negatives, seed)
