"""Evaluation inputs: identity attributes, the test split, and content hashes.

Identity attributes are plain strings per identity: the known columns (``gender``,
``nationality``, ``language``) and any other metadata column a manifest keeps (e.g.
``source``, ``corpus``, ``channel``; ``Identity.extra``), for ``--by COLUMN`` breakdowns
and same-COLUMN distractor constraints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate.embeddings import Embeddings

ATTRS = ("gender", "nationality", "language")

#: identity -> {column -> value}; "" = unknown
Attributes = dict[str, dict[str, str]]


def _extra_of(obj: Any) -> dict[str, str]:
    extra = getattr(obj, "extra", None)
    if isinstance(extra, Mapping):
        return {str(k): str(v or "") for k, v in extra.items()}
    return {}


def identity_attributes(identities: Any) -> Attributes:
    """identity -> {"gender", "nationality", "language", <extra columns>} from a Manifest,
    a dict or None.

    A dict may map an identity to a dict of attributes (any keys; every one is kept), to an
    object with those attributes (e.g. :class:`~vfbench.data.manifest.Identity`, whose
    ``extra`` columns are kept too), or to a plain gender string.
    """
    if identities is None:
        return {}
    if hasattr(identities, "identities") and hasattr(identities, "voices"):  # a Manifest
        out = {}
        for i in identities.identities:
            row = {a: str(getattr(i, a, "") or "") for a in ATTRS}
            row.update({k: v for k, v in _extra_of(i).items() if k not in row})
            out[i.id] = row
        return out
    if not isinstance(identities, Mapping):
        raise EvaluationError(
            f"identities must be a Manifest, a dict or None, got {type(identities).__name__}"
        )
    res: Attributes = {}
    for k, v in identities.items():
        if isinstance(v, str):
            row = {"gender": v, "nationality": "", "language": ""}
        elif isinstance(v, Mapping):
            row = {a: str(v.get(a, "") or "") for a in ATTRS}
            row.update({str(c): str(x or "") for c, x in v.items() if str(c) not in row})
        else:
            row = {a: str(getattr(v, a, "") or "") for a in ATTRS}
            row.update({c: x for c, x in _extra_of(v).items() if c not in row})
        res[str(k)] = row
        g = row["gender"]
        if g not in ("m", "f", ""):
            raise EvaluationError(f"identity {k!r}: gender {g!r} must be 'm', 'f' or empty")
    return res


def attribute_columns(attrs: Attributes) -> list[str]:
    """Every column any identity has a value for (known columns first)."""
    cols = list(ATTRS)
    for row in attrs.values():
        cols.extend(c for c in row if c not in cols)
    return cols


def embeddings_hash(e: Embeddings) -> str:
    """sha256 over ids, identities and vector bytes (independent of the file container)."""
    h = hashlib.sha256()
    h.update("\n".join(e.ids.tolist()).encode() + b"\0")
    h.update("\n".join(e.identities.tolist()).encode() + b"\0")
    vec = np.ascontiguousarray(e.vectors)
    h.update(vec.data.cast("B") if vec.size else b"")  # = tobytes(), without a copy
    return h.hexdigest()


def restrict(e: Embeddings, keep: set[str]) -> Embeddings:
    """Only the items of identities in ``keep``."""
    m = np.isin(e.identities, list(keep))
    return Embeddings(e.ids[m], e.identities[m], e.vectors[m], e.modality, dict(e.meta))


def apply_split(
    voices: Embeddings, faces: Embeddings, identities: Any, split: str
) -> tuple[Embeddings, Embeddings]:
    """Keep only items of identities in ``split`` of the manifest (no-op for ``split=""``)."""
    if not split:
        return voices, faces
    if not hasattr(identities, "identities"):
        raise EvaluationError(f"protocol.split={split!r} needs a manifest with splits")
    keep = {i.id for i in identities.identities if i.split == split}
    if not keep:
        known = sorted({i.split for i in identities.identities})
        raise EvaluationError(f"the manifest has no identity in split {split!r}; splits: {known}")
    return restrict(voices, keep), restrict(faces, keep)
