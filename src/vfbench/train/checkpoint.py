"""Atomic, safely-loadable training checkpoints (``last.pt``, ``best.pt``).

A checkpoint is a dict of tensors and plain Python values only, written with
``torch.save`` to a temp file and renamed (a crash never leaves a half file), and read back
with ``torch.load(weights_only=True)`` (no pickled code). It holds everything needed for
an exact resume: step, model, objective, optimiser, scheduler, sampler and RNG states,
plus the resolved config and method name so ``vfbench embed`` can rebuild the model.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vfbench.errors import CheckpointError
from vfbench.utils.io import atomic_write_bytes

CKPT_VERSION = 1
REQUIRED = ("version", "step", "method", "config", "model")


def plain(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays turned into Python values (tensors kept), so the
    checkpoint loads with ``weights_only=True``."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (+ version) atomically to ``path``."""
    buf = io.BytesIO()
    torch.save(plain({"version": CKPT_VERSION, **state}), buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; CheckpointError names the file."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint not found")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{p}: cannot read checkpoint safely: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{p}: not a vfbench checkpoint (top level is {type(obj).__name__})")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise CheckpointError(f"{p}: not a vfbench checkpoint (missing {', '.join(missing)})")
    if obj["version"] != CKPT_VERSION:
        raise CheckpointError(f"{p}: checkpoint version {obj['version']} is not supported")
    return obj
