"""Tiny in-memory voice/face data where both modalities share an identity signal.

Each identity has a random latent prototype z (with a gender bit); a voice is a
(1, 16, 24) "spectrogram" A_v z + noise, a face a (3, 16, 16) "image" A_f z + noise, so a
cross-modal model can learn the association without the synthetic corpus.
"""

from __future__ import annotations

import numpy as np
import torch

from vfbench.train.data import SplitData, from_tensors


def toy_split(
    n_ids: int = 24, per_id: int = 4, latent: int = 8, noise: float = 0.5, seed: int = 0,
    proj_seed: int = 123,
) -> SplitData:  # fmt: skip
    rng = np.random.default_rng(seed)
    prng = np.random.default_rng(proj_seed)  # projections shared by train/val splits
    av = prng.normal(size=(latent, 16 * 24)).astype(np.float32)
    af = prng.normal(size=(latent, 3 * 16 * 16)).astype(np.float32)
    z = rng.normal(size=(n_ids, latent)).astype(np.float32)
    genders = ["m" if i % 2 == 0 else "f" for i in range(n_ids)]
    z[:, 0] = np.where(np.array(genders) == "m", 1.5, -1.5)
    ident = np.repeat(np.arange(n_ids), per_id)
    v = z[ident] @ av + noise * rng.normal(size=(len(ident), 16 * 24)).astype(np.float32)
    f = z[ident] @ af + noise * rng.normal(size=(len(ident), 3 * 16 * 16)).astype(np.float32)
    v /= np.sqrt(latent)
    f /= np.sqrt(latent)
    return from_tensors(
        torch.from_numpy(v.reshape(-1, 1, 16, 24)),
        ident,
        torch.from_numpy(f.reshape(-1, 3, 16, 16)),
        ident,
        genders,
        identities=[f"s{seed}_{i:03d}" for i in range(n_ids)],
    )
