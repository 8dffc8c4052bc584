"""Safe loading of user-given weight files into a module.

Weights are plain ``state_dict`` files read with ``torch.load(weights_only=True)`` (no
pickled code runs). A mismatch between the file and the module raises
:class:`~vfbench.errors.CheckpointError` listing the missing, unexpected and
wrongly-shaped keys, so the user sees at once which architecture the file belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vfbench.errors import CheckpointError

_WRAPPER_KEYS = ("state_dict", "model_state", "model", "weights")


def _first(keys: list[str], n: int = 8) -> str:
    more = f" ... (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``path`` safely; unwraps ``{"state_dict": ...}``-style files.

    A ``module.`` prefix (left by DataParallel/DDP) is stripped.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: weights file not found")
    try:
        obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad/unsafe files
        raise CheckpointError(
            f"{p}: cannot load weights safely (weights_only=True): {type(exc).__name__}: {exc}"
        ) from None
    if isinstance(obj, Mapping):
        for k in _WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], Mapping):
                obj = obj[k]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{p}: not a state dict (a mapping of parameter names to tensors)")
    out: dict[str, torch.Tensor] = {}
    for k, v in obj.items():
        out[k[7:] if k.startswith("module.") else k] = v
    return out


def load_weights(module: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    """Load the state dict in ``path`` into ``module``; returns ``module``.

    Raises :class:`CheckpointError` naming the file and listing missing/unexpected keys
    (when ``strict``) and every key whose shape differs (file shape vs model shape).
    """
    sd = read_state_dict(path)
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    mismatched = [
        f"{k} (file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)})"
        for k in own
        if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if mismatched:
        problems.append(f"shape mismatch: {_first(mismatched)}")
    if strict and missing:
        problems.append(f"missing keys: {_first(missing)}")
    if strict and unexpected:
        problems.append(f"unexpected keys: {_first(unexpected)}")
    if problems:
        raise CheckpointError(
            f"{path}: weights do not fit {type(module).__name__}: " + "; ".join(problems)
        )
    module.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=strict)
    return module
