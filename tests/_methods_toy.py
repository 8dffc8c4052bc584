"""Tiny feature-mode training data with a shared voice-face signal, and configs for it:
one copy for the tests of every method (tests/train, tests/methods)."""

from __future__ import annotations

import numpy as np
import torch

from vfbench.train.config import TrainConfig, load_train_config
from vfbench.train.data import SplitData, from_tensors

# per method: loss name + options small enough for 40 training identities
ZOO_SETS = {
    "svhf": ["loss.name=forced_choice", "loss.kwargs={hidden: 64}", "head.l2=false"],
    "dimnet": [
        "loss.name=covariate_ce",
        "loss.kwargs={covariates: [identity, gender, nationality]}",
        "head.l2=false",
    ],
    "pins": ["loss.name=curriculum_contrastive", "loss.kwargs={margin: 1.0}"],
    "kim": ["loss.name=kim_triplet", "loss.kwargs={margin: 1.0}", "head.l2=false"],
    "horiguchi": ["loss.name=pair_bce", "loss.kwargs={hidden: 64}", "head.l2=false"],
}
NEW_SETS = {
    "fop": ["loss.name=fop", "loss.kwargs={dropout: 0.1}", "sampler.P=8", "sampler.K=2"],
    "cmpc": [
        "loss.name=cmpc",
        "loss.kwargs={clusters: [8, 16], queue: 256, cluster_every: 20, temperature: 0.1}",
        "head.l2=true",
    ],
    "ssnet": [
        "loss.name=wen_adaptive",
        "loss.kwargs={update_every: 5, add_fraction: 0.1}",
        "head.l2=false",
    ],  # fmt: skip
    "fv_cme": ["loss.name=npair", "loss.kwargs={}", "head.l2=false"],
    "lafv": ["loss.name=softmax_triplet", "loss.kwargs={}", "head.l2=false"],
    "self_lifting": [
        "loss.name=self_lifting",
        "loss.kwargs={clusters: 16, queue: 256, cluster_every: 20}",
        "head.l2=false",
    ],
    "cae": ["loss.name=cross_modal_ae", "loss.kwargs={hidden: 64, dropout: 0.1}", "head.l2=false"],
    "barlow_twins": ["loss.name=barlow_twins", "loss.kwargs={proj_dim: 64}", "head.l2=false"],
}
METHOD_SETS = {**ZOO_SETS, **NEW_SETS}
COMMON = [
    "voice.name=small_cnn", "face.name=small_cnn", "voice.kwargs={width: 4}",
    "face.kwargs={width: 4}", "voice.frozen=true", "face.frozen=true", "voice.lr=0",
    "face.lr=0", "feature_mode=true", "sampler.P=12", "head.dim=32", "head.scale=1",
    "optim.head_lr=1e-3", "optim.milestones=[]", "val.every=0", "val.n_trials=2000",
    "checkpoint_every=1000", "log.tensorboard=false", "log.progress=false",
]  # fmt: skip


def tiny_split(
    n_ids: int,
    per_id: int,
    seed: int,
    latent: int = 8,
    prefix: str = "s",
    nationalities: bool = True,
) -> SplitData:
    """Identities with a latent prototype z (first component = gender) seen by both
    modalities through fixed random projections: v = A_v z + noise, f = A_f z + noise.
    Inputs are scaled so the frozen random CNN features are O(0.1-1). ``prefix`` names the
    identities and items (unique across splits: feature mode caches backbone features by
    item id); ``nationalities`` adds three nationalities (for DIMNet's covariate heads)."""
    rng = np.random.default_rng(seed)
    prng = np.random.default_rng(123)  # projections shared by the splits
    av = prng.normal(size=(latent, 257 * 16))  # 257 bins x 16 frames
    af = prng.normal(size=(latent, 3 * 16 * 16))
    z = rng.normal(size=(n_ids, latent))
    genders = ["m" if i % 2 == 0 else "f" for i in range(n_ids)]
    z[:, 0] = np.where(np.array(genders) == "m", 1.5, -1.5)
    ident = np.repeat(np.arange(n_ids), per_id)
    scale = 50.0 / np.sqrt(latent)
    v = (z[ident] @ av + 0.5 * rng.normal(size=(len(ident), 257 * 16))) * scale
    f = (z[ident] @ af + 0.5 * rng.normal(size=(len(ident), 3 * 16 * 16))) * scale
    data = from_tensors(
        torch.from_numpy(v.astype(np.float32).reshape(-1, 1, 257, 16)),
        ident,
        torch.from_numpy(f.astype(np.float32).reshape(-1, 3, 16, 16)),
        ident,
        genders,
        identities=[f"{prefix}{seed}_{i:03d}" for i in range(n_ids)],
    )
    data.voices.ids = [f"{prefix}{seed}_v{i:05d}" for i in range(len(ident))]
    data.faces.ids = [f"{prefix}{seed}_f{i:05d}" for i in range(len(ident))]
    if nationalities:
        data.meta["nationalities"] = [("A", "B", "C")[i % 3] for i in range(n_ids)]
    return data


def cfg_for(method: str, steps: int, extra: list[str] | None = None) -> TrainConfig:
    sets = [*COMMON, f"method={method}", f"name={method}", f"steps={steps}"]
    return load_train_config(None, [*sets, *METHOD_SETS.get(method, []), *(extra or [])])
