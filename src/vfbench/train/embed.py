"""Turn a trained checkpoint into the evaluation framework's embedding files.

``embed_manifest(checkpoint, manifest, cache, split, methods=get_method)`` rebuilds the
model from the config stored in the checkpoint (``methods`` resolves the method name it
records: ``vfbench.methods.get_method``; ``train`` does not import the methods), embeds every cached voice and face item of ``split`` (full
voice clips, un-augmented faces) and returns two
:class:`~vfbench.evaluate.embeddings.Embeddings` whose ``meta`` records the checkpoint
hash, method, step and config.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vfbench.config import from_dict
from vfbench.evaluate.embeddings import Embeddings
from vfbench.models.encoders import create_encoder, input_kind
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.checkpoint import (
    check_packaged,
    load_checkpoint,
    load_module_state,
    packaged_prefixes,
)
from vfbench.train.config import TrainConfig
from vfbench.train.data import SplitData, load_split
from vfbench.train.features import cached_features, extract_features
from vfbench.train.loop import embed_split
from vfbench.train.protocol import Method
from vfbench.utils.io import sha256_file
from vfbench.utils.provenance import Provenance

log = logging.getLogger("vfbench.embed")

MethodResolver = Callable[[str], Method]
"""Method name -> method object (``vfbench.methods.get_method``)."""


def load_trained(
    checkpoint: str | Path, methods: MethodResolver, device: str = "cpu"
) -> tuple[Method, VoiceFaceModel, TrainConfig, dict[str, Any]]:
    """(method, model in eval mode, config, raw checkpoint) from a training checkpoint;
    ``methods`` turns the method name recorded in it into the method object."""
    ckpt = load_checkpoint(checkpoint)
    cfg = from_dict(TrainConfig, ckpt["config"], where=str(checkpoint))
    method = methods(cfg.method)
    vb = create_encoder(cfg.voice.name, "voice", **cfg.voice.kwargs)
    fb = create_encoder(cfg.face.name, "face", **cfg.face.kwargs)
    model = method.build_model(cfg, vb, fb)
    # packaged frozen encoders are rebuilt from their package, never read from the file
    load_module_state(model, ckpt["model"], checkpoint, skip_prefixes=packaged_prefixes(model))
    for note in check_packaged(ckpt.get("encoders") or {}, model, checkpoint):
        log.warning(note)
    model.to(device).eval()
    return method, model, cfg, ckpt


@torch.no_grad()
def embed_data(
    method: Method,
    model: VoiceFaceModel,
    data: SplitData,
    modality: str,
    device: str = "cpu",
    progress: bool = True,
    features_dir: str | Path | None = None,
    encoder: tuple[str, dict[str, Any]] | None = None,
) -> np.ndarray:
    """(N, D) embeddings of every ``modality`` item of ``data`` (a progress bar with counts
    and ETA unless ``progress`` is false).

    Off-the-shelf encoders (resemblyzer, dlib) go through the feature cache in
    ``features_dir`` when given (``encoder`` = its config name and kwargs): items already
    embedded by training are read back, new ones are added."""
    bb = model.backbone(modality)
    if input_kind(bb) in ("waveform", "chip150"):
        if features_dir is not None and encoder is not None:
            x = cached_features(bb, encoder[0], encoder[1], data, modality, features_dir,
                                device, progress).to(device)  # fmt: skip
        else:
            feats = extract_features(bb, data, modality, device=device, progress=progress,
                                     desc=f"embed {modality}s")  # fmt: skip
            x = torch.from_numpy(feats).to(device)
        return method.embed(model, modality, x, True).float().cpu().numpy()
    return embed_split(method, model, data, modality, False, device, progress=progress)


def embed_manifest(
    checkpoint: str | Path,
    manifest: str | Path,
    cache: str | Path,
    split: str = "test",
    device: str = "cpu",
    progress: bool = True,
    *,
    methods: MethodResolver,
) -> tuple[Embeddings, Embeddings]:
    """Voice and face :class:`Embeddings` of ``split`` of ``manifest`` (items in ``cache``)."""
    method, model, cfg, ckpt = load_trained(checkpoint, methods, device)
    data = load_split(str(manifest), str(cache), split, seed=cfg.seed, augment=False)
    meta = {
        "model": f"{cfg.method}:{cfg.voice.name}+{cfg.face.name}",
        "method": cfg.method,
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256_file(checkpoint),
        "step": int(ckpt["step"]),
        "split": split,
        "config": ckpt["config"],
        "encoders": ckpt.get("encoders") or {},
        "provenance": Provenance(command="vfbench embed", seed=cfg.seed).to_dict(),
    }
    ids = np.asarray(data.identities)
    # the training run's feature cache (keyed by encoder content, so always safe to share)
    feat_dir = Path(checkpoint).parent / "features"
    out = []
    for mod in ("voice", "face"):
        table = data.table(mod)
        enc = cfg.voice if mod == "voice" else cfg.face
        out.append(
            Embeddings(
                ids=np.asarray(table.ids),
                identities=ids[table.identity],
                vectors=embed_data(
                    method,
                    model,
                    data,
                    mod,
                    device,
                    progress,
                    feat_dir if feat_dir.is_dir() else None,
                    (enc.name, enc.kwargs),
                ),  # fmt: skip
                modality=mod,
                meta=meta,
            )
        )
    return out[0], out[1]
