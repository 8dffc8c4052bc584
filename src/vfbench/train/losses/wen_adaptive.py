"""Wen et al. 2021 (SSNet; "Seeking the Shape of Sound: An Adaptive Framework for Learning
Voice-Face Association", CVPR 2021): two-level modality alignment with identity-level
adaptive re-weighting.

Per pair i (voice v_i, face f_i, identity y_i):

* global term: identity cross-entropy through ONE classifier shared by both modalities,
  ``g_i = CE(W v_i, y_i) + CE(W f_i, y_i)`` (the paper's Eq. 7 loss, the hardness signal);
* local term: ``l_i = (c(v, f)_i + c(f, v)_i) / 2`` with
  ``c(x, y)_i = log(1 + offset + sum_{j: y_j != y_i} exp(<x_i, y_j/|y_j|> - <x_i, y_i/|y_i|>))``:
  the anchor ``x_i`` is raw, the candidates are unit vectors, as in the official
  implementation's ``Classifier.cross_logit`` (``KID-7391/seeking-the-shape-of-sound``,
  ``models/backbones.py``: ``dist(F.normalize(x).unsqueeze(0), v.unsqueeze(1))``, row = the
  raw anchor); its diagonal ``exp(0)`` and constant 3.4 are ``offset = 4.4``;
* total ``mean_i w_{y_i} g_i + mean_i w_{y_i} l_i``.

Identity weights ``w`` (the dynamic re-weighting, Sec. 3.3): all 1 for ``warmup`` steps;
then the hardness of each identity is an EMA (``beta``) of its unweighted ``g``; every
``update_every`` steps the weights change: the first time the easiest ``init_ratio`` of the
identities get 1 and the rest 0 (filtering the hardest, possibly unlearnable ones), later the
``add_fraction`` easiest identities still at 0 are switched on and all others decay by
``decay`` - a curriculum from easy to hard. Once ``coverage`` of the identities have a
non-zero weight the weights are frozen. With ``normalize_weights`` (default) the weights
a batch uses are rescaled to mean 1 over all identities, and a batch whose identities are
all at 0 uses 1 each - the official ``center.get_weight`` (``models/center_model.py``), so
switching identities off does not shrink the loss; its defaults are ``init_ratio`` 0.5
(``add_ratio = 0.5`` on the first round) and ``add_fraction`` 0.024 (``add_ratio = 0.024``,
22 of its 924 training identities). Weights and hardness are buffers (checkpointed).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.pair_parts import require_pairs


def cross_logit(
    x: torch.Tensor, y: torch.Tensor, labels: torch.Tensor, offset: float
) -> torch.Tensor:
    """(N,) local alignment terms of anchors ``x`` against candidates ``y`` (row i pairs)."""
    s = x @ F.normalize(y, dim=1).T
    neg = labels[:, None] != labels[None, :]
    diff = (s - s.diagonal()[:, None]).masked_fill(~neg, float("-inf"))
    lse = torch.logsumexp(diff, dim=1)  # -inf when no negative
    return torch.logaddexp(torch.full_like(lse, math.log(1.0 + offset)), lse)


@LOSSES.register("wen_adaptive")
class WenAdaptiveLoss(nn.Module):
    weights: torch.Tensor
    hardness: torch.Tensor
    seen: torch.Tensor
    updates: torch.Tensor
    frozen: torch.Tensor

    def __init__(
        self,
        dim: int = 128,
        num_classes: int = 2,
        scale: float = 1.0,
        offset: float = 4.4,
        warmup: int = 0,
        update_every: int = 100,
        init_ratio: float = 0.5,
        add_fraction: float = 0.024,
        decay: float = 0.99,
        beta: float = 0.9,
        coverage: float = 0.9,
        reweight: bool = True,
        normalize_weights: bool = True,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"wen_adaptive: needs >= 2 training identities, got {num_classes}")
        for k, x in (("init_ratio", init_ratio), ("add_fraction", add_fraction),
                     ("decay", decay), ("beta", beta), ("coverage", coverage)):  # fmt: skip
            if not 0.0 < x <= 1.0:
                raise ConfigError(f"wen_adaptive: {k} must be in (0, 1], got {x}")
        if update_every < 1 or warmup < 0 or offset < 0:
            raise ConfigError("wen_adaptive: update_every >= 1, warmup >= 0 and offset >= 0")
        self.classifier = nn.Linear(dim, num_classes)
        self.scale, self.offset = float(scale), float(offset)
        self.warmup, self.update_every = int(warmup), int(update_every)
        self.init_ratio, self.decay, self.beta = init_ratio, decay, beta
        self.coverage, self.reweight = coverage, bool(reweight)
        self.normalize_weights = bool(normalize_weights)
        self.add_count = max(1, int(round(add_fraction * num_classes)))
        self.register_buffer("weights", torch.ones(num_classes))
        self.register_buffer("hardness", torch.zeros(num_classes))
        self.register_buffer("seen", torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.register_buffer("frozen", torch.zeros((), dtype=torch.bool))
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = int(step)

    def terms(
        self, v: torch.Tensor, f: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(global (N,), local (N,)) unweighted terms of the pairs."""
        g = F.cross_entropy(self.classifier(v / self.scale), labels, reduction="none")
        g = g + F.cross_entropy(self.classifier(f / self.scale), labels, reduction="none")
        loc = 0.5 * (
            cross_logit(v, f, labels, self.offset) + cross_logit(f, v, labels, self.offset)
        )
        return g, loc

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        require_pairs(lv, lf, "wen_adaptive")
        g, loc = self.terms(v, f, lv)
        w = self.batch_weights(lv).to(g.dtype) if self.reweight else torch.ones_like(g)
        loss = (w * g).mean() + (w * loc).mean()
        if self.training and self.reweight and self.step >= self.warmup and not bool(self.frozen):
            self.track(lv, g.detach())
            if (self.step - self.warmup + 1) % self.update_every == 0:
                self.update_weights()
        return loss

    @torch.no_grad()
    def batch_weights(self, labels: torch.Tensor) -> torch.Tensor:
        """(N,) weights of a batch's identities: raw, or (``normalize_weights``) rescaled so
        the identity weights average 1, and 1 each when they are all 0 (official code)."""
        w = self.weights[labels]
        if not self.normalize_weights:
            return w
        total = float(self.weights.sum())
        if total > 0.0:
            w = w * (len(self.weights) / total)
        return w + 1.0 if float(w.sum()) < 1e-3 else w

    @torch.no_grad()
    def track(self, labels: torch.Tensor, g: torch.Tensor) -> None:
        """EMA of each identity's unweighted global loss (its first value starts the EMA)."""
        ids, inv = torch.unique(labels, return_inverse=True)
        mean = torch.zeros(len(ids), dtype=g.dtype, device=g.device).index_add_(0, inv, g)
        mean = mean / torch.bincount(inv, minlength=len(ids)).to(g.dtype)
        ema = self.beta * self.hardness[ids].to(g.dtype) + (1.0 - self.beta) * mean
        self.hardness[ids] = torch.where(self.seen[ids], ema, mean).to(self.hardness.dtype)
        self.seen[ids] = True

    @torch.no_grad()
    def update_weights(self) -> None:
        """One re-weighting round (easiest = lowest hardness; unseen identities rank last)."""
        c = len(self.weights)
        h = torch.where(self.seen, self.hardness, torch.full_like(self.hardness, float("inf")))
        order = torch.argsort(h, stable=True)  # easiest first
        if int(self.updates) == 0:
            new = torch.zeros_like(self.weights)
            new[order[: max(1, int(round(self.init_ratio * c)))]] = 1.0
        else:
            zero = order[self.weights[order] == 0][: self.add_count]
            new = self.weights * self.decay
            new[zero] = 1.0
        self.weights.copy_(new)
        self.updates += 1
        if int((self.weights > 0).sum()) >= self.coverage * c:
            self.frozen.fill_(True)
