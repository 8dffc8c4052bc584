"""Cross-modal Barlow Twins (Zbontar, Jing, Misra, LeCun & Deny, ICML 2021), the Barlow
Twins baseline of Self-Lifting (Chen et al., ICMR 2022). Label-free: a pair's voice and face
are the two views; a shared linear projector (training only) maps both embeddings and the
cross-correlation of the batch-standardised projections is pushed to the identity (invariance
on the diagonal, redundancy reduction off it, weight ``lam``). See
:mod:`vfbench.train.losses.barlow_twins`.

Options (``loss.kwargs``): ``proj_dim`` (256), ``lam`` (5e-3). Head: FC without L2;
evaluated by cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from vfbench.methods.base import ZooMethod
from vfbench.methods.registry import METHODS
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss


@dataclass
class BarlowTwinsOptions:
    proj_dim: int = 256
    lam: float = 5e-3

    def validate(self) -> None:
        if self.proj_dim < 1:
            raise ValueError(f"proj_dim must be >= 1, got {self.proj_dim}")
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")


@METHODS.register("barlow_twins")
class BarlowTwins(ZooMethod):
    name = "barlow_twins"
    description = "Barlow Twins (cross-modal): label-free cross-correlation to the identity"
    loss_name = "barlow_twins"
    options_cls = BarlowTwinsOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        dim = int(getattr(model.voice_head, "out_dim", cfg.head.dim))
        return create_loss("barlow_twins", dim=dim, proj_dim=o.proj_dim, lam=o.lam)
