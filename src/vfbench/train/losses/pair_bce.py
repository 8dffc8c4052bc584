"""Horiguchi et al. 2018-style matching objective ("Face-voice matching using cross-modal
embeddings"): a binary same/different classifier on (voice, face) pairs.

Every (voice, face) pair of the identity-sampled batch is a training example with target
1 (same identity) or 0; the logit is ``score_fn(v, f)`` (the method's learned pair
matcher on the two embeddings). With ``balance=True`` (default) positives and negatives
weigh equally: ``1/2 (mean_pos softplus(-s) + mean_neg softplus(s))`` (a batch of P
identities holds P(P-1) times more negatives than positives); otherwise the plain mean
binary cross-entropy over all pairs. ``embed_weight`` > 0 adds the contrastive loss of
the embeddings themselves (positives d^2, negatives max(m - d, 0)^2, all pairs), a
cross-modal embedding term; 0 by default.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import euclidean, pair_masks

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _dot(v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return v @ f.T


class PairBCELoss(nn.Module):
    def __init__(
        self,
        score_fn: ScoreFn | None = None,
        balance: bool = True,
        embed_weight: float = 0.0,
        margin: float = 1.0,
    ) -> None:
        super().__init__()
        if embed_weight < 0:
            raise ConfigError(f"pair_bce: embed_weight must be >= 0, got {embed_weight}")
        self.score_fn: ScoreFn = score_fn or _dot  # plain attribute: the matcher is the model's
        self.balance = balance
        self.embed_weight = float(embed_weight)
        self.margin = float(margin)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        s = self.score_fn(v, f)
        pos, neg = pair_masks(lv, lf)
        if self.balance:
            parts = [F.softplus(-s[pos]).mean()] if bool(pos.any()) else []
            if bool(neg.any()):
                parts.append(F.softplus(s[neg]).mean())
            loss = torch.stack(parts).mean()
        else:
            loss = F.binary_cross_entropy_with_logits(s, pos.float())
        if self.embed_weight > 0:
            d = euclidean(v, f)
            c = torch.where(pos, d**2, torch.relu(self.margin - d) ** 2).mean()
            loss = loss + self.embed_weight * c
        return loss


@LOSSES.register("pair_bce")
def pair_bce(
    score_fn: ScoreFn | None = None,
    balance: bool = True,
    embed_weight: float = 0.0,
    margin: float = 1.0,
) -> PairBCELoss:
    return PairBCELoss(score_fn, balance, embed_weight, margin)
