"""Method registry ``METHODS``: what distinguishes one voice-face method from another.

A method = which heads it puts on the backbones, which objective it optimises, how it
samples batches, which parameters train at which learning rate, and how it turns inputs
into voice/face embeddings (plus, optionally, a pairwise scorer). The training loop,
checkpointing, validation, feature mode, DDP and ``vfbench embed`` are shared: a new
method is one file subclassing :class:`Method` (overriding only what differs) plus one
line in :data:`METHOD_MODULES` (or a ``@METHODS.register`` in a module imported there).

TriNet (the paper's baseline) is :class:`Method` itself with its defaults.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from vfbench.models.encoders import out_dim
from vfbench.models.heads import TriNetHead
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.registry import Registry
from vfbench.train.config import TrainConfig
from vfbench.train.data import SplitData
from vfbench.train.losses import create_loss
from vfbench.train.sampler import IdentitySampler

METHODS: Registry[Any] = Registry("method")

# Modules holding further methods (each registers into METHODS when imported), e.g.
# "vfbench.train.method_zoo.svhf". Add one line per new method file.
METHOD_MODULES: tuple[str, ...] = (
    "vfbench.train.method_zoo.svhf",
    "vfbench.train.method_zoo.dimnet",
    "vfbench.train.method_zoo.pins",
    "vfbench.train.method_zoo.kim",
    "vfbench.train.method_zoo.horiguchi",
    "vfbench.methods.fop",
    "vfbench.methods.cmpc",
    "vfbench.methods.ssnet",
    "vfbench.methods.fv_cme",
    "vfbench.methods.lafv",
    "vfbench.methods.self_lifting",
    "vfbench.methods.cae",
    "vfbench.methods.barlow_twins",
)

Gather = Callable[[torch.Tensor], torch.Tensor]
"""All-gathers a per-rank (n, ...) tensor into the global (N, ...) batch, keeping the
gradient of the local part (identity without DDP)."""


@dataclass
class Batch:
    """One training step's inputs on this rank.

    ``voice``/``face`` are inputs, or cached backbone features when ``voice_features`` /
    ``face_features`` (feature mode for a frozen backbone);
    ``*_labels`` are global train-identity indices (long). ``global_*_labels`` are the
    labels of the whole (all-rank) batch, aligned with ``gather`` outputs.
    """

    voice: torch.Tensor
    face: torch.Tensor
    voice_labels: torch.Tensor
    face_labels: torch.Tensor
    global_voice_labels: torch.Tensor
    global_face_labels: torch.Tensor
    voice_features: bool
    face_features: bool
    step: int


@dataclass
class ParamGroup:
    """Optimiser group: ``scheduled`` groups follow the head LR schedule, others stay fixed."""

    name: str
    params: list[nn.Parameter]
    lr: float
    scheduled: bool


class Method:
    """TriNet (paper section 4): voice-anchored Eq. 1 triplets on L2-normalised, scaled
    embeddings; voice backbone frozen, face backbone at a fixed tiny LR, FC heads on the
    step schedule. Subclasses override the hooks that differ."""

    name = "trinet"
    description = "TriNet: FC+L2+scale heads, voice-anchored triplet loss (Eq. 1)"

    # -- data ----------------------------------------------------------------------------
    def prepare(self, cfg: TrainConfig, data: SplitData) -> None:
        """Called once with the training split before the model and objective are built
        (e.g. to read identity covariates for a classifier objective). Default: nothing."""

    # -- model ---------------------------------------------------------------------------
    def build_model(
        self, cfg: TrainConfig, voice_backbone: nn.Module, face_backbone: nn.Module
    ) -> VoiceFaceModel:
        """Put the heads on the backbones (here: two TriNet heads)."""
        h = cfg.head
        vh = TriNetHead(out_dim(voice_backbone), h.dim, h.fc, h.l2, h.scale, h.center)
        fh = TriNetHead(out_dim(face_backbone), h.dim, h.fc, h.l2, h.scale, h.center)
        if vh.out_dim != fh.out_dim:
            from vfbench.errors import ConfigError

            raise ConfigError(
                f"head.fc=false needs backbones of equal size (voice {vh.out_dim}, face {fh.out_dim})"
            )
        return VoiceFaceModel(voice_backbone, face_backbone, vh, fh)

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        """The loss module (may hold parameters, e.g. a classifier; they train at head LR)."""
        kw = dict(cfg.loss.kwargs)
        if cfg.loss.name == "identity_ce":
            kw.setdefault("dim", model.voice_head.out_dim)
            kw.setdefault("num_classes", num_classes)
            kw.setdefault("scale", cfg.head.scale if cfg.head.l2 else 1.0)
        return create_loss(cfg.loss.name, **kw)

    # -- optimisation ---------------------------------------------------------------------
    def param_groups(
        self, cfg: TrainConfig, model: VoiceFaceModel, objective: nn.Module
    ) -> list[ParamGroup]:
        """Heads + objective: head LR on the schedule; backbones: fixed LR unless frozen."""
        groups = [
            ParamGroup(
                "heads",
                [
                    *model.voice_head.parameters(),
                    *model.face_head.parameters(),
                    *objective.parameters(),
                ],
                cfg.optim.head_lr,
                True,
            )
        ]
        for mod, enc in (("voice", cfg.voice), ("face", cfg.face)):
            params = list(model.backbone(mod).parameters())
            if not enc.frozen and params and enc.lr > 0:
                groups.append(ParamGroup(f"{mod}_backbone", params, enc.lr, False))
        return [g for g in groups if g.params]

    # -- sampling -------------------------------------------------------------------------
    def make_sampler(self, cfg: TrainConfig, data: SplitData) -> IdentitySampler:
        s = cfg.sampler
        return IdentitySampler(
            len(data.identities),
            data.voices.identity,
            data.faces.identity,
            P=s.P,
            K=s.K,
            genders=data.genders,
            gender_balance=s.gender_balance,
            seed=cfg.seed,
        )

    def triplets_per_step(self, cfg: TrainConfig) -> int | None:
        """Eq. 1 triplets per batch (for the start-of-run log); None if not a triplet method."""
        from vfbench.train.sampler import triplets_per_step

        return triplets_per_step(cfg.sampler.P, cfg.sampler.K)

    # -- the objective on one batch -------------------------------------------------------
    def loss(
        self, model: VoiceFaceModel, objective: nn.Module, batch: Batch, gather: Gather
    ) -> torch.Tensor:
        """Scalar loss of the GLOBAL batch (identical on every rank)."""
        ev = self.embed(model, "voice", batch.voice, batch.voice_features)
        ef = self.embed(model, "face", batch.face, batch.face_features)
        out: torch.Tensor = objective(
            gather(ev), batch.global_voice_labels, gather(ef), batch.global_face_labels
        )
        return out

    # -- embeddings for evaluation / embed -------------------------------------------------
    def embed(
        self, model: VoiceFaceModel, modality: str, x: torch.Tensor, features: bool = False
    ) -> torch.Tensor:
        """(B, ...) inputs (or backbone features) -> (B, D) embeddings."""
        return model.embed(modality, x, features)

    def scorer(
        self, model: VoiceFaceModel
    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
        """Optional pairwise scorer (voice (N, D), face (N, D)) -> (N,) similarity, for
        methods whose embeddings are not compared by distance. None: use distances."""
        return None


METHODS.register("trinet")(Method)

_loaded = False


def get_method(name: str) -> Method:
    """Instantiate the method registered as ``name``."""
    global _loaded
    if not _loaded:
        for m in METHOD_MODULES:
            importlib.import_module(m)
        _loaded = True
    method: Method = METHODS.build(name)
    return method


def method_names() -> list[str]:
    get_method("trinet")
    return METHODS.names()
