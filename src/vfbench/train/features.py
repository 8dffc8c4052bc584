"""Fast feature mode: when both backbones are frozen, embed every item once, cache the
backbone features, and train only the heads on the cache (issue 7, item 6).

Features live in ``<dir>/<modality>_<backbone-hash>.npz`` (arrays ``ids`` (N,) and
``features`` (N, D) float32). The backbone hash covers the encoder name, kwargs and
parameter/buffer values, so a change of weights never reuses stale features; a packaged
frozen encoder (resemblyzer, dlib) is keyed by its :func:`packaged_info` (package version
and weight-file SHA-256), never by whether its network happens to be loaded yet. Items are
added to an existing file incrementally (train + val splits share it).

Voices are embedded from full clips (test-time input, no random crop), faces without
augmentation. Off-the-shelf encoders read media themselves: ``waveform`` encoders
(resemblyzer) read the manifest's audio at 16 kHz; ``chip150`` encoders (dlib) take the
cached 112x112 aligned face resized to 150x150.
"""

from __future__ import annotations

import hashlib
import json
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vfbench.errors import DataError
from vfbench.models.encoders import input_kind, packaged_info
from vfbench.train.data import SplitData
from vfbench.utils.io import atomic_save_npz
from vfbench.utils.progress import progress_bar


def backbone_hash(encoder: nn.Module, name: str, kwargs: dict[str, Any]) -> str:
    """Short content hash of an encoder: name, kwargs, class, output size and every
    parameter/buffer value (the class and output size catch a code change that alters the
    features while the weights stay the same)."""
    ident: list[Any] = [name, kwargs, type(encoder).__module__, type(encoder).__qualname__]
    ident.append(getattr(encoder, "out_dim", getattr(encoder, "output_dim", None)))
    packaged = packaged_info(encoder)
    ident.append(packaged)
    h = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode())
    if packaged is not None:  # weights identified by file hash; no state is ever loaded
        return h.hexdigest()[:16]
    for k, v in sorted(encoder.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _read_audio_16k(path: Path) -> np.ndarray:
    import soundfile as sf

    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise DataError(f"{path}: cannot read audio ({exc})") from None
    wav = wav.mean(axis=1)
    if sr != 16000:
        from scipy.signal import resample_poly

        g = gcd(int(sr), 16000)
        wav = resample_poly(wav, 16000 // g, int(sr) // g).astype(np.float32)
    return wav


def _raw_items(data: SplitData, modality: str, idx: np.ndarray) -> list[np.ndarray]:
    """Media for off-the-shelf encoders: 16 kHz waveforms or 150x150 uint8 face chips."""
    from PIL import Image

    table = data.table(modality)
    if modality == "voice":
        if data.manifest is None:
            raise DataError("waveform encoders need a manifest (data.manifest) to read audio")
        by_id = {v.id: v for v in data.manifest.voices}
        return [_read_audio_16k(data.manifest.voice_path(by_id[table.ids[i]])) for i in idx]
    if data.cache is None:
        raise DataError("chip150 encoders need the preprocessing cache (data.cache)")
    out = []
    for i in idx:
        img = data.cache.load("face", table.ids[i])
        out.append(np.asarray(Image.fromarray(img).resize((150, 150), Image.Resampling.BILINEAR)))
    return out


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    data: SplitData,
    modality: str,
    idx: np.ndarray | None = None,
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = True,
    desc: str = "",
) -> np.ndarray:
    """(N, out_dim) float32 backbone features of items ``idx`` (default all) of ``modality``.

    Shows a progress bar (items, ETA) unless ``progress`` is false. Raises DataError naming
    the first items whose features are not finite (NaN/inf in their media or cache)."""

    table = data.table(modality)
    idx = np.arange(len(table)) if idx is None else np.asarray(idx)
    kind = input_kind(encoder)
    feats: np.ndarray | None = None
    pos = {int(i): k for k, i in enumerate(idx)}
    label = desc or f"{modality} features"
    with progress_bar(len(idx), label, unit="item", enabled=progress and len(idx) > 0) as bar:
        if kind in ("waveform", "chip150"):
            chunks = []
            step = max(1, min(batch_size, 16))  # off-the-shelf models: small, frequent updates
            for s in range(0, len(idx), step):
                part = idx[s : s + step]
                chunks.append(encoder.embed_items(_raw_items(data, modality, part)).numpy())  # type: ignore[operator]
                bar.update(len(part))
            feats = np.concatenate(chunks).astype(np.float32) if chunks else None
        else:
            was_training = encoder.training
            encoder.eval()
            for part, x in data.source(modality).eval_batches(idx, batch_size):
                y = encoder(x.to(device)).float().cpu().numpy()
                if feats is None:
                    feats = np.zeros((len(idx), y.shape[1]), np.float32)
                feats[[pos[int(i)] for i in part]] = y
                bar.update(len(part))
            encoder.train(was_training)
    if feats is None:
        return np.zeros((0, 0), np.float32)
    check_finite_rows(feats, [table.ids[int(i)] for i in idx], f"{modality} features")
    return feats


def check_finite_rows(x: np.ndarray, ids: list[str], what: str) -> None:
    """Raise DataError naming the first items (and the count) whose row of ``x`` holds
    NaN or inf: the real cause, before it poisons a loss or a checkpoint."""
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if len(x) else np.zeros(0, bool)
    if bad.any():
        where = np.flatnonzero(bad)
        names = ", ".join(ids[int(i)] for i in where[:5])
        raise DataError(
            f"{what}: {int(bad.sum())} item(s) are not finite (NaN/inf), first: {names}; "
            "check/replace their media and re-run preprocessing"
        )


def cached_features(
    encoder: nn.Module,
    name: str,
    kwargs: dict[str, Any],
    data: SplitData,
    modality: str,
    directory: str | Path,
    device: str = "cpu",
    progress: bool = True,
) -> torch.Tensor:
    """Features of every ``modality`` item of ``data`` (in table order), via the .npz cache.

    Imported vectors (``vector`` encoders) are already features: served as they are,
    never copied into the cache (a re-import must not meet stale copies)."""
    if input_kind(encoder) == "vector":
        return torch.from_numpy(extract_features(encoder, data, modality, device=device))
    path = Path(directory) / f"{modality}_{backbone_hash(encoder, name, kwargs)}.npz"
    known: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            known = dict(zip(z["ids"].astype(str), z["features"], strict=True))
        # a file written before non-finite features were refused: drop its bad rows
        known = {k: v for k, v in known.items() if np.isfinite(v).all()}
    ids = data.table(modality).ids
    todo = np.array([i for i, item in enumerate(ids) if item not in known], dtype=np.int64)
    if len(todo):
        new = extract_features(encoder, data, modality, todo, device=device, progress=progress,
                               desc=f"{modality} features ({name})")  # fmt: skip
        for k, i in enumerate(todo):
            known[ids[i]] = new[k]
        all_ids = np.array(sorted(known))
        atomic_save_npz(
            path, ids=all_ids, features=np.stack([known[i] for i in all_ids]).astype(np.float32)
        )
    return torch.from_numpy(np.stack([known[i] for i in ids]).astype(np.float32))
