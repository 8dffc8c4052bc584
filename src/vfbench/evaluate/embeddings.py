"""The embeddings file: the one input every model hands to the evaluation framework.

One ``.npz`` file per modality with arrays::

    schema_version  int, == EMB_SCHEMA_VERSION
    modality        str, "voice" or "face"
    ids             (N,) str   item ids (unique)
    identities      (N,) str   identity of each item
    vectors         (N, D) float32
    meta            str        JSON object (model name, checkpoint hash, config ...)

Identity attributes (gender, nationality, language) come from a manifest passed beside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.utils.io import atomic_save_npz

EMB_SCHEMA_VERSION = 1


@dataclass
class Embeddings:
    """Item embeddings of one modality. ``vectors`` is (N, D) float32."""

    ids: np.ndarray
    identities: np.ndarray
    vectors: np.ndarray
    modality: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids).astype(str)
        self.identities = np.asarray(self.identities).astype(str)
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        if self.modality not in ("voice", "face"):
            raise EvaluationError(f"modality must be 'voice' or 'face', got {self.modality!r}")
        if self.vectors.ndim != 2:
            raise EvaluationError(f"vectors must be 2-D (N, D), got shape {self.vectors.shape}")
        n = self.vectors.shape[0]
        if self.ids.shape != (n,) or self.identities.shape != (n,):
            raise EvaluationError(
                f"ids {self.ids.shape}, identities {self.identities.shape} and vectors {self.vectors.shape} disagree"
            )
        if len(np.unique(self.ids)) != n:
            raise EvaluationError("item ids are not unique")
        if not np.all(np.isfinite(self.vectors)):
            bad = int(np.argmax(~np.isfinite(self.vectors).all(axis=1)))
            raise EvaluationError(f"vector of item {self.ids[bad]!r} has NaN/inf values")

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def save(self, path: str | Path) -> None:
        atomic_save_npz(
            path,
            schema_version=np.array(EMB_SCHEMA_VERSION),
            modality=np.array(self.modality),
            ids=self.ids,
            identities=self.identities,
            vectors=self.vectors,
            meta=np.array(json.dumps(self.meta)),
        )

    @classmethod
    def load(cls, path: str | Path) -> Embeddings:
        p = Path(path)
        if not p.is_file():
            raise EvaluationError(f"{p}: embeddings file not found")
        try:
            with np.load(p, allow_pickle=False) as z:
                keys = set(z.files)
                need = {"schema_version", "modality", "ids", "identities", "vectors"}
                if not need <= keys:
                    raise EvaluationError(
                        f"{p}: not a vfbench embeddings file (missing {sorted(need - keys)})"
                    )
                version = int(z["schema_version"])
                if version != EMB_SCHEMA_VERSION:
                    raise EvaluationError(f"{p}: schema_version {version} is not supported")
                meta = json.loads(str(z["meta"])) if "meta" in keys else {}
                return cls(
                    ids=z["ids"],
                    identities=z["identities"],
                    vectors=z["vectors"],
                    modality=str(z["modality"]),
                    meta=meta,
                )
        except EvaluationError as exc:
            if str(p) in str(exc):
                raise
            raise EvaluationError(f"{p}: {exc}") from None
        except (OSError, ValueError) as exc:
            raise EvaluationError(f"{p}: cannot read embeddings ({exc})") from None
