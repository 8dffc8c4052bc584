"""DIMNet-style method (Wen et al. 2019, "Disjoint Mapping Network for Cross-modal
Matching of Voices and Faces").

Voice and face embeddings (FC heads on the backbones) are learned only through classifiers
of covariates SHARED by both modalities: identity, gender and nationality, read from the
manifest of the training split. No pair or triplet is formed: the modalities are mapped
"disjointly" into one space where the covariate classifiers work for both. Matching and
retrieval then compare embeddings by cosine similarity (the evaluation default).

Variants by config (``loss.kwargs.covariates``): DIMNet-I ``[identity]``, DIMNet-G
``[gender]``, DIMNet-N ``[nationality]``, DIMNet-IG ``[identity, gender]`` (default,
the best of the paper), DIMNet-IGN ``[identity, gender, nationality]``; ``weights`` gives
each covariate's loss weight (default 1). Items of identities whose covariate is unknown
(empty gender/nationality) are ignored by that classifier. Head: FC without L2
normalisation (``head.l2: false``); the paper-scale config uses the DIMNet-style encoders.
See :mod:`vfbench.train.losses.covariate_ce`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from vfbench.errors import ConfigError
from vfbench.methods.base import ZooMethod
from vfbench.methods.registry import METHODS
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.config import TrainConfig
from vfbench.train.data import SplitData
from vfbench.train.losses import create_loss

COVARIATES = ("identity", "gender", "nationality")
VARIANTS = {
    "DIMNet-I": ["identity"],
    "DIMNet-G": ["gender"],
    "DIMNet-N": ["nationality"],
    "DIMNet-IG": ["identity", "gender"],
    "DIMNet-IGN": ["identity", "gender", "nationality"],
}


@dataclass
class DIMNetOptions:
    covariates: list[str] = field(default_factory=lambda: ["identity", "gender"])
    weights: dict[str, float] = field(default_factory=dict)

    def validate(self) -> None:
        bad = [c for c in self.covariates if c not in COVARIATES]
        if bad or not self.covariates:
            raise ValueError(
                f"covariates must be a non-empty subset of {list(COVARIATES)}, got "
                f"{self.covariates}"
            )
        extra = [k for k in self.weights if k not in self.covariates]
        if extra:
            raise ValueError(f"weights names covariate {extra[0]!r} that is not trained")


def covariate_tables(
    data: SplitData, covariates: list[str], nationalities: list[str] | None = None
) -> dict[str, torch.Tensor]:
    """Per-identity class codes (n_identities,) long of each covariate (-1 = unknown).

    Genders ``m``/``f`` -> 0/1. Nationalities come from ``nationalities`` (aligned with
    ``data.identities``), else from the split's manifest, else ``data.meta["nationalities"]``;
    known values are coded in sorted order.
    """
    n = len(data.identities)
    out: dict[str, torch.Tensor] = {}
    for c in covariates:
        if c == "identity":
            out[c] = torch.arange(n, dtype=torch.long)
            continue
        if c == "gender":
            vals = list(data.genders)
        else:
            vals = nationalities if nationalities is not None else _nationalities(data)
        known = sorted({x for x in vals if x})
        if c == "gender":
            bad = [x for x in known if x not in ("m", "f")]
            if bad:
                raise ConfigError(f"DIMNet gender covariate: unexpected gender {bad[0]!r}")
        if len(known) < 2:
            where = data.meta.get("manifest", "the training data")
            raise ConfigError(
                f"DIMNet covariate {c!r}: {where} has {len(known)} known {c} value(s) among the"
                f" {n} training identities; it needs >= 2 (drop {c!r} from loss.kwargs.covariates)"
            )
        code = {x: i for i, x in enumerate(known)}
        out[c] = torch.tensor([code.get(x, -1) for x in vals], dtype=torch.long)
    return out


def _nationalities(data: SplitData) -> list[str]:
    if data.manifest is not None:
        idmap = data.manifest.identity_map()
        return [str(getattr(idmap.get(i), "nationality", "") or "") for i in data.identities]
    nat = data.meta.get("nationalities")
    if nat is None:
        return [""] * len(data.identities)
    return [str(x or "") for x in nat]


@METHODS.register("dimnet")
class DIMNet(ZooMethod):
    name = "dimnet"
    description = "DIMNet: shared identity/gender/nationality classifiers on both modalities"
    loss_name = "covariate_ce"
    options_cls = DIMNetOptions

    def __init__(self) -> None:
        self.tables: dict[str, torch.Tensor] | None = None

    def prepare(self, cfg: TrainConfig, data: SplitData) -> None:
        self.tables = covariate_tables(data, list(self.options(cfg).covariates))

    def build_objective(
        self, cfg: TrainConfig, model: VoiceFaceModel, num_classes: int
    ) -> nn.Module:
        o = self.options(cfg)
        if self.tables is None:
            raise ConfigError("DIMNet: prepare(cfg, train_data) must run before build_objective")
        dim = getattr(model.voice_head, "out_dim", cfg.head.dim)
        return create_loss(
            "covariate_ce",
            dim=int(dim),
            tables=self.tables,
            weights=dict(o.weights),
            scale=cfg.head.scale if cfg.head.l2 else 1.0,
        )


def variant_of(covariates: list[str]) -> str:
    """The paper's name of a covariate set ("DIMNet-IG"), or "DIMNet-custom"."""
    for k, v in VARIANTS.items():
        if sorted(v) == sorted(covariates):
            return k
    return "DIMNet-custom"
