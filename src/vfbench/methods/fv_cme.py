"""FV-CME (Horiguchi, Kanda & Nagamatsu, ACM MM 2018, "Face-Voice Matching using
Cross-modal Embeddings"): face and voice embeddings learned with the N-pair loss (Sohn
2016) on unnormalised inner products - each anchor must pick its own pair's other modality
among the N - 1 other pairs of the batch - with Sohn's embedding-norm regulariser.

The existing ``horiguchi`` method implements the same paper's other branch, the learned
pairwise matching classifier; this one is the embedding branch, scored, as trained, by the
inner product of the two embeddings (``Method.scorer``). Options (``loss.kwargs``):
``anchor`` (``both`` default; ``face`` = face anchors only, ``voice``) and ``l2_reg``
(0.002). Head: FC without L2 normalisation or scale. See :mod:`vfbench.train.losses.npair`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import nn

from vfbench.methods.base import ZooMethod
from vfbench.methods.registry import METHODS
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss
from vfbench.train.losses.npair import ANCHORS


@dataclass
class FVCMEOptions:
    anchor: str = "both"
    l2_reg: float = 0.002

    def validate(self) -> None:
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {list(ANCHORS)}, got {self.anchor!r}")
        if self.l2_reg < 0:
            raise ValueError(f"l2_reg must be >= 0, got {self.l2_reg}")


def inner_product(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(a, D), (b, D) -> (a, b) float32 inner products (the N-pair training score)."""
    out: np.ndarray = np.asarray(v, np.float32) @ np.asarray(f, np.float32).T
    return out


@METHODS.register("fv_cme")
class FVCME(ZooMethod):
    name = "fv_cme"
    description = "FV-CME (Horiguchi et al.): N-pair loss on unnormalised cross-modal embeddings"
    loss_name = "npair"
    options_cls = FVCMEOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss("npair", anchor=o.anchor, l2_reg=o.l2_reg)

    def scorer(self, model: VoiceFaceModel) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        return inner_product
