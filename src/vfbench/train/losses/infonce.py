"""InfoNCE / CLIP-style cross-modal loss: cosine similarities / temperature; for each voice
(and, if ``symmetric``, each face) -log(sum over positives / sum over all candidates)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import pair_masks


def _multi_positive_nce(logits: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """(N, M) logits, (N, M) positive mask -> (N,) -log softmax mass on the positives."""
    lse_all = torch.logsumexp(logits, dim=1)
    lse_pos = torch.logsumexp(logits.masked_fill(~pos, float("-inf")), dim=1)
    return lse_all - lse_pos


class InfoNCELoss(nn.Module):
    def __init__(self, temperature: float = 0.1, symmetric: bool = True) -> None:
        super().__init__()
        self.temperature = float(temperature)
        self.symmetric = symmetric

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        logits = F.normalize(v, dim=1) @ F.normalize(f, dim=1).T / self.temperature
        pos, _ = pair_masks(lv, lf)
        has = pos.any(1)
        loss = _multi_positive_nce(logits[has], pos[has]).mean()
        if self.symmetric:
            has_f = pos.any(0)
            loss = 0.5 * (loss + _multi_positive_nce(logits.T[has_f], pos.T[has_f]).mean())
        return loss


@LOSSES.register("infonce")
def infonce(temperature: float = 0.1, symmetric: bool = True) -> InfoNCELoss:
    return InfoNCELoss(temperature, symmetric)
