"""What the training loop needs from a method: :class:`Batch`, :class:`ParamGroup` and the
:class:`Method` protocol.

The loop (:func:`vfbench.train.loop.train`), ``embed`` and validation take any object with
these hooks; the methods themselves (TriNet, SVHF, DIMNet, ...) live in
:mod:`vfbench.methods` above ``train`` and are resolved by name there
(``vfbench.methods.get_method``), so ``train`` never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.data import SplitData
from vfbench.train.sampler import IdentitySampler

Gather = Callable[[torch.Tensor], torch.Tensor]
"""All-gathers a per-rank (n, ...) tensor into the global (N, ...) batch, keeping the
gradient of the local part (identity without DDP)."""

PairScorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""numpy ``score(voices (a, D), faces (b, D)) -> (a, b)`` similarity (higher = same person)."""


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


@runtime_checkable
class Method(Protocol):
    """The hooks of a voice-face method, in the order the loop calls them.

    ``name`` must equal the config's ``method`` (checkpoints record it).
    """

    name: str
    description: str

    def prepare(self, cfg: TrainConfig, data: SplitData) -> None: ...

    def build_model(
        self, cfg: TrainConfig, voice_backbone: nn.Module, face_backbone: nn.Module
    ) -> VoiceFaceModel: ...

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module: ...

    def param_groups(
        self, cfg: TrainConfig, model: VoiceFaceModel, objective: nn.Module
    ) -> list[ParamGroup]: ...

    def make_sampler(self, cfg: TrainConfig, data: SplitData) -> IdentitySampler: ...

    def triplets_per_step(self, cfg: TrainConfig) -> int | None: ...

    def loss(
        self, model: VoiceFaceModel, objective: nn.Module, batch: Batch, gather: Gather
    ) -> torch.Tensor: ...

    def embed(
        self, model: VoiceFaceModel, modality: str, x: torch.Tensor, features: bool = False
    ) -> torch.Tensor: ...

    def scorer(self, model: VoiceFaceModel) -> PairScorer | None: ...
