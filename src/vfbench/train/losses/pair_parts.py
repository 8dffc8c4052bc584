"""Parts shared by the pair-based and clustering-based objectives (FOP, CMPC, Wen et al.,
FV-CME, Self-Lifting, CAE, Barlow Twins): the aligned-pair check, a feature queue, seeded
spherical k-means and the prototype concentration of PCL (Li et al. 2021, Eq. 12).

Shapes: embeddings (N, D); labels (N,) long; a queue holds the last ``size`` rows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError


def require_pairs(lv: torch.Tensor, lf: torch.Tensor, loss: str) -> None:
    """Row i of the voice and face batches must be one (voice, face) pair of one identity
    (the identity sampler draws them so); ``loss`` names the objective in the error."""
    if lv.shape != lf.shape or not bool(torch.equal(lv, lf)):
        raise ConfigError(
            f"{loss}: needs aligned (voice, face) pairs (row i of both batches from one "
            f"identity); got voice labels {lv.tolist()[:6]}... and face labels "
            f"{lf.tolist()[:6]}... (use the identity sampler)"
        )


def positive_mask(lv: torch.Tensor, lf: torch.Tensor) -> torch.Tensor:
    """(N, N) bool: j is a positive of anchor i (same label)."""
    return lv[:, None] == lf[None, :]


class FeatureQueue(nn.Module):
    """FIFO of the last ``size`` rows of ``width`` floats (detached), saved with the loss's
    state so a resumed run clusters the same memory."""

    rows: torch.Tensor
    count: torch.Tensor

    def __init__(self, size: int, width: int) -> None:
        super().__init__()
        if size < 2:
            raise ConfigError(f"queue size must be >= 2, got {size}")
        self.size, self.width = int(size), int(width)
        self.register_buffer("rows", torch.zeros(self.size, self.width))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))  # rows pushed

    @torch.no_grad()
    def push(self, x: torch.Tensor) -> None:
        x = x.detach().to(self.rows.dtype)[-self.size :]
        n = x.shape[0]
        start = int(self.count) % self.size
        idx = (torch.arange(n, device=x.device) + start) % self.size
        self.rows[idx] = x
        self.count += n

    def filled(self) -> torch.Tensor:
        """The valid rows (min(count, size), width)."""
        return self.rows[: min(int(self.count), self.size)]


@torch.no_grad()
def spherical_kmeans(
    x: torch.Tensor, k: int, iters: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means on the unit sphere (cosine): ``x`` (N, D) L2-normalised, N >= k.

    Returns (centroids (k, D) unit norm, assignment (N,) long). Initial centroids are k
    distinct rows drawn by ``gen``; an emptied cluster is re-seeded with the row farthest
    from its centroid, so exactly k non-empty clusters come back.
    """
    n = x.shape[0]
    if n < k:
        raise ConfigError(f"k-means: {n} points for {k} clusters")
    cent = x[torch.randperm(n, generator=gen, device="cpu")[:k].to(x.device)].clone()
    assign = torch.zeros(n, dtype=torch.long, device=x.device)
    for _ in range(max(1, iters)):
        sim = x @ cent.T
        assign = sim.argmax(1)
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(cent).index_add_(0, assign, x)
        empty = torch.nonzero(counts == 0).flatten()
        if empty.numel():
            far = sim.max(1).values.argsort()[: empty.numel()]  # worst-served rows
            sums[empty] = x[far]
            assign[far] = empty
        cent = F.normalize(sums, dim=1)
    return cent, assign


@torch.no_grad()
def concentration(
    x: torch.Tensor,
    cent: torch.Tensor,
    assign: torch.Tensor,
    temperature: float,
    alpha: float = 10.0,
) -> torch.Tensor:
    """PCL's per-prototype concentration (Li et al. 2021, Eq. 12), (k,):
    ``phi_c = sum_z ||z - c|| / (n_c log(n_c + alpha))``; singletons take the largest
    value; clipped to the 10th-90th percentile and rescaled so the mean is ``temperature``."""
    k = cent.shape[0]
    d = (x - cent[assign]).norm(dim=1)
    tot = torch.zeros(k, dtype=x.dtype, device=x.device).index_add_(0, assign, d)
    n = torch.bincount(assign, minlength=k).to(x.dtype)
    phi = tot / (n * torch.log(n + alpha)).clamp_min(1e-12)
    multi = n > 1
    big = phi[multi].max() if bool(multi.any()) else torch.tensor(1.0, dtype=x.dtype)
    phi = torch.where(multi, phi, big)
    lo, hi = torch.quantile(phi, 0.1), torch.quantile(phi, 0.9)
    phi = phi.clamp(lo, hi).clamp_min(1e-6)
    return temperature * phi / phi.mean()


def step_generator(
    seed: int, step: int, salt: int = 0, device: torch.device | str = "cpu"
) -> torch.Generator:
    """Generator keyed by (seed, step, salt): draws replay exactly after a resume."""
    g = torch.Generator(device=device)
    g.manual_seed((int(seed) * 1_000_003 + int(step) * 7919 + salt) % (2**63 - 1))
    return g


def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
