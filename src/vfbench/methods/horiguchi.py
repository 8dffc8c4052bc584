"""Horiguchi et al. 2018-style method ("Face-voice matching using cross-modal embeddings").

A voice network and a face network map their inputs to embeddings (FC heads on the
backbones), and a matching classifier decides from a pair's embeddings whether voice and
face belong to the same person (binary cross-entropy). Matching and retrieval rank by
the classifier's logit.

Choices (configurable in ``loss.kwargs``):

* the classifier is the MLP pair matcher of
  :class:`~vfbench.methods.base.PairMatcher` on ``[v, f, v*f]``
  (``product: true``), one hidden layer of ``hidden`` units;
* training pairs: every (voice, face) pair of an identity-sampled batch, positives and
  negatives weighted equally (``balance: true``), see :mod:`vfbench.train.losses.pair_bce`;
  ``embed_weight`` > 0 adds a contrastive term on the embeddings (off by default);
* head: FC without L2 normalisation (``head.l2: false``, ``head.scale: 1``);
* evaluation through :meth:`Horiguchi.scorer` (the classifier logit of each pair).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from vfbench.methods.base import MatcherMethod, matcher_of
from vfbench.methods.registry import METHODS
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss


@dataclass
class HoriguchiOptions:
    hidden: int = 256
    product: bool = True
    normalize: bool = True  # matcher inputs scaled to norm sqrt(D)
    balance: bool = True
    embed_weight: float = 0.0
    margin: float = 1.0

    def validate(self) -> None:
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {self.hidden}")
        if self.embed_weight < 0:
            raise ValueError(f"embed_weight must be >= 0, got {self.embed_weight}")


@METHODS.register("horiguchi")
class Horiguchi(MatcherMethod):
    name = "horiguchi"
    description = "Horiguchi et al.: embeddings + binary same/different pair classifier"
    loss_name = "pair_bce"
    options_cls = HoriguchiOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss(
            "pair_bce",
            score_fn=matcher_of(model).matrix,
            balance=o.balance,
            embed_weight=o.embed_weight,
            margin=o.margin,
        )
