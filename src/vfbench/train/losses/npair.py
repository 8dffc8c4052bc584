"""N-pair loss (Sohn 2016) across modalities, as in FV-CME (Horiguchi, Kanda & Nagamatsu,
ACM MM 2018, "Face-Voice Matching using Cross-modal Embeddings").

For an anchor ``a_i`` (a face, a voice, or both in turn) with its positive ``p_i`` (the
other modality of the same pair) and the other pairs' items ``p_j`` of other identities as
negatives: ``L_i = log(1 + sum_j exp(a_i . p_j - a_i . p_i))`` on UNnormalised inner
products (a softmax over the batch with target i), plus Sohn's embedding-norm regulariser
``l2_reg * (mean ||v||^2 + mean ||f||^2) / 2``. Items of the anchor's own identity other than
its pair are not used as negatives.
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.pair_parts import positive_mask, require_pairs

ANCHORS = ("voice", "face", "both")


def npair_terms(a: torch.Tensor, p: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N,) N-pair terms of anchors ``a`` against candidates ``p`` (row i = positive)."""
    s = a @ p.T
    same = positive_mask(labels, labels)
    eye = torch.eye(len(labels), dtype=torch.bool, device=a.device)
    logits = (s - s.diagonal()[:, None]).masked_fill(same & ~eye, float("-inf"))
    return torch.logsumexp(logits, dim=1)  # includes exp(0) = 1 of the positive: log(1 + ...)


class NPairLoss(nn.Module):
    def __init__(self, anchor: str = "both", l2_reg: float = 0.002) -> None:
        super().__init__()
        if anchor not in ANCHORS:
            raise ConfigError(f"npair: anchor must be one of {list(ANCHORS)}, got {anchor!r}")
        if l2_reg < 0:
            raise ConfigError(f"npair: l2_reg must be >= 0, got {l2_reg}")
        self.anchor, self.l2_reg = anchor, float(l2_reg)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        require_pairs(lv, lf, "npair")
        terms = []
        if self.anchor in ("face", "both"):
            terms.append(npair_terms(f, v, lv).mean())
        if self.anchor in ("voice", "both"):
            terms.append(npair_terms(v, f, lv).mean())
        loss = torch.stack(terms).mean()
        reg = 0.5 * ((v * v).sum(1).mean() + (f * f).sum(1).mean())
        return loss + self.l2_reg * reg


@LOSSES.register("npair")
def npair(anchor: str = "both", l2_reg: float = 0.002) -> NPairLoss:
    return NPairLoss(anchor, l2_reg)
