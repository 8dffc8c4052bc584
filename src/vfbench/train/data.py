"""What the training loop reads: a split's identities and item tables plus input sources.

A :class:`SplitData` is built from a manifest + preprocessing cache
(:func:`load_split`) or directly from tensors (tests, feature mode). Sources return
stacked input batches for item indices: :class:`CacheSource` reads the
:class:`~vfbench.preprocess.cache.FeatureCache` through the preprocessing datasets;
:class:`TensorSource` indexes a tensor (cached backbone features or synthetic inputs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from vfbench.data.features import FeatureStore, is_feature_store
from vfbench.data.manifest import load_manifest
from vfbench.errors import DataError
from vfbench.preprocess.cache import FeatureCache
from vfbench.preprocess.datasets import FaceDataset, VoiceDataset


class Source(Protocol):
    def batch(self, idx: np.ndarray, step: int) -> torch.Tensor:
        """Stacked training inputs of items ``idx`` at ``step`` (augmentation is a
        function of (seed, step, item), so a resumed run reads the same inputs)."""
        ...

    def eval_batches(
        self, idx: np.ndarray, batch_size: int
    ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Test-time inputs (no augmentation, full clips) in batches of equal shape."""
        ...


class TensorSource:
    """Rows of a (N, ...) tensor; the same for training and evaluation."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def batch(self, idx: np.ndarray, step: int) -> torch.Tensor:
        return self.x[torch.as_tensor(idx, dtype=torch.long)]

    def eval_batches(
        self, idx: np.ndarray, batch_size: int
    ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        for s in range(0, len(idx), batch_size):
            part = idx[s : s + batch_size]
            yield part, self.batch(part, 0)


class CacheSource:
    """Voice or face items of a FeatureCache via the preprocessing datasets.

    Training voice inputs are random ``crop_seconds`` crops; evaluation uses full clips
    (the paper does not clip test audio), batched by equal length.
    """

    def __init__(
        self,
        cache: Any,
        modality: str,
        ids: Sequence[str],
        crop_seconds: float = 2.5,
        seed: int = 0,
        augment: bool = True,
    ) -> None:

        self.modality = modality
        self.train_ds: Any
        self.eval_ds: Any
        if modality == "voice":
            self.train_ds = VoiceDataset(
                cache, ids, crop_seconds=crop_seconds, train=True, seed=seed
            )
            self.eval_ds = VoiceDataset(cache, ids, crop_seconds=None, train=False, seed=seed)
        else:
            self.train_ds = FaceDataset(cache, ids, train=augment, seed=seed)
            self.eval_ds = FaceDataset(cache, ids, train=False, seed=seed)

    def batch(self, idx: np.ndarray, step: int) -> torch.Tensor:
        self.train_ds.set_epoch(step)
        return torch.stack([self.train_ds[int(i)] for i in idx])

    def eval_batches(
        self, idx: np.ndarray, batch_size: int
    ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        pending: list[tuple[int, torch.Tensor]] = []

        def flush() -> tuple[np.ndarray, torch.Tensor]:
            out = np.array([i for i, _ in pending]), torch.stack([t for _, t in pending])
            pending.clear()
            return out

        for i in idx:
            t = self.eval_ds[int(i)]
            if pending and (pending[0][1].shape != t.shape or len(pending) >= batch_size):
                yield flush()
            pending.append((int(i), t))
        if pending:
            yield flush()


@dataclass
class ItemTable:
    """Items of one modality: ids (N,) and the identity index (N,) of each."""

    ids: list[str]
    identity: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class SplitData:
    """One split: identities (with genders), voice/face item tables and their sources."""

    identities: list[str]
    genders: list[str]
    voices: ItemTable
    faces: ItemTable
    voice_source: Source
    face_source: Source
    # for feature mode: where items come from (cache + manifest), None for in-memory data
    cache: Any = None
    manifest: Any = None
    meta: dict[str, Any] = field(default_factory=dict)

    def table(self, modality: str) -> ItemTable:
        return self.voices if modality == "voice" else self.faces

    def source(self, modality: str) -> Source:
        return self.voice_source if modality == "voice" else self.face_source

    def gender_of_items(self, modality: str) -> np.ndarray:
        g = np.asarray(self.genders)
        return g[self.table(modality).identity]

    def with_sources(self, voice: Source, face: Source) -> SplitData:
        return SplitData(
            self.identities, self.genders, self.voices, self.faces, voice, face,
            self.cache, self.manifest, dict(self.meta),
        )  # fmt: skip


def from_tensors(
    voice_x: torch.Tensor,
    voice_identity: Sequence[int] | np.ndarray,
    face_x: torch.Tensor,
    face_identity: Sequence[int] | np.ndarray,
    genders: Sequence[str],
    identities: Sequence[str] | None = None,
) -> SplitData:
    """In-memory split (tests, synthetic experiments): inputs are rows of the tensors.

    Item ids carry a content hash of the tensors, so two in-memory splits never share an
    id (the feature cache is keyed by item id: equal ids would reuse another split's
    features).
    """
    n_id = len(genders)
    digest = hashlib.sha256()
    for t in (voice_x, face_x):
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    tag = digest.hexdigest()[:8]
    names = list(identities) if identities is not None else [f"id{i:04d}" for i in range(n_id)]
    vi = np.asarray(voice_identity, dtype=np.int64)
    fi = np.asarray(face_identity, dtype=np.int64)
    return SplitData(
        identities=names,
        genders=list(genders),
        voices=ItemTable([f"v{tag}-{i:06d}" for i in range(len(vi))], vi),
        faces=ItemTable([f"f{tag}-{i:06d}" for i in range(len(fi))], fi),
        voice_source=TensorSource(voice_x),
        face_source=TensorSource(face_x),
    )


def load_split(
    manifest_dir: str,
    cache_dir: str,
    split: str,
    crop_seconds: float = 2.5,
    seed: int = 0,
    max_identities: int = 0,
    augment: bool = True,
) -> SplitData:
    """Identities of ``split`` in the manifest whose items are in the cache.

    ``max_identities`` > 0 keeps a seeded random subset (Table 4's "train on 1,000").
    Items that failed preprocessing (absent from the cache) are skipped. ``cache_dir`` may
    also be an imported feature store (:mod:`vfbench.data.features`): the sources then
    serve the stored vectors.
    """

    if not manifest_dir or not cache_dir:
        raise DataError("data.manifest and data.cache must be set (or pass data explicitly)")
    manifest = load_manifest(manifest_dir)
    store = FeatureStore.open(cache_dir) if is_feature_store(cache_dir) else None
    cache = store if store is not None else FeatureCache.open(cache_dir)
    idents = sorted((i for i in manifest.identities if i.split == split), key=lambda i: i.id)
    if not idents:
        raise DataError(
            f"{manifest_dir}: no identities in split {split!r} (splits: {manifest.splits()})"
        )
    if max_identities and len(idents) > max_identities:
        keep = np.sort(np.random.default_rng(seed).choice(len(idents), max_identities, False))
        idents = [idents[i] for i in keep]
    index = {ident.id: k for k, ident in enumerate(idents)}
    cached_v = set(cache.ids("voice"))
    cached_f = set(cache.ids("face"))
    voices = [v for v in manifest.voices if v.identity in index and v.id in cached_v]
    faces = [f for f in manifest.faces if f.identity in index and f.id in cached_f]
    if not voices or not faces:
        raise DataError(
            f"{cache_dir}: no cached {'voices' if not voices else 'faces'} for split {split!r}"
            " of the manifest (run vfbench preprocess on it)"
        )
    vt = ItemTable([v.id for v in voices], np.array([index[v.identity] for v in voices]))
    ft = ItemTable([f.id for f in faces], np.array([index[f.identity] for f in faces]))
    vsrc: Source
    fsrc: Source
    if store is not None:  # imported features (vfbench data import-features): no media
        vsrc = TensorSource(torch.from_numpy(store.vectors("voice", vt.ids)))
        fsrc = TensorSource(torch.from_numpy(store.vectors("face", ft.ids)))
    else:
        vsrc = CacheSource(cache, "voice", vt.ids, crop_seconds, seed)
        fsrc = CacheSource(cache, "face", ft.ids, crop_seconds, seed, augment=augment)
    return SplitData(
        identities=[i.id for i in idents],
        genders=[i.gender for i in idents],
        voices=vt,
        faces=ft,
        voice_source=vsrc,
        face_source=fsrc,
        cache=cache,
        manifest=manifest,
        meta={"manifest": str(manifest_dir), "cache": str(cache_dir), "split": split},
    )
