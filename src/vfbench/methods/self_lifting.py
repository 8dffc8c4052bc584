"""Self-Lifting (Chen, Zhang, Liu & Du, ICMR 2022, "Self-Lifting: A Novel Framework for
Unsupervised Voice-Face Association Learning").

Label-free: alternates clustering the current (voice, face) pair embeddings into
pseudo-identities and metric learning (Multi-Similarity loss on voices and faces together)
with those pseudo-labels, so each round "lifts" the model that made the clusters. See
:mod:`vfbench.train.losses.self_lifting` for how the rounds run inside one training loop
(a memory of recent pairs re-clustered every ``cluster_every`` steps).

Options (``loss.kwargs``): ``clusters`` (pseudo-identities, 128 for a 280-identity corpus;
the authors used 1000 for ~900 VoxCeleb identities), ``queue`` (2048), ``cluster_every``
(50), ``warmup`` (fraction of the run of instance discrimination before the first
clustering, 0.1), ``kmeans_iters`` (10), ``alpha`` (2), ``beta`` (50), ``base`` (1.0),
``mse_weight`` (0). Head: FC without L2 (the loss normalises); evaluated by cosine.
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
class SelfLiftingOptions:
    clusters: int = 128
    queue: int = 2048
    cluster_every: int = 50
    warmup: float = 0.1
    kmeans_iters: int = 10
    alpha: float = 2.0
    beta: float = 50.0
    base: float = 1.0
    mse_weight: float = 0.0

    def validate(self) -> None:
        if not 2 <= self.clusters <= self.queue:
            raise ValueError(f"clusters must be in 2..queue ({self.queue}), got {self.clusters}")
        if self.alpha <= 0 or self.beta <= 0 or self.mse_weight < 0:
            raise ValueError("alpha and beta must be > 0 and mse_weight >= 0")
        if self.cluster_every < 1 or self.kmeans_iters < 1:
            raise ValueError("cluster_every and kmeans_iters must be >= 1")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a fraction of the run in [0, 1), got {self.warmup}")


@METHODS.register("self_lifting")
class SelfLifting(ZooMethod):
    name = "self_lifting"
    description = "Self-Lifting: label-free k-means pseudo-identities + Multi-Similarity loss"
    loss_name = "self_lifting"
    options_cls = SelfLiftingOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss(
            "self_lifting",
            dim=int(getattr(model.voice_head, "out_dim", cfg.head.dim)),
            clusters=o.clusters,
            queue=o.queue,
            cluster_every=o.cluster_every,
            warmup=int(round(o.warmup * cfg.steps)),
            kmeans_iters=o.kmeans_iters,
            alpha=o.alpha,
            beta=o.beta,
            base=o.base,
            mse_weight=o.mse_weight,
            seed=cfg.seed,
        )
