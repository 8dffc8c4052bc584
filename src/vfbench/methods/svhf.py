"""SVHF-style method (Nagrani, Albanie & Zisserman 2018, "Seeing Voices and Hearing Faces").

SVHF is a three-stream classifier: a voice stream and two face streams (VGG-M style
CNNs) whose outputs are fused by fully-connected layers into a 2-way softmax "which face
is the speaker's" (and the face->voice counterpart: one face, two voices). It is trained
with cross-entropy on randomly drawn (voice, face A, face B) triplets.

Choices where the description leaves room (all configurable in ``loss.kwargs``):

* **Shared-stream fusion.** The candidate streams share weights, and so does the fusion:
  each candidate k gets the logit ``g(v, f_k)`` of a learned pair matcher (an MLP on the
  concatenated pair, :class:`~vfbench.methods.base.PairMatcher`), and the
  softmax runs over the candidates. This is a three-stream network invariant to the order
  of the candidates (SVHF needed order augmentation for that) that extends to 1:n by
  adding streams (``n_candidates``) without new weights - the "1:n by pairwise scores"
  variant - and it gives the benchmark a pairwise score.
* **Evaluation.** The embeddings of ``vfbench embed`` are the stream outputs (after the
  FC head); SVHF is evaluated through :meth:`SVHF.scorer`, which scores (voice, face)
  pairs with the matcher: a 1:n trial picks the candidate with the highest ``g``, exactly
  the n-stream softmax decision. Pass it as ``evaluate(..., scorer=...)``
  (``vfbench methods benchmark`` does).
* **Trials.** Built inside identity-sampled batches (every (anchor, positive, negative) of
  the batch for 1:2), both directions (``directions: [v2f, f2v]``) - the forced-choice
  objective of :mod:`vfbench.train.losses.forced_choice`.
* **Encoders.** ``vgg_m`` for both modalities in the paper-scale config, ``small_cnn`` on
  CPU; head = FC without L2 normalisation (``head.l2: false``, ``head.scale: 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from vfbench.methods.base import MatcherMethod, matcher_of
from vfbench.methods.registry import METHODS
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss


@dataclass
class SVHFOptions:
    n_candidates: int = 2  # streams per trial: 1 anchor + n candidate faces (or voices)
    directions: list[str] = field(default_factory=lambda: ["v2f", "f2v"])
    hidden: int = 256  # fusion MLP width
    product: bool = False  # add the elementwise product v*f to the fused input
    normalize: bool = True  # matcher inputs scaled to norm sqrt(D) (scale-free fusion)

    def validate(self) -> None:
        if self.n_candidates < 2:
            raise ValueError(f"n_candidates must be >= 2, got {self.n_candidates}")
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {self.hidden}")


@METHODS.register("svhf")
class SVHF(MatcherMethod):
    name = "svhf"
    description = "SVHF: n-stream forced-choice classifier (voice + n faces), pair-matcher fusion"
    loss_name = "forced_choice"
    options_cls = SVHFOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss(
            "forced_choice",
            score_fn=matcher_of(model).matrix,
            n_candidates=o.n_candidates,
            directions=list(o.directions),
            seed=cfg.seed,
        )
