"""Atomic, safely-loadable training checkpoints (``last.pt``, ``best.pt``).

A checkpoint is a dict of tensors and plain Python values only, written with
``torch.save`` to a temp file and renamed (a crash never leaves a half file), and read back
with ``torch.load(weights_only=True)`` (no pickled code). It holds everything needed for
an exact resume: step, model, objective, optimiser, scheduler, sampler and RNG states,
plus the resolved config and method name so ``vfbench embed`` can rebuild the model.

A checkpoint never holds a packaged frozen encoder (resemblyzer, dlib): ``encoders``
records what rebuilds it (package, version, weight-file SHA-256) and loading rebuilds it
from the installed package. Non-finite weights are never written (:func:`save_checkpoint`
refuses them, naming the tensors).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vfbench.errors import CheckpointError
from vfbench.models.encoders import packaged_info
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


def nonfinite_tensors(state: Mapping[str, Any]) -> list[str]:
    """Names of the floating-point tensors of a state dict holding NaN or inf."""
    return [
        k
        for k, v in state.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(v.isfinite().all())
    ]


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (+ version) atomically to ``path``; refuses non-finite model weights
    (CheckpointError naming them: the file on disk, if any, is left as it was)."""
    bad = nonfinite_tensors(state.get("model", {}))
    if bad:
        raise CheckpointError(
            f"{path}: not written: {len(bad)} model tensor(s) hold NaN/inf "
            f"({', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''})"
        )
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


def config_changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two plain config dicts (``a.b: 1 -> 2``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            out += config_changes(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def load_module_state(
    module: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    where: str | Path,
    what: str = "model",
    skip_prefixes: tuple[str, ...] = (),
    changes: list[str] | None = None,
) -> None:
    """Load ``state`` into ``module`` strictly; a mismatch raises one CheckpointError line
    naming the wrongly-shaped / missing / unexpected keys and, when ``changes`` (from
    :func:`config_changes`) is given, the config keys changed since the checkpoint.

    Keys under ``skip_prefixes`` (packaged frozen encoders stored by older versions) are
    ignored on both sides."""
    sd = {k: v for k, v in state.items() if not k.startswith(skip_prefixes)}
    full = module.state_dict()
    own = {k: v for k, v in full.items() if not k.startswith(skip_prefixes)}
    shape = [
        f"{k} (checkpoint {tuple(sd[k].shape)} vs now {tuple(v.shape)})"
        for k, v in own.items()
        if k in sd and tuple(sd[k].shape) != tuple(v.shape)
    ]
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    problems = []
    for label, keys in (("size mismatch", shape), ("missing", missing), ("unexpected", unexpected)):
        if keys:
            problems.append(f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}")
    if problems:
        cause = (
            f"the config changed since the checkpoint ({'; '.join(changes[:4])})"
            if changes
            else "it was written by another architecture/config"
        )
        raise CheckpointError(f"{where}: {what} weights do not fit: {cause}: {'; '.join(problems)}")
    module.load_state_dict(sd, strict=len(own) == len(full))


def packaged_prefixes(model: torch.nn.Module) -> tuple[str, ...]:
    """State-dict prefixes of the packaged frozen encoders of a VoiceFaceModel (never
    stored; an older checkpoint that holds them has them ignored)."""

    out = []
    for name in ("voice_backbone", "face_backbone"):
        bb = getattr(model, name, None)
        if isinstance(bb, torch.nn.Module) and packaged_info(bb) is not None:
            out.append(name + ".")
    return tuple(out)


def check_packaged(
    recorded: Mapping[str, Any], model: torch.nn.Module, where: str | Path
) -> list[str]:
    """Compare the packaged encoders recorded in a checkpoint with the installed ones;
    returns warnings (another version or weight file: features may differ)."""

    notes = []
    for mod, rec in recorded.items():
        bb = getattr(model, f"{mod}_backbone", None)
        now = packaged_info(bb) if isinstance(bb, torch.nn.Module) else None
        if now is None or not isinstance(rec, Mapping):
            continue
        for key in ("version", "weights_sha256"):
            if rec.get(key) != now.get(key):
                notes.append(
                    f"{where}: {mod} encoder {now.get('encoder')} was {key} "
                    f"{rec.get(key)} at training, {now.get(key)} now: its features may differ"
                )
    return notes
