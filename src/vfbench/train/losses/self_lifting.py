"""Self-Lifting objective (Chen, Zhang, Liu & Du, ICMR 2022, "Self-Lifting: A Novel
Framework for Unsupervised Voice-Face Association Learning"). Label-free.

Self-Lifting alternates "clustering" and "metric learning": the pairs are mapped into the
current embedding space, clustered, and the cluster index becomes a pseudo-identity that
supervises a Multi-Similarity loss (Wang et al., CVPR 2019) on the voices AND faces together:

``MS_i = 1/alpha log(1 + sum_{p in P_i} exp(-alpha (S_ip - base)))
       + 1/beta  log(1 + sum_{n in N_i} exp( beta (S_in - base)))``

over the 2N embeddings of the batch (cosine ``S``; positives = same pseudo-label, i != p),
averaged over anchors; ``alpha = 2, beta = 50, base = 1`` as the authors' code. A pair's
voice and face always share a pseudo-label, so cross-modal pairs are positives.

Pseudo-labels here: the concatenation ``[v/|v|, f/|f|]`` of each pair is pushed to a FIFO
memory of ``queue`` pairs, clustered into ``clusters`` groups by spherical k-means every
``cluster_every`` steps (seeded by step); a batch pair takes its nearest centroid. Before the
first clustering (``warmup`` steps, or fewer than ``clusters`` pairs in memory) each pair is
its own class (instance discrimination: the "coarse model"). ``mse_weight`` adds
``MSE(v, f)`` (the authors' optional term, 0 by default).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.pair_parts import (
    FeatureQueue,
    require_pairs,
    spherical_kmeans,
    step_generator,
)


def multi_similarity(
    emb: torch.Tensor, labels: torch.Tensor, alpha: float, beta: float, base: float
) -> torch.Tensor:
    """Multi-Similarity loss of (M, D) embeddings with (M,) labels, mean over anchors."""
    z = F.normalize(emb, dim=1)
    s = z @ z.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    pos, neg = same & ~eye, ~same
    zero = torch.zeros(len(labels), 1, dtype=s.dtype, device=s.device)  # the "1 +" term
    pl = (-alpha * (s - base)).masked_fill(~pos, float("-inf"))
    nl = (beta * (s - base)).masked_fill(~neg, float("-inf"))
    pos_t = torch.logsumexp(torch.cat([zero, pl], 1), 1) / alpha
    neg_t = torch.logsumexp(torch.cat([zero, nl], 1), 1) / beta
    return (pos_t + neg_t).mean()


@LOSSES.register("self_lifting")
class SelfLiftingLoss(nn.Module):
    centroids: torch.Tensor
    ready: torch.Tensor
    memory: FeatureQueue

    def __init__(
        self,
        dim: int = 128,
        clusters: int = 128,
        queue: int = 2048,
        cluster_every: int = 50,
        warmup: int = 0,
        kmeans_iters: int = 10,
        alpha: float = 2.0,
        beta: float = 50.0,
        base: float = 1.0,
        mse_weight: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not 2 <= clusters <= queue:
            raise ConfigError(f"self_lifting: clusters must be 2..queue ({queue}), got {clusters}")
        if alpha <= 0 or beta <= 0 or cluster_every < 1 or mse_weight < 0:
            raise ConfigError("self_lifting: alpha, beta > 0, cluster_every >= 1, mse_weight >= 0")
        self.k, self.cluster_every, self.warmup = int(clusters), int(cluster_every), int(warmup)
        self.iters, self.seed = int(kmeans_iters), int(seed)
        self.alpha, self.beta, self.base, self.mse_weight = alpha, beta, base, mse_weight
        self.memory = FeatureQueue(queue, 2 * dim)
        self.register_buffer("centroids", torch.zeros(self.k, 2 * dim))
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = int(step)

    @torch.no_grad()
    def recluster(self) -> None:
        x = F.normalize(self.memory.filled(), dim=1)
        cent, _ = spherical_kmeans(x, self.k, self.iters, step_generator(self.seed, self.step))
        self.centroids.copy_(cent)
        self.ready.fill_(True)

    @torch.no_grad()
    def pseudo_labels(self, pair: torch.Tensor) -> torch.Tensor:
        """(N,) pseudo-identity of each (N, 2D) unit pair vector (instance ids before the
        first clustering)."""
        if not bool(self.ready):
            return torch.arange(pair.shape[0], device=pair.device)
        return (pair @ self.centroids.to(pair.dtype).T).argmax(1)

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        require_pairs(lv, lf, "self_lifting")
        due = self.step >= self.warmup and (self.step - self.warmup) % self.cluster_every == 0
        if self.training and due and int(self.memory.count) >= self.k:
            self.recluster()
        pair = F.normalize(torch.cat([F.normalize(v, dim=1), F.normalize(f, dim=1)], 1), dim=1)
        y = self.pseudo_labels(pair.detach())
        loss = multi_similarity(
            torch.cat([v, f]), torch.cat([y, y]), self.alpha, self.beta, self.base
        )
        if self.mse_weight > 0:
            loss = loss + self.mse_weight * F.mse_loss(v, f)
        if self.training:
            self.memory.push(pair)
        return loss
