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
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.errors import DataError, EvaluationError
from vfbench.utils.io import atomic_save_npz, read_npz

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
        uniq, count = np.unique(self.ids, return_counts=True)
        if uniq.size != n:
            dup = uniq[count > 1]
            raise EvaluationError(f"{dup.size} item id(s) are not unique, e.g. {dup[:3].tolist()}")
        finite = np.isfinite(self.vectors).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise EvaluationError(
                f"{bad.size} vector(s) have NaN/inf values, first item {self.ids[bad[0]]!r}"
            )

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
            z = read_npz(p)  # straight into the arrays: no zip CRC pass over the vectors
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise EvaluationError(f"{p}: cannot read embeddings ({exc})") from None
        need = {"schema_version", "modality", "ids", "identities", "vectors"}
        if not need <= set(z):
            raise EvaluationError(
                f"{p}: not a vfbench embeddings file (missing {sorted(need - set(z))})"
            )
        try:
            version = int(z["schema_version"])
            if version != EMB_SCHEMA_VERSION:
                raise EvaluationError(f"{p}: schema_version {version} is not supported")
            meta = json.loads(str(z["meta"])) if "meta" in z else {}
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
        except (TypeError, ValueError) as exc:
            raise EvaluationError(f"{p}: cannot read embeddings ({exc})") from None


# ------------------------------------------------------------------ importing users' vectors


def _read_id_list(path: Path) -> tuple[list[str], list[str] | None]:
    """One id per line, or ``id<sep>identity`` (comma/tab/space); a header ``id,...`` is skipped."""
    if not path.is_file():
        raise EvaluationError(f"{path}: {'is a directory' if path.is_dir() else 'not found'}")
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines()]
    except UnicodeDecodeError:
        raise EvaluationError(f"{path}: not UTF-8 text") from None
    rows = [ln for ln in lines if ln]
    if rows and rows[0].lower().replace("\t", ",").split(",")[0] in ("id", "ids", "item"):
        rows = rows[1:]
    sep = "\t" if rows and "\t" in rows[0] else "," if rows and "," in rows[0] else None
    split = [r.split(sep) if sep else r.split() for r in rows]
    if split and all(len(x) == 1 for x in split):
        return [x[0] for x in split], None
    for i, x in enumerate(split):
        if len(x) != 2:
            raise EvaluationError(
                f"{path}: row {i + 1} has {len(x)} fields; expected 'id' or 'id,identity'"
            )
    return [x[0].strip() for x in split], [x[1].strip() for x in split]


def read_vectors(path: str | Path) -> tuple[np.ndarray, list[str] | None, list[str] | None]:
    """(N, D) vectors and, where the file holds them, ids and identities.

    The one reader of users' vector files (:func:`vfbench.data.features.read_vectors_file`:
    ``.npy``, ``.npz``, ``.csv``/``.tsv``/``.txt`` with an optional header naming
    ``id``/``identity`` columns, ``.pt``/``.pth`` read with ``weights_only=True``); its
    errors are re-raised as :class:`EvaluationError` with the same message.
    """
    # imported here: vfbench.data (manifest) is not on the evaluate path otherwise (start-up)
    from vfbench.data.features import read_vectors_file

    try:
        raw = read_vectors_file(path)
    except DataError as exc:
        raise EvaluationError(str(exc)) from None

    def strs(x: np.ndarray | None) -> list[str] | None:
        return None if x is None else x.tolist()

    return raw.vectors, strs(raw.ids), strs(raw.identities)


def import_vectors(
    vectors: str | Path,
    modality: str,
    ids: str | Path | Sequence[str] | None = None,
    identities: str | Path | Sequence[str] | Mapping[str, str] | None = None,
    identity_from_path: bool = False,
    meta: dict[str, Any] | None = None,
) -> Embeddings:
    """A user's vectors (+ ids + identities) -> :class:`Embeddings`, every problem named.

    ``ids``: a file (one id per line, or ``id,identity``) or a list, unless the vectors file
    holds them. ``identities``: a file, a list (row order), a mapping id -> identity (e.g. a
    manifest's items), or ``identity_from_path`` = the first path component of each id
    (``id10001/1zcIwhmdeo4/00001`` -> ``id10001``). Errors: row-count mismatch, NaN/inf
    rows, duplicate ids, items without an identity.
    """
    vp = Path(vectors)
    vec, file_ids, file_idents = read_vectors(vp)
    n = vec.shape[0]
    id_src, id_list = str(vp), file_ids
    if ids is not None:
        if isinstance(ids, str | Path):
            id_list, more = _read_id_list(Path(ids))
            id_src = str(ids)
            file_idents = more if more is not None else file_idents
        else:
            id_list, id_src = [str(x) for x in ids], "ids"
    if id_list is None:
        raise EvaluationError(f"{vp}: the file holds no ids; pass an ids file (one per line)")
    if len(id_list) != n:
        raise EvaluationError(
            f"{id_src}: {len(id_list)} ids but {vp} holds {n} vectors (row counts must match)"
        )
    arr = np.asarray(id_list, dtype=str)
    uniq, first, count = np.unique(arr, return_index=True, return_counts=True)
    if uniq.size != n:
        dup = uniq[count > 1]
        raise EvaluationError(
            f"{id_src}: {dup.size} id(s) occur more than once, e.g. {dup[:3].tolist()}"
        )
    ident: list[str] | None = file_idents
    ident_src = str(vp) if file_idents is not None else ""
    if isinstance(identities, Mapping):
        ident = [str(identities.get(i, "")) for i in id_list]
        ident_src = "identity map"
    elif isinstance(identities, str | Path):
        more_ids, more = _read_id_list(Path(identities))
        ident_src = str(identities)
        if more is not None:  # id,identity rows: join by id
            table = dict(zip(more_ids, more, strict=True))
            ident = [table.get(i, "") for i in id_list]
        else:
            ident = more_ids
    elif identities is not None:
        ident, ident_src = [str(x) for x in identities], "identities"
    elif identity_from_path:
        ident = [i.split("/", 1)[0] if "/" in i else "" for i in id_list]
        ident_src = "first path component of the ids"
    if ident is None:
        raise EvaluationError(
            f"{vp}: no identities given (pass an identities file, id,identity rows, "
            "a manifest, or take them from the id paths)"
        )
    if len(ident) != n:
        raise EvaluationError(
            f"{ident_src}: {len(ident)} identities but {vp} holds {n} vectors "
            "(row counts must match)"
        )
    missing = [i for i, x in zip(id_list, ident, strict=True) if not x.strip()]
    if missing:
        raise EvaluationError(
            f"{ident_src}: {len(missing)} item(s) have no identity, e.g. {missing[:3]}"
        )
    vec = vec.astype(np.float32)
    bad = ~np.isfinite(vec).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise EvaluationError(
            f"{vp}: {rows.size} vector(s) have NaN/inf values, first row {rows[0] + 1} "
            f"(id {id_list[rows[0]]!r})"
        )
    info = {"imported_from": str(vp), "ids_from": id_src, "identities_from": ident_src}
    return Embeddings(arr, np.asarray(ident, dtype=str), vec, modality, {**info, **(meta or {})})


def check_against_manifest(emb: Embeddings, manifest: Any, where: str = "") -> None:
    """Every item is in the manifest with the same identity; every identity is known.

    Items or identities outside the manifest would be scored without (or with the wrong)
    attributes: the gender-only baseline and the G/N constraints silently change.
    """
    what = emb.modality
    items = manifest.voices if what == "voice" else manifest.faces
    by_id = {it.id: it.identity for it in items}
    known = {i.id for i in manifest.identities}
    src = where or f"{what} embeddings"
    not_in = [i for i in emb.ids.tolist() if i not in by_id]
    if not_in:
        raise EvaluationError(
            f"{src}: {len(not_in)} {what} id(s) are not items of the manifest, e.g. {not_in[:3]}"
        )
    theirs = np.array([by_id[i] for i in emb.ids.tolist()], dtype=str)
    diff = np.flatnonzero(theirs != emb.identities)
    if diff.size:
        ex = ", ".join(
            f"{emb.ids[i]!r} ({emb.identities[i]!r} vs manifest {theirs[i]!r})" for i in diff[:3]
        )
        raise EvaluationError(
            f"{src}: {diff.size} {what} item(s) have another identity than in the manifest, "
            f"e.g. {ex}"
        )
    unknown = sorted(set(emb.identities.tolist()) - known)
    if unknown:
        raise EvaluationError(
            f"{src}: {len(unknown)} identit(ies) are not in the manifest, e.g. {unknown[:3]}"
        )
