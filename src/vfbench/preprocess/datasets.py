"""PyTorch Datasets over a :class:`~vfbench.preprocess.cache.FeatureCache`.

* :class:`VoiceDataset` -> ``FloatTensor (1, 257, T)``: a random ``crop_seconds`` crop
  when training (2.5 s in the paper, Sec. 5.1), the centre crop (or the full clip when
  ``crop_seconds is None``) when testing. Clips shorter than the crop are padded by
  wrapping around (repeating the clip), not with zeros.
* :class:`FaceDataset` -> ``FloatTensor (3, 112, 112)`` in [-1, 1], with light
  augmentation when training: horizontal flip (p = 0.5), a shift of up to ``max_shift``
  pixels (edge-replicated), brightness/contrast jitter of up to ``jitter`` (relative).

Randomness is a pure function of ``(seed, epoch, index)`` (call :meth:`set_epoch` each
epoch), so results do not depend on DataLoader worker count or order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vfbench.errors import DataError
from vfbench.preprocess.cache import FeatureCache


def _rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, index])


def crop_frames(
    spec: np.ndarray, n_frames: int | None, train: bool, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Crop (F, T) ``spec`` along time to ``n_frames`` (random start when ``train``, else centre).

    ``n_frames=None`` returns ``spec`` unchanged. Shorter inputs are wrapped (tiled) first.
    """
    if n_frames is None:
        return spec
    t = spec.shape[1]
    if t == 0:
        raise DataError("cannot crop an empty spectrogram")
    if t < n_frames:
        reps = -(-n_frames // t)
        spec = np.tile(spec, (1, reps))
        t = spec.shape[1]
    if train:
        start = int((rng or np.random.default_rng()).integers(0, t - n_frames + 1))
    else:
        start = (t - n_frames) // 2
    return spec[:, start : start + n_frames]


def normalize_bins(spec: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Per-frequency-bin (row) mean/variance normalisation over time of (F, T) ``spec``."""
    mu = spec.mean(axis=1, keepdims=True)
    sd = spec.std(axis=1, keepdims=True)
    return ((spec - mu) / (sd + eps)).astype(np.float32)


class VoiceDataset(Dataset[torch.Tensor]):
    """Spectrogram crops of cached voice items: ``dataset[i]`` -> ``(1, n_bins, T)`` float32.

    ``crop_seconds`` is converted to frames with the cache's hop (100 frames/s by default).
    ``normalize_crop`` re-applies per-bin mean/variance normalisation to the crop, as the
    VoxCeleb/SVHF front ends normalise the network input; because the normalisation is an
    affine map per bin, this equals normalising the raw magnitudes of the crop.
    """

    def __init__(
        self,
        cache: FeatureCache,
        ids: Sequence[str],
        crop_seconds: float | None = 2.5,
        train: bool = True,
        seed: int = 0,
        normalize_crop: bool = False,
    ) -> None:
        self.cache = cache
        self.ids = list(ids)
        missing = [i for i in self.ids if ("voice", i) not in cache]
        if missing:
            raise DataError(
                f"{cache.root}: {len(missing)} voice ids are not cached, e.g. {missing[0]!r}"
            )
        audio = cache.config.get("audio", {})
        fps = float(audio.get("sample_rate", 16000)) / float(audio.get("hop_length", 160))
        self.frames_per_second = fps
        self.crop_frames = None if crop_seconds is None else max(1, round(crop_seconds * fps))
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.normalize_crop = normalize_crop

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> torch.Tensor:
        item_id = self.ids[index]
        rng = _rng(self.seed, self.epoch, index) if self.train else None
        n = self.crop_frames
        t = self.cache.shape("voice", item_id)[-1]
        if n is not None and t >= n:  # read and convert only the crop's frames
            start = int(rng.integers(0, t - n + 1)) if rng is not None else (t - n) // 2
            x = self.cache.load("voice", item_id, frames=(start, start + n))
        else:
            x = crop_frames(self.cache.load("voice", item_id), n, self.train, rng)
        if self.normalize_crop:
            x = normalize_bins(x)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]


class FaceDataset(Dataset[torch.Tensor]):
    """Aligned faces: ``dataset[i]`` -> ``(3, H, W)`` float32 in [-1, 1] (x / 127.5 - 1)."""

    def __init__(
        self,
        cache: FeatureCache,
        ids: Sequence[str],
        train: bool = True,
        seed: int = 0,
        flip: bool = True,
        max_shift: int = 4,
        jitter: float = 0.1,
    ) -> None:
        self.cache = cache
        self.ids = list(ids)
        missing = [i for i in self.ids if ("face", i) not in cache]
        if missing:
            raise DataError(
                f"{cache.root}: {len(missing)} face ids are not cached, e.g. {missing[0]!r}"
            )
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.flip = flip
        self.max_shift = max_shift
        self.jitter = jitter

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> torch.Tensor:
        img = self.cache.load("face", self.ids[index]).astype(np.float32)  # (H, W, 3)
        if self.train:
            img = self.augment(img, _rng(self.seed, self.epoch, index))
        x = np.clip(img, 0.0, 255.0) / 127.5 - 1.0
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32))

    def augment(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Flip, shift and colour-jitter a float (H, W, 3) image in [0, 255]."""
        if self.flip and rng.random() < 0.5:
            img = img[:, ::-1]
        if self.max_shift > 0:
            dy, dx = rng.integers(-self.max_shift, self.max_shift + 1, size=2)
            img = _shift(img, int(dy), int(dx))
        if self.jitter > 0:
            b, c = rng.uniform(-self.jitter, self.jitter, size=2)
            mean = img.mean()
            img = (img - mean) * (1.0 + c) + mean + b * 255.0
        return img


def _shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate by (dy, dx) pixels, replicating the edge into the uncovered border."""
    h, w = img.shape[:2]
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return img[ys][:, xs]
