"""SVHF-style forced choice (Nagrani et al. 2018b, "Seeing Voices and Hearing Faces").

SVHF shows a voice and n faces (n = 2 in the static 1:2 task) and classifies which face
belongs to the speaker (softmax over the n candidates, cross-entropy); the face->voice
counterpart shows one face and n voices. Here every trial is built inside an
identity-sampled batch: for an anchor ``a`` and a positive ``p`` (same identity, other
modality) the candidates are ``p`` plus ``n - 1`` negatives (other identities), and the
logit of a candidate is the pairwise score ``s(anchor, candidate)``.

* ``n_candidates = 2``: every (anchor, positive, negative) triplet of the batch is a trial;
  the cross-entropy of ``[s_ap, s_an]`` with target 0 is ``softplus(s_an - s_ap)``.
* ``n_candidates > 2``: for each (anchor, positive) pair, ``n - 1`` negatives are drawn
  uniformly (with replacement, seeded by ``seed`` and the training step, see
  :meth:`ForcedChoiceLoss.set_step`).

``score_fn(v (Nv, D), f (Nf, D)) -> (Nv, Nf)`` gives the scores (higher = same person); the
SVHF method passes its learned pair matcher. Without one the score is the negative squared
Euclidean distance, which makes this a softmax ("N-pair") triplet loss on embeddings.
``directions`` selects v2f (voice anchors, face candidates) and/or f2v; their mean losses
are averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.parts import pair_masks

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
DIRECTIONS = ("v2f", "f2v")


def neg_sq_euclidean(v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """(Nv, D), (Nf, D) -> (Nv, Nf) scores ``-||v - f||^2``."""
    return -((v * v).sum(1, keepdim=True) + (f * f).sum(1)[None, :] - 2.0 * v @ f.T)


def forced_choice_ce(
    s: torch.Tensor, la: torch.Tensor, lc: torch.Tensor, n: int, gen: torch.Generator | None
) -> torch.Tensor:
    """Mean cross-entropy of the in-batch 1:n trials of the (anchors, candidates) score
    matrix ``s`` (Na, Nc) with labels ``la`` (Na,), ``lc`` (Nc,); 0 if there is no trial."""
    pos, neg = pair_masks(la, lc)
    if n == 2:
        mask = pos[:, :, None] & neg[:, None, :]  # (a, p, n)
        vals = F.softplus(s[:, None, :] - s[:, :, None])
        cnt = mask.sum()
        return (vals * mask).sum() / cnt.clamp_min(1)
    a_idx, p_idx = torch.nonzero(pos, as_tuple=True)
    ok = neg[a_idx].any(1)
    a_idx, p_idx = a_idx[ok], p_idx[ok]
    if a_idx.numel() == 0:
        return s.sum() * 0.0
    w = neg[a_idx].float()  # (T, Nc) uniform over the anchor's negatives
    n_idx = torch.multinomial(w, n - 1, replacement=True, generator=gen)  # (T, n-1)
    logits = torch.cat([s[a_idx, p_idx][:, None], s[a_idx[:, None], n_idx]], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(a_idx), dtype=torch.long, device=s.device))


class ForcedChoiceLoss(nn.Module):
    """Softmax over 1 positive + (n - 1) negative candidates per trial (SVHF objective)."""

    def __init__(
        self,
        score_fn: ScoreFn | None = None,
        n_candidates: int = 2,
        directions: Sequence[str] = DIRECTIONS,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if n_candidates < 2:
            raise ConfigError(f"forced_choice: n_candidates must be >= 2, got {n_candidates}")
        bad = [d for d in directions if d not in DIRECTIONS]
        if bad or not directions:
            raise ConfigError(
                f"forced_choice: directions must be a non-empty subset of {list(DIRECTIONS)},"
                f" got {list(directions)}"
            )
        # a plain attribute (not a registered module): the matcher belongs to the model
        self.score_fn: ScoreFn = score_fn or neg_sq_euclidean
        self.n = int(n_candidates)
        self.directions = tuple(directions)
        self.seed = int(seed)
        self.step = 0

    def set_step(self, step: int) -> None:
        """Training step (seeds the negative draws when n_candidates > 2)."""
        self.step = int(step)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        s = self.score_fn(v, f)
        gen = None
        if self.n > 2:
            gen = torch.Generator(device=s.device)
            gen.manual_seed(self.seed * 1_000_003 + self.step)
        parts = []
        if "v2f" in self.directions:
            parts.append(forced_choice_ce(s, lv, lf, self.n, gen))
        if "f2v" in self.directions:
            parts.append(forced_choice_ce(s.T, lf, lv, self.n, gen))
        return torch.stack(parts).mean()


@LOSSES.register("forced_choice")
def forced_choice(
    score_fn: ScoreFn | None = None,
    n_candidates: int = 2,
    directions: Sequence[str] = DIRECTIONS,
    seed: int = 0,
) -> ForcedChoiceLoss:
    return ForcedChoiceLoss(score_fn, n_candidates, directions, seed)
