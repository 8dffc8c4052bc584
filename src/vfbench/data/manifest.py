"""Typed, versioned manifests: identities, voice items and face items.

On disk a manifest is a folder::

    manifest.json    schema version, name, media roots, free-form meta
    identities.csv   id,gender,nationality,language,split,voice_source_id,face_source_id
                     [,extra columns ...]  (schema 2: any further column, e.g. source)
    voices.csv       id,identity,path,duration,sample_rate,session,language
    faces.csv        id,identity,path,width,height,source_video

Media paths are relative to ``voice_root`` / ``face_root`` and may not escape them.
Roots are stored relative to the manifest folder when they lie inside it, else absolute.
Loading checks the schema version, the header of every CSV and the type of every field,
and a bad record raises :class:`ManifestError` naming the file and line.

Schema history: 1 = the fixed columns; 2 = ``identities.csv`` may carry extra columns
(``Identity.extra``: column -> value, e.g. ``source``, ``corpus``, ``channel``). Version 1
manifests still load (with no extra columns); this version writes 2.

Split names: ``train``, ``val`` and ``test`` (:data:`KNOWN_SPLITS`); recipes accept the
aliases in :data:`SPLIT_ALIASES` and refuse other names unless custom splits are allowed
explicitly; ``vfbench data validate`` warns about unknown ones (``unknown_split``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from vfbench.errors import ManifestError
from vfbench.utils.io import atomic_write_json, atomic_write_text, read_text_file, resolve_under

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
GENDERS = ("m", "f", "")  # "" = unknown
MODALITIES = ("voice", "face")
KNOWN_SPLITS = ("train", "val", "test")
#: Accepted spellings of the known splits (any case); anything else is a custom split.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


def normalise_split(raw: str) -> str | None:
    """``"train"``/``"val"``/``"test"`` for a known name or alias (any case), ``""`` for an
    empty one, None for anything else (a custom or misspelt split such as ``tset``)."""
    s = raw.strip().lower()
    if not s:
        return ""
    return SPLIT_ALIASES.get(s)


@dataclass(frozen=True)
class Identity:
    """A person. ``gender`` is "m", "f" or "" (unknown); ``split`` e.g. train/val/test.

    ``extra`` holds any further metadata column (column name -> value, e.g.
    ``{"source": "news", "channel": "studio"}``), saved as extra CSV columns.
    """

    id: str
    gender: str = ""
    nationality: str = ""
    language: str = ""
    split: str = ""
    voice_source_id: str = ""  # e.g. VoxCeleb id "id10001"
    face_source_id: str = ""  # e.g. VGGFace1 name "A.J._Buckley" or VGGFace2 "n000012"
    extra: dict[str, str] = field(default_factory=dict, hash=False)

    FILE: ClassVar[str] = "identities.csv"


#: The fixed columns of identities.csv, in order (extra columns follow them).
IDENTITY_COLUMNS = (
    "id",
    "gender",
    "nationality",
    "language",
    "split",
    "voice_source_id",
    "face_source_id",
)


def check_extra_column(name: str) -> str | None:
    """Why ``name`` cannot be an extra identity column, or None if it can."""
    if not name:
        return "an empty column name"
    if name in IDENTITY_COLUMNS or name == "extra":
        return f"{name!r} is a built-in column"
    if name != name.strip() or any(c in name for c in ',\n\r"'):
        return f"column name {name!r} has spaces at its ends, a comma, quote or line break"
    return None


@dataclass(frozen=True)
class VoiceItem:
    """One audio clip. ``duration`` in seconds and ``sample_rate`` in Hz (0 = unknown)."""

    id: str
    identity: str
    path: str
    duration: float = 0.0
    sample_rate: int = 0
    session: str = ""  # source video / recording session
    language: str = ""

    FILE: ClassVar[str] = "voices.csv"


@dataclass(frozen=True)
class FaceItem:
    """One face image; ``width``/``height`` in pixels (0 = unknown)."""

    id: str
    identity: str
    path: str
    width: int = 0
    height: int = 0
    source_video: str = ""

    FILE: ClassVar[str] = "faces.csv"


R = TypeVar("R", Identity, VoiceItem, FaceItem)


def _columns(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "extra"]


def extra_columns(identities: Iterable[Identity]) -> list[str]:
    """Names of the extra columns used by any identity, in first-seen order."""
    seen: dict[str, None] = {}
    for i in identities:
        for k in i.extra:
            seen.setdefault(k, None)
    return list(seen)


def write_records(path: str | Path, records: Iterable[Any], cls: type) -> None:
    """Write dataclass records as a CSV with a header, atomically.

    Identities' ``extra`` values become further columns after the fixed ones (empty where
    an identity has no value).
    """
    records = list(records)
    buf = io.StringIO()
    cols = _columns(cls)
    extras = extra_columns(records) if cls is Identity else []
    for k in extras:
        why = check_extra_column(k)
        if why:
            raise ManifestError(f"cannot write extra column: {why}", path)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols + extras)
    for r in records:
        row = [_fmt(getattr(r, c)) for c in cols]
        if extras:
            row += [str(r.extra.get(k, "")) for k in extras]
        w.writerow(row)
    atomic_write_text(path, buf.getvalue())


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return repr(round(v, 6))
    return str(v)


def read_records(path: str | Path, cls: type[R], *, allow_extra: bool = False) -> list[R]:
    """Read a CSV written by :func:`write_records`, validating header and field types.

    ``allow_extra`` (identities of schema 2): unknown columns go into ``Identity.extra``.
    """
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"missing {cls.FILE}", path)
    types = {f.name: f.type for f in dataclasses.fields(cls) if f.name != "extra"}
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    out: list[R] = []
    reader = csv.reader(io.StringIO(read_text_file(path, cls.FILE), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ManifestError("empty file (no header)", path, 1) from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in types]
    if unknown and not allow_extra:
        raise ManifestError(f"unknown column {unknown[0]!r}; expected {_columns(cls)}", path, 1)
    for k in unknown:
        why = check_extra_column(k)
        if why:
            raise ManifestError(f"bad extra column: {why}", path, 1)
    dup = [h for h in set(header) if header.count(h) > 1]
    if dup:
        raise ManifestError(f"column {dup[0]!r} appears twice in the header", path, 1)
    missing = [c for c in required if c not in header]
    if missing:
        raise ManifestError(f"missing column {missing[0]!r}", path, 1)
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ManifestError(f"expected {len(header)} fields, found {len(row)}", path, lineno)
        kwargs: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for name, raw in zip(header, row, strict=True):
            raw = raw.strip()
            if name not in types:
                extra[name] = raw
                continue
            tp = types[name]
            try:
                if tp in ("float", float):
                    kwargs[name] = float(raw) if raw else 0.0
                elif tp in ("int", int):
                    kwargs[name] = int(raw) if raw else 0
                else:
                    kwargs[name] = raw
            except ValueError:
                raise ManifestError(
                    f"field {name!r}: {raw!r} is not a number", path, lineno
                ) from None
        for name in required:
            if not kwargs.get(name):
                raise ManifestError(f"field {name!r} is empty", path, lineno)
        if extra:
            kwargs["extra"] = extra
        rec = cls(**kwargs)
        if isinstance(rec, Identity) and rec.gender not in GENDERS:
            raise ManifestError(f"gender {rec.gender!r} must be 'm', 'f' or empty", path, lineno)
        out.append(rec)
    return out


@dataclass
class Manifest:
    """Identities + voice and face items of one corpus, with the roots their paths live under."""

    identities: list[Identity]
    voices: list[VoiceItem]
    faces: list[FaceItem]
    voice_root: Path | None = None
    face_root: Path | None = None
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    # ---- lookups -------------------------------------------------------------------
    def identity_map(self) -> dict[str, Identity]:
        return {i.id: i for i in self.identities}

    def voice_path(self, item: VoiceItem) -> Path:
        """Absolute path of a voice item, refusing paths that escape ``voice_root``."""
        if self.voice_root is None:
            raise ManifestError(f"manifest {self.name!r} has no voice_root")
        return resolve_under(self.voice_root, item.path)

    def face_path(self, item: FaceItem) -> Path:
        """Absolute path of a face item, refusing paths that escape ``face_root``."""
        if self.face_root is None:
            raise ManifestError(f"manifest {self.name!r} has no face_root")
        return resolve_under(self.face_root, item.path)

    def splits(self) -> list[str]:
        return sorted({i.split for i in self.identities})

    def extra_columns(self) -> list[str]:
        """Names of the extra identity columns (beyond :data:`IDENTITY_COLUMNS`)."""
        return extra_columns(self.identities)

    def identity_columns(self) -> list[str]:
        """Every identity column: the fixed ones, then the extra ones."""
        return [*IDENTITY_COLUMNS, *self.extra_columns()]

    def identity_column(self, name: str) -> dict[str, str]:
        """Identity id -> value of column ``name`` (built-in, e.g. ``gender``/``split``, or
        extra, e.g. ``source``); ``""`` where an identity has no value.

        Raises :class:`ManifestError` naming the column and the available ones if no
        identity column has that name. A duplicated identity row: the first one counts.
        """
        cols = self.identity_columns()
        if name not in cols:
            raise ManifestError(
                f"manifest {self.name!r} has no identity column {name!r}; available: "
                f"{', '.join(cols)}"
            )
        out: dict[str, str] = {}
        builtin = name in IDENTITY_COLUMNS
        for i in self.identities:
            if i.id not in out:
                out[i.id] = str(getattr(i, name)) if builtin else i.extra.get(name, "")
        return out

    def subset(
        self, identities: Iterable[str] | None = None, split: str | Sequence[str] | None = None
    ) -> Manifest:
        """The manifest restricted to some identities and/or split(s)."""
        keep = set(self.identity_map()) if identities is None else set(identities)
        if split is not None:
            wanted = {split} if isinstance(split, str) else set(split)
            keep = {i.id for i in self.identities if i.id in keep and i.split in wanted}
        return Manifest(
            identities=[i for i in self.identities if i.id in keep],
            voices=[v for v in self.voices if v.identity in keep],
            faces=[f for f in self.faces if f.identity in keep],
            voice_root=self.voice_root,
            face_root=self.face_root,
            name=self.name,
            meta=dict(self.meta),
        )

    # ---- persistence ---------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the manifest folder atomically file by file; returns the folder."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_records(d / Identity.FILE, self.identities, Identity)
        write_records(d / VoiceItem.FILE, self.voices, VoiceItem)
        write_records(d / FaceItem.FILE, self.faces, FaceItem)
        atomic_write_json(
            d / "manifest.json",
            {
                "schema_version": SCHEMA_VERSION,
                "name": self.name,
                "voice_root": _root_ref(self.voice_root, d),
                "face_root": _root_ref(self.face_root, d),
                "counts": {
                    "identities": len(self.identities),
                    "voices": len(self.voices),
                    "faces": len(self.faces),
                },
                "meta": self.meta,
            },
        )
        return d

    @classmethod
    def load(cls, directory: str | Path) -> Manifest:
        return load_manifest(directory)


def _root_ref(root: Path | None, manifest_dir: Path) -> str | None:
    if root is None:
        return None
    root = Path(root).resolve()
    try:
        return (
            os.path.relpath(root, manifest_dir.resolve())
            if manifest_dir.resolve() in [root, *root.parents]
            else str(root)
        )
    except ValueError:
        return str(root)


def load_manifest(directory: str | Path) -> Manifest:
    """Load and type-check a manifest folder written by :meth:`Manifest.save`."""
    d = Path(directory)
    mj = d / "manifest.json"
    if not d.exists():
        raise ManifestError("manifest folder not found", d)
    if not d.is_dir():
        raise ManifestError("is a file, not a manifest folder", d)
    if not mj.is_file():
        raise ManifestError("not a manifest folder (no manifest.json)", d)
    try:
        info = json.loads(read_text_file(mj, "manifest.json"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"not valid JSON: {exc.msg}", mj, exc.lineno) from None
    if not isinstance(info, dict):
        raise ManifestError("top level must be an object", mj)
    version = info.get("schema_version")
    if version not in READABLE_SCHEMAS:
        raise ManifestError(
            f"schema_version {version!r} is not supported (this vfbench reads "
            f"{', '.join(map(str, READABLE_SCHEMAS))})",
            mj,
        )

    def root(key: str) -> Path | None:
        v = info.get(key)
        if v is None:
            return None
        p = Path(v)
        return (p if p.is_absolute() else (d / p)).resolve()

    return Manifest(
        identities=read_records(d / Identity.FILE, Identity, allow_extra=version >= 2),
        voices=read_records(d / VoiceItem.FILE, VoiceItem),
        faces=read_records(d / FaceItem.FILE, FaceItem),
        voice_root=root("voice_root"),
        face_root=root("face_root"),
        name=str(info.get("name", "")),
        meta=dict(info.get("meta") or {}),
    )
