"""The shared bases of every method: :class:`Method` (the hooks the training loop calls,
with TriNet's behaviour as the defaults), :class:`ZooMethod` (typed options from
``loss.kwargs``, the step hook for losses that draw negatives) and the learned (voice,
face) pair matcher of the classifier-style methods (SVHF, Horiguchi et al.) with its
evaluation scorer (:class:`MatcherMethod`).

A method is one file in this package subclassing one of these and overriding only what
differs, registered with ``@METHODS.register("name")`` (:mod:`vfbench.methods.registry`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import nn

from vfbench.config import from_dict
from vfbench.errors import ConfigError
from vfbench.models.encoders import out_dim
from vfbench.models.heads import TriNetHead
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.data import SplitData
from vfbench.train.losses import create_loss
from vfbench.train.protocol import Batch, Gather, PairScorer, ParamGroup
from vfbench.train.sampler import IdentitySampler
from vfbench.train.sampler import triplets_per_step as eq1_triplets_per_step

__all__ = [
    "Batch",
    "Gather",
    "MatcherMethod",
    "Method",
    "PairMatcher",
    "PairScorer",
    "ParamGroup",
    "ZooMethod",
    "attach_matcher",
    "matcher_of",
    "matcher_scorer",
    "options_dict",
    "with_matcher_params",
]


class Method:
    """The default hooks, which are TriNet's (paper section 4): voice-anchored Eq. 1
    triplets on L2-normalised, scaled embeddings; voice backbone frozen, face backbone at
    a fixed tiny LR, FC heads on the step schedule. A method subclasses it and overrides
    the hooks that differ (it satisfies :class:`vfbench.train.protocol.Method`)."""

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
        return eq1_triplets_per_step(cfg.sampler.P, cfg.sampler.K)

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

    def scorer(self, model: VoiceFaceModel) -> PairScorer | None:
        """Optional pairwise scorer (voice (N, D), face (N, D)) -> (N,) similarity, for
        methods whose embeddings are not compared by distance. None: use distances."""
        return None


class ZooMethod(Method):
    """A method whose objective is the loss ``loss_name`` configured by ``options_cls``
    (a dataclass parsed from ``cfg.loss.kwargs``)."""

    loss_name = ""
    options_cls: type[Any] = object
    distance = "cosine"  # how embeddings compare when the method has no pair scorer

    def options(self, cfg: TrainConfig) -> Any:
        """The validated options of this method (``cfg.loss.kwargs``)."""
        if cfg.loss.name != self.loss_name:
            raise ConfigError(
                f"method {self.name!r} trains with loss.name: {self.loss_name} (the config has"
                f" {cfg.loss.name!r}); start from configs/methods/{self.name}_cpu.yaml"
            )
        return from_dict(self.options_cls, dict(cfg.loss.kwargs), "config", "loss.kwargs.")

    def loss(
        self, model: VoiceFaceModel, objective: nn.Module, batch: Batch, gather: Gather
    ) -> torch.Tensor:
        set_step = getattr(objective, "set_step", None)
        if callable(set_step):
            set_step(batch.step)  # losses that draw negatives seed them by step (resume)
        return super().loss(model, objective, batch, gather)

    def triplets_per_step(self, cfg: TrainConfig) -> int | None:
        return None


def options_dict(opts: Any) -> dict[str, Any]:
    return asdict(opts)


class PairMatcher(nn.Module):
    """Learned pairwise score of a voice embedding and a face embedding.

    ``g(v, f) = w . relu(A v + B f [+ C (v * f)] + b) + c`` - an MLP on the concatenated
    pair (plus the elementwise product when ``product``), computed without materialising
    the concatenation: ``matrix`` scores all (Nv, D) x (Nf, D) pairs -> (Nv, Nf).

    With ``normalize`` (default) each modality's input is first standardised per dimension
    (``BatchNorm1d`` without affine parameters: batch statistics in training, running ones
    in evaluation): the fused layer then works at the same operating point whatever the
    offset and scale of the embeddings (an MLP fed inputs that hardly vary stays in its
    linear regime, where a concatenation has no voice-face interaction to learn).
    """

    def __init__(
        self, dim: int, hidden: int = 256, product: bool = False, normalize: bool = True
    ) -> None:
        super().__init__()
        if hidden < 1:
            raise ConfigError(f"matcher hidden size must be >= 1, got {hidden}")
        self.dim, self.hidden, self.product, self.normalize = dim, hidden, product, normalize
        self.norm_v: nn.Module = nn.BatchNorm1d(dim, affine=False) if normalize else nn.Identity()
        self.norm_f: nn.Module = nn.BatchNorm1d(dim, affine=False) if normalize else nn.Identity()
        self.voice = nn.Linear(dim, hidden)
        self.face = nn.Linear(dim, hidden, bias=False)
        self.prod: nn.Module | None = nn.Linear(dim, hidden, bias=False) if product else None
        self.out = nn.Linear(hidden, 1)

    def matrix(self, v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """(Nv, D), (Nf, D) -> (Nv, Nf) scores (logits; higher = same person)."""
        v, f = self.norm_v(v), self.norm_f(f)
        h = self.voice(v)[:, None, :] + self.face(f)[None, :, :]
        if self.prod is not None:
            assert isinstance(self.prod, nn.Linear)
            h = h + torch.einsum("ad,bd,hd->abh", v, f, self.prod.weight)
        return self.out(torch.relu(h))[..., 0]

    def pairs(self, v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """Aligned pairs (N, D), (N, D) -> (N,) scores."""
        v, f = self.norm_v(v), self.norm_f(f)
        h = self.voice(v) + self.face(f)
        if self.prod is not None:
            h = h + self.prod(v * f)
        return self.out(torch.relu(h))[:, 0]

    def forward(self, v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.matrix(v, f)


def attach_matcher(
    model: VoiceFaceModel, hidden: int, product: bool, normalize: bool = True
) -> PairMatcher:
    """Add a :class:`PairMatcher` as ``model.matcher`` (saved with the model's weights)."""
    dv, df = _head_dim(model.voice_head), _head_dim(model.face_head)
    if dv != df:
        raise ConfigError(f"the pair matcher needs equal embedding sizes (voice {dv}, face {df})")
    m = PairMatcher(dv, hidden, product, normalize)
    model.add_module("matcher", m)
    return m


def _head_dim(head: nn.Module) -> int:
    d = getattr(head, "out_dim", None)
    if not isinstance(d, int):
        raise ConfigError(f"head {type(head).__name__} has no integer out_dim")
    return d


def matcher_of(model: VoiceFaceModel) -> PairMatcher:
    m = getattr(model, "matcher", None)
    if not isinstance(m, PairMatcher):
        raise ConfigError("this model has no pair matcher (was it built by svhf/horiguchi?)")
    return m


def with_matcher_params(groups: list[ParamGroup], model: VoiceFaceModel) -> list[ParamGroup]:
    """The matcher trains with the heads (scheduled head learning rate)."""
    params = list(matcher_of(model).parameters())
    groups[0].params.extend(params)
    return groups


def matcher_scorer(model: VoiceFaceModel, block_bytes: int = 32 << 20) -> PairScorer:
    """numpy ``score(voices (a, D), faces (b, D)) -> (a, b)`` from the model's matcher, in
    voice blocks so that the (block, b, hidden) activations stay under ``block_bytes``."""
    m = matcher_of(model)
    dev = next(m.parameters()).device

    @torch.no_grad()
    def score(v: np.ndarray, f: np.ndarray) -> np.ndarray:
        was = m.training
        m.eval()
        ft = torch.as_tensor(np.asarray(f, np.float32), device=dev)
        vt = torch.as_tensor(np.asarray(v, np.float32), device=dev)
        width = max(m.hidden, m.dim if m.product else 1)
        rows = max(1, block_bytes // max(1, 4 * ft.shape[0] * width))
        out = np.empty((vt.shape[0], ft.shape[0]), np.float32)
        for a in range(0, vt.shape[0], rows):
            out[a : a + rows] = m.matrix(vt[a : a + rows], ft).float().cpu().numpy()
        m.train(was)
        return out

    score.__name__ = "pair_matcher"
    return score


class MatcherMethod(ZooMethod):
    """A method scored by a learned :class:`PairMatcher` on (voice, face) embeddings (SVHF,
    Horiguchi et al.): the matcher is attached to the model, trains with the heads and is
    the method's scorer. ``options_cls`` must have ``hidden``, ``product``, ``normalize``."""

    def build_model(
        self, cfg: TrainConfig, voice_backbone: nn.Module, face_backbone: nn.Module
    ) -> VoiceFaceModel:
        o = self.options(cfg)
        model = super().build_model(cfg, voice_backbone, face_backbone)
        attach_matcher(model, o.hidden, o.product, o.normalize)
        return model

    def param_groups(
        self, cfg: TrainConfig, model: VoiceFaceModel, objective: nn.Module
    ) -> list[ParamGroup]:
        return with_matcher_params(super().param_groups(cfg, model, objective), model)

    def scorer(self, model: VoiceFaceModel) -> PairScorer:
        return matcher_scorer(model)
