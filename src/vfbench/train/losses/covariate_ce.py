"""DIMNet-style covariate classification (Wen et al. 2019, "Disjoint Mapping Network").

DIMNet learns a common voice/face embedding space only through *shared* classifiers of
covariates: one linear softmax classifier per covariate (identity, gender, nationality),
applied to the embeddings of both modalities. The loss is

    L = sum_c w_c * 1/2 * (CE(W_c v, y_c(v)) + CE(W_c f, y_c(f)))

with ``y_c`` the covariate class of the item's identity. Classes come from per-identity
lookup tables (``tables[c]`` (n_identities,) long; -1 = unknown, ignored), so the batch's
identity labels select them. The variants DIMNet-I, -G, -N, -IG, -IGN are the covariate
sets {identity}, {gender}, {nationality}, {identity, gender}, {identity, gender,
nationality}. Embeddings on a sphere of radius ``scale`` are divided by it first so the
logits stay moderate (as in ``identity_ce``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES


class CovariateCELoss(nn.Module):
    """Shared per-covariate linear classifiers on voice and face embeddings (Nv/Nf, D)."""

    def __init__(
        self,
        dim: int,
        tables: Mapping[str, torch.Tensor],
        weights: Mapping[str, float] | None = None,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        if not tables:
            raise ConfigError("covariate_ce needs at least one covariate table")
        self.names = list(tables)
        self.classifiers = nn.ModuleDict()
        self.weights = {c: float((weights or {}).get(c, 1.0)) for c in self.names}
        for c, t in tables.items():
            t = torch.as_tensor(t, dtype=torch.long)
            n_cls = int(t.max()) + 1 if t.numel() else 0
            if n_cls < 2:
                raise ConfigError(
                    f"covariate_ce: covariate {c!r} has {n_cls} known class(es) in the training"
                    " identities; it needs >= 2"
                )
            self.register_buffer(f"table_{c}", t)
            self.classifiers[c] = nn.Linear(dim, n_cls)
        self.scale = float(scale)

    def table(self, c: str) -> torch.Tensor:
        t: torch.Tensor = getattr(self, f"table_{c}")
        return t

    def per_covariate(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Covariate -> its loss 1/2 (CE(voices) + CE(faces)) (unknown classes ignored)."""
        out = {}
        for c in self.names:
            clf, t = self.classifiers[c], self.table(c)
            parts = []
            for x, lab in ((v, lv), (f, lf)):
                y = t[lab]
                if bool((y >= 0).any()):
                    parts.append(F.cross_entropy(clf(x / self.scale), y, ignore_index=-1))
                else:
                    parts.append((x.sum() + sum(p.sum() for p in clf.parameters())) * 0.0)
            out[c] = 0.5 * (parts[0] + parts[1])
        return out

    def forward(
        self, v: torch.Tensor, lv: torch.Tensor, f: torch.Tensor, lf: torch.Tensor
    ) -> torch.Tensor:
        per = self.per_covariate(v, lv, f, lf)
        return torch.stack([self.weights[c] * per[c] for c in self.names]).sum()


@LOSSES.register("covariate_ce")
def covariate_ce(
    dim: int = 128,
    tables: Mapping[str, torch.Tensor] | None = None,
    weights: Mapping[str, float] | None = None,
    scale: float = 1.0,
) -> CovariateCELoss:
    return CovariateCELoss(dim, tables or {}, weights, scale)
