"""Wen et al. 2021 / SSNet (Wen, Xu, Jiang, Yang, He & Huang, CVPR 2021, "Seeking the Shape
of Sound: An Adaptive Framework for Learning Voice-Face Association").

FC heads on both modalities trained with a two-level modality alignment - a global identity
classification shared by both modalities and a local N-pair-style term between each voice
and face of a pair - whose per-sample terms are weighted by an identity-level dynamic
re-weighting: after a warm-up, identities are ranked by an EMA of their classification loss
("hardness"); training starts from the easiest half and adds the next easiest ones
gradually while earlier weights decay, so hard-but-learnable identities enter late and the
hardest (possibly unlearnable) 10 % never do; the weights are rescaled to mean 1, as in the
authors' code. See :mod:`vfbench.train.losses.wen_adaptive`.

Options (``loss.kwargs``): ``warmup`` (fraction of the run with all weights 1, default
0.2), ``update_every`` (steps between re-weighting rounds, 10 on CPU; the authors' re-weighting
run used 100 at batch 64), ``init_ratio`` (0.5, the authors' first round), ``add_fraction``
(0.024 of the identities per round, the authors' 22 of 924), ``decay`` (0.99), ``beta`` (0.9
hardness EMA), ``coverage`` (0.9), ``offset`` (4.4), ``reweight`` (true; false = the two-level
loss alone), ``normalize_weights`` (true: weights rescaled to mean 1 over the identities, the
authors' ``get_weight``). Evaluated by cosine.
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
class SSNetOptions:
    warmup: float = 0.2
    update_every: int = 10
    init_ratio: float = 0.5
    add_fraction: float = 0.024
    decay: float = 0.99
    beta: float = 0.9
    coverage: float = 0.9
    offset: float = 4.4
    reweight: bool = True
    normalize_weights: bool = True

    def validate(self) -> None:
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a fraction of the run in [0, 1), got {self.warmup}")
        if self.update_every < 1:
            raise ValueError(f"update_every must be >= 1, got {self.update_every}")
        for k in ("init_ratio", "add_fraction", "decay", "beta", "coverage"):
            if not 0.0 < getattr(self, k) <= 1.0:
                raise ValueError(f"{k} must be in (0, 1], got {getattr(self, k)}")
        if self.offset < 0:
            raise ValueError(f"offset must be >= 0, got {self.offset}")


@METHODS.register("ssnet")
class SSNet(ZooMethod):
    name = "ssnet"
    description = (
        "Wen et al. 2021 (SSNet): shared identity CE + local alignment, adaptive identity weights"
    )
    loss_name = "wen_adaptive"
    options_cls = SSNetOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss(
            "wen_adaptive",
            dim=int(getattr(model.voice_head, "out_dim", cfg.head.dim)),
            num_classes=num_classes,
            scale=cfg.head.scale if cfg.head.l2 else 1.0,
            offset=o.offset,
            warmup=int(round(o.warmup * cfg.steps)),
            update_every=o.update_every,
            init_ratio=o.init_ratio,
            add_fraction=o.add_fraction,
            decay=o.decay,
            beta=o.beta,
            coverage=o.coverage,
            reweight=o.reweight,
            normalize_weights=o.normalize_weights,
        )
