"""Multi-process data-parallel training: ``torchrun --nproc_per_node=N -m vfbench.cli.ddp
CONFIG [--out DIR] [--set k=v ...] [--resume]`` (or ``vfbench train --ddp N``); the entry
point resolves the method by name and calls :func:`main` here.

Every rank runs the same seeded sampler, so the global batch equals single-process
training's; each rank embeds its slice, the embeddings are all-gathered (keeping the
gradient of the local slice) and every rank evaluates the loss on the whole batch, so
Eq. 1 still sums over all cross-rank triplets. DistributedDataParallel averages the
gradients; the loop scales the loss by the world size, which makes the update equal to
single-process training (up to float summation order; BatchNorm statistics of trained
backbones are per rank). gloo on CPU, nccl on GPU. Rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch import nn

from vfbench.train.config import load_train_config
from vfbench.train.embed import MethodResolver
from vfbench.train.loop import DistInfo, train


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """All-gather (n, ...) slices of equal size into (world*n, ...) in rank order; the
    local slice keeps its autograd graph."""
    world = dist.get_world_size()
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.detach().contiguous())
    parts[dist.get_rank()] = x
    return torch.cat(parts, 0)


def init_from_env(device: str = "cpu") -> DistInfo:
    """Initialise the default process group from torchrun's environment."""
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    rank, world = dist.get_rank(), dist.get_world_size()

    def wrap(m: nn.Module) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [int(os.environ.get("LOCAL_RANK", 0))] if device.startswith("cuda") else None
        return DDP(m, device_ids=ids, find_unused_parameters=False)

    return DistInfo(
        rank=rank, world=world, gather=gather_with_grad, wrap=wrap, barrier=dist.barrier
    )


def main(argv: list[str] | None, methods: MethodResolver) -> int:
    """One rank of a torchrun job; ``methods`` resolves the config's method name."""
    ap = argparse.ArgumentParser(prog="python -m vfbench.cli.ddp")
    ap.add_argument("config")
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--device", default=None)
    a = ap.parse_args(argv)
    overrides = list(a.overrides)
    if a.device:
        overrides.append(f"device={a.device}")
    cfg = load_train_config(a.config, overrides)
    info = init_from_env(cfg.device)
    if cfg.device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        cfg.device = f"cuda:{local}"
    try:
        train(cfg, a.out, methods(cfg.method), resume=a.resume, dist=info, force=a.force)
    finally:
        dist.destroy_process_group()
    return 0
