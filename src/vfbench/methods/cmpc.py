"""CMPC (Zhu et al., IJCAI 2022, "Unsupervised
Voice-Face Representation Learning by Cross-Modal Prototype Contrast").

Label-free: trained only from which voice and face come together. Instance-level
cross-modal contrast plus prototype-level contrast against k-means clusters of the other
modality at several granularities, with pairs re-weighted ("instance recalibration") when
they agree much less than their clusters do. See :mod:`vfbench.train.losses.cmpc`.

Options (``loss.kwargs``): ``temperature`` (0.03), ``clusters`` (granularities, [32, 64,
128] for a 280-identity corpus; the authors used thousands on VoxCeleb), ``queue`` (memory
of recent pairs clustered, 2048), ``cluster_every`` (steps, 50), ``warmup`` (fraction of the
run before the first clustering, 0.1), ``kmeans_iters`` (10), ``proto_temperature`` (mean
prototype concentration, 0.2), ``delta`` (-1), ``kappa`` (0.1), ``recalibrate`` (true).
Head: FC + L2 (``head.scale: 1``); evaluated by cosine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from vfbench.methods.base import ZooMethod
from vfbench.methods.registry import METHODS
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.losses import create_loss


@dataclass
class CMPCOptions:
    temperature: float = 0.03
    clusters: list[int] = field(default_factory=lambda: [32, 64, 128])
    queue: int = 2048
    cluster_every: int = 50
    warmup: float = 0.1
    kmeans_iters: int = 10
    proto_temperature: float = 0.2
    delta: float = -1.0
    kappa: float = 0.1
    recalibrate: bool = True

    def validate(self) -> None:
        if not self.clusters or min(self.clusters) < 2 or max(self.clusters) > self.queue:
            raise ValueError(f"clusters must be in 2..queue ({self.queue}), got {self.clusters}")
        if self.temperature <= 0 or self.proto_temperature <= 0 or self.kappa <= 0:
            raise ValueError("temperature, proto_temperature and kappa must be > 0")
        if self.cluster_every < 1 or self.kmeans_iters < 1:
            raise ValueError("cluster_every and kmeans_iters must be >= 1")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a fraction of the run in [0, 1), got {self.warmup}")


@METHODS.register("cmpc")
class CMPC(ZooMethod):
    name = "cmpc"
    description = "CMPC: label-free instance + cross-modal prototype contrast, recalibrated"
    loss_name = "cmpc"
    options_cls = CMPCOptions

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        return create_loss(
            "cmpc",
            dim=int(getattr(model.voice_head, "out_dim", cfg.head.dim)),
            temperature=o.temperature,
            clusters=list(o.clusters),
            queue=o.queue,
            cluster_every=o.cluster_every,
            warmup=int(round(o.warmup * cfg.steps)),
            kmeans_iters=o.kmeans_iters,
            proto_temperature=o.proto_temperature,
            delta=o.delta,
            kappa=o.kappa,
            recalibrate=o.recalibrate,
            seed=cfg.seed,
        )
