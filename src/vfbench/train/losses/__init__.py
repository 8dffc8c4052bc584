"""Loss registry ``LOSSES``: one file per loss, built from the small parts in :mod:`.parts`.

Every loss is an ``nn.Module`` called as ``loss(v, v_labels, f, f_labels) -> scalar`` with
``v`` (Nv, D) voice embeddings, ``f`` (Nf, D) face embeddings and integer identity labels
(Nv,), (Nf,) (global train-identity indices, so classification losses can use them).
Triplets are anchored on the voice (the paper's "voice-anchored" space) unless the loss
says otherwise. Build with ``LOSSES.build(name, **kwargs)`` or :func:`create_loss`.
"""

from __future__ import annotations

import importlib
from typing import Any

from torch import nn

from vfbench.registry import Registry

LOSSES: Registry[Any] = Registry("loss")

MODULES = (
    "trinet_triplet",
    "symmetric_triplet",
    "batch_hard",
    "semi_hard",
    "contrastive",
    "infonce",
    "identity_ce",
    "forced_choice",
    "covariate_ce",
    "curriculum_contrastive",
    "kim_triplet",
    "pair_bce",
    "fop",
    "cmpc",
    "wen_adaptive",
    "npair",
    "softmax_triplet",
    "self_lifting",
    "cross_modal_ae",
    "barlow_twins",
)

_loaded = False


def load_all() -> None:
    global _loaded
    if not _loaded:
        for m in MODULES:
            importlib.import_module(f"vfbench.train.losses.{m}")
        _loaded = True


def create_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build loss ``name`` (see :data:`LOSSES`)."""
    load_all()
    loss: nn.Module = LOSSES.build(name, **kwargs)
    return loss


def loss_names() -> list[str]:
    load_all()
    return LOSSES.names()
