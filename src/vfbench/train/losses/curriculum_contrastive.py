"""Learnable PINs-style contrastive loss with curriculum hard-negative mining (Nagrani,
Albanie & Zisserman 2018, "Learnable PINs: Cross-Modal Embeddings for Person Identity").

PINs trains on voice-face pairs with the contrastive loss of Hadsell et al. (2006):
positive pairs ``d^2``, negative pairs ``max(m - d, 0)^2``, and mines negatives with a
curriculum: early in training negatives are random, later an increasing fraction of them
are hard. Here, in an identity-sampled batch:

* positives: every (voice, face) pair of the same identity;
* negatives: one per anchor (each voice, and with ``symmetric`` each face too): for a
  fraction ``h(step)`` of the anchors (a random subset) the *hardest* negative (the closest
  item of another identity), for the others a uniformly random negative;
* ``h(step)`` rises linearly from ``hard_start`` to ``hard_end`` between ``ramp_start`` and
  ``ramp_end`` steps (flat outside) - the published schedule is a curriculum of this shape;
  its exact constants are not fixed by the paper, so they are configurable.

Loss per direction = (sum of positive terms + sum of negative terms) / (number of terms);
the two directions are averaged. Draws are seeded by ``seed`` and the step
(:meth:`CurriculumContrastiveLoss.set_step`), so a resumed run mines the same negatives.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import euclidean, pair_masks


def hard_fraction(
    step: int, hard_start: float, hard_end: float, ramp_start: int, ramp_end: int
) -> float:
    """The curriculum: fraction of hard negatives at ``step`` (linear ramp, clamped)."""
    if ramp_end <= ramp_start:
        return float(hard_end if step >= ramp_end else hard_start)
    t = min(max((step - ramp_start) / (ramp_end - ramp_start), 0.0), 1.0)
    return float(hard_start + (hard_end - hard_start) * t)


def choose_negatives(
    d: torch.Tensor, la: torch.Tensor, lc: torch.Tensor, frac: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One negative candidate per anchor of the (Na, Nc) distance matrix ``d``.

    Returns ``(anchors, negatives, is_hard)``: anchor rows that have a negative, the chosen
    candidate column of each, and whether it is the hardest one (closest) or a random one.
    ``round(frac * n_anchors)`` anchors (a random subset) get the hardest negative.
    """
    _, neg = pair_masks(la, lc)
    rows = torch.nonzero(neg.any(1), as_tuple=True)[0]
    if rows.numel() == 0:
        e = torch.zeros(0, dtype=torch.long, device=d.device)
        return e, e, torch.zeros(0, dtype=torch.bool, device=d.device)
    nm = neg[rows]
    rand = torch.multinomial(nm.float(), 1, generator=gen)[:, 0]
    big = torch.finfo(d.dtype).max
    hard = torch.where(nm, d[rows].detach(), torch.full_like(d[rows], big)).argmin(1)
    n_hard = int(round(frac * rows.numel()))
    perm = torch.randperm(rows.numel(), generator=gen, device=d.device)
    is_hard = torch.zeros(rows.numel(), dtype=torch.bool, device=d.device)
    is_hard[perm[:n_hard]] = True
    return rows, torch.where(is_hard, hard, rand), is_hard


def contrastive_terms(
    d: torch.Tensor, la: torch.Tensor, lc: torch.Tensor, rows: torch.Tensor, negs: torch.Tensor,
    margin: float,
) -> torch.Tensor:  # fmt: skip
    """Mean of the positive terms d^2 and the chosen negatives' max(m - d, 0)^2."""
    pos, _ = pair_masks(la, lc)
    pos_terms = (d**2)[pos]
    neg_terms = torch.relu(margin - d[rows, negs]) ** 2
    n = pos_terms.numel() + neg_terms.numel()
    return (pos_terms.sum() + neg_terms.sum()) / max(n, 1)


class CurriculumContrastiveLoss(nn.Module):
    def __init__(
        self,
        margin: float = 1.0,
        hard_start: float = 0.0,
        hard_end: float = 0.5,
        ramp_start: int = 0,
        ramp_end: int = 1000,
        symmetric: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, x in (("hard_start", hard_start), ("hard_end", hard_end)):
            if not 0.0 <= x <= 1.0:
                raise ConfigError(f"curriculum_contrastive: {name} must be in [0, 1], got {x}")
        if ramp_start < 0 or ramp_end < 0:
            raise ConfigError("curriculum_contrastive: ramp_start/ramp_end must be >= 0")
        self.margin = float(margin)
        self.hard_start, self.hard_end = float(hard_start), float(hard_end)
        self.ramp_start, self.ramp_end = int(ramp_start), int(ramp_end)
        self.symmetric = symmetric
        self.seed = int(seed)
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = int(step)

    def fraction(self) -> float:
        return hard_fraction(
            self.step, self.hard_start, self.hard_end, self.ramp_start, self.ramp_end
        )

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        d = euclidean(v, f)
        gen = torch.Generator(device=d.device)
        gen.manual_seed(self.seed * 1_000_003 + self.step)
        frac = self.fraction()
        rows, negs, _ = choose_negatives(d, lv, lf, frac, gen)
        loss = contrastive_terms(d, lv, lf, rows, negs, self.margin)
        if self.symmetric:
            rows, negs, _ = choose_negatives(d.T, lf, lv, frac, gen)
            loss = 0.5 * (loss + contrastive_terms(d.T, lf, lv, rows, negs, self.margin))
        return loss


@LOSSES.register("curriculum_contrastive")
def curriculum_contrastive(
    margin: float = 1.0,
    hard_start: float = 0.0,
    hard_end: float = 0.5,
    ramp_start: int = 0,
    ramp_end: int = 1000,
    symmetric: bool = True,
    seed: int = 0,
) -> CurriculumContrastiveLoss:
    return CurriculumContrastiveLoss(
        margin, hard_start, hard_end, ramp_start, ramp_end, symmetric, seed
    )
