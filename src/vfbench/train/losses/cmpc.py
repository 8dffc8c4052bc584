"""CMPC objective (Zhu et al., IJCAI 2022, "Unsupervised Voice-Face Representation
Learning by Cross-Modal Prototype Contrast"). Label-free: only the (voice, face) pairing.

Per pair i with L2-normalised voice ``v_i`` and face ``f_i``:

* instance-instance contrast (cross-modal InfoNCE, temperature ``tau``):
  ``ii^v_i = CE(v_i . f_j / tau over j, target i)`` and ``ii^f_i`` symmetrically;
* instance-prototype contrast (ProtoNCE of PCL across modalities): each modality's recent
  embeddings (a FIFO memory of ``queue`` pairs) are clustered by spherical k-means at
  several granularities ``clusters = [k_1, ..., k_R]`` every ``cluster_every`` steps; the
  voice ``v_i`` must pick the prototype of its FACE's cluster among all face prototypes,
  each prototype with its own concentration ``phi_c`` (PCL Eq. 12):
  ``ip^v_i = mean_r CE(v_i . c^f_r / phi^f_r, target a^f_r(i))``, and ``ip^f_i`` symmetrically;
* instance recalibration of "deviating positives": ``rho_i = <v_i, f_i> - mean_r
  <c^v_r(i), c^f_r(i)>`` (instance minus prototype agreement) and the pair weight
  ``w_i = Phi((rho_i - mu) / sigma)``, ``mu = mean(rho) + delta std(rho)``,
  ``sigma = sqrt(kappa) std(rho)`` (a Gaussian CDF: pairs that agree much less than their
  clusters do are down-weighted);
* total ``sum_i w_i (ii^v_i + ip^v_i) / sum w + sum_i w_i (ii^f_i + ip^f_i) / sum w``.

Before the first clustering (``warmup`` steps, or while the memory holds fewer pairs than
the largest k) only the instance terms train, with w = 1. Memory, prototypes and
concentrations are buffers (checkpointed); k-means draws are seeded by (seed, step).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.pair_parts import (
    FeatureQueue,
    concentration,
    normal_cdf,
    require_pairs,
    spherical_kmeans,
    step_generator,
)


def instance_nce(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """(N,) cross-modal InfoNCE of unit anchors ``a`` against unit candidates ``b``."""
    target = torch.arange(a.shape[0], device=a.device)
    return F.cross_entropy(a @ b.T / tau, target, reduction="none")


def proto_nce(
    a: torch.Tensor, cent: torch.Tensor, phi: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """(N,) ProtoNCE: unit anchors (N, D) vs prototypes (k, D) with concentrations (k,)."""
    return F.cross_entropy(a @ cent.T / phi[None, :], target, reduction="none")


def recalibration_weights(rho: torch.Tensor, delta: float, kappa: float) -> torch.Tensor:
    """(N,) weights Phi((rho - mu) / sigma), mu = mean + delta std, sigma = sqrt(kappa) std."""
    if rho.numel() < 2:
        return torch.ones_like(rho)
    sd = rho.std()
    if float(sd) <= 1e-12:
        return torch.ones_like(rho)
    mu = rho.mean() + delta * sd
    return normal_cdf((rho - mu) / (math.sqrt(kappa) * sd))


@LOSSES.register("cmpc")
class CMPCLoss(nn.Module):
    ready: torch.Tensor
    queue_v: FeatureQueue
    queue_f: FeatureQueue

    def __init__(
        self,
        dim: int = 128,
        temperature: float = 0.03,
        clusters: tuple[int, ...] | list[int] = (32, 64, 128),
        queue: int = 2048,
        cluster_every: int = 50,
        warmup: int = 0,
        kmeans_iters: int = 10,
        proto_temperature: float = 0.2,
        delta: float = -1.0,
        kappa: float = 0.1,
        recalibrate: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        ks = [int(k) for k in clusters]
        if not ks or min(ks) < 2 or max(ks) > queue:
            raise ConfigError(f"cmpc: clusters must be 2..queue ({queue}), got {ks}")
        if temperature <= 0 or proto_temperature <= 0 or kappa <= 0 or cluster_every < 1:
            raise ConfigError("cmpc: temperature, proto_temperature, kappa > 0, cluster_every >= 1")
        self.tau, self.proto_tau = float(temperature), float(proto_temperature)
        self.ks, self.cluster_every, self.warmup = ks, int(cluster_every), int(warmup)
        self.iters, self.delta, self.kappa = int(kmeans_iters), float(delta), float(kappa)
        self.recalibrate, self.seed = bool(recalibrate), int(seed)
        self.queue_v, self.queue_f = FeatureQueue(queue, dim), FeatureQueue(queue, dim)
        for r, k in enumerate(ks):
            for m in ("v", "f"):
                self.register_buffer(f"cent_{m}{r}", torch.zeros(k, dim))
                self.register_buffer(f"phi_{m}{r}", torch.ones(k))
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = int(step)

    def prototypes(self, m: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(self.get_buffer(f"cent_{m}{r}"), self.get_buffer(f"phi_{m}{r}"))
                for r in range(len(self.ks))]  # fmt: skip

    @torch.no_grad()
    def recluster(self) -> None:
        """k-means of each modality's memory at every granularity (seeded by the step)."""
        for m, q in (("v", self.queue_v), ("f", self.queue_f)):
            x = F.normalize(q.filled(), dim=1)
            for r, k in enumerate(self.ks):
                cent, assign = spherical_kmeans(
                    x, k, self.iters, step_generator(self.seed, self.step, r)
                )
                self.get_buffer(f"cent_{m}{r}").copy_(cent)
                self.get_buffer(f"phi_{m}{r}").copy_(concentration(x, cent, assign, self.proto_tau))
        self.ready.fill_(True)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        require_pairs(lv, lf, "cmpc")
        due = self.step >= self.warmup and (self.step - self.warmup) % self.cluster_every == 0
        if self.training and due and int(self.queue_v.count) >= max(self.ks):
            self.recluster()
        vn, fn = F.normalize(v, dim=1), F.normalize(f, dim=1)
        loss_v, loss_f = instance_nce(vn, fn, self.tau), instance_nce(fn, vn, self.tau)
        w = torch.ones_like(loss_v)
        if bool(self.ready):
            agree = torch.zeros_like(loss_v)
            for (cv, pv), (cf, pf) in zip(self.prototypes("v"), self.prototypes("f"), strict=True):
                cv, pv, cf, pf = (t.to(v.dtype) for t in (cv, pv, cf, pf))
                av, af = (vn.detach() @ cv.T).argmax(1), (fn.detach() @ cf.T).argmax(1)
                loss_v = loss_v + proto_nce(vn, cf, pf, af) / len(self.ks)
                loss_f = loss_f + proto_nce(fn, cv, pv, av) / len(self.ks)
                agree = agree + (cv[av] * cf[af]).sum(1) / len(self.ks)
            if self.recalibrate:
                rho = (vn * fn).sum(1).detach() - agree
                w = recalibration_weights(rho, self.delta, self.kappa)
        if self.training:
            self.queue_v.push(vn)
            self.queue_f.push(fn)
        s = w.sum().clamp_min(1e-12)
        return (w * loss_v).sum() / s + (w * loss_f).sum() / s
