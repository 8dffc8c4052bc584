"""Typed, versioned manifests: identities, voice items and face items.

On disk a manifest is a folder::

    manifest.json    schema version, name, media roots, free-form meta
    identities.csv   id,gender,nationality,language,split,voice_source_id,face_source_id
    voices.csv       id,identity,path,duration,sample_rate,session,language
    faces.csv        id,identity,path,width,height,source_video

Media paths are relative to ``voice_root`` / ``face_root`` and may not escape them.
Roots are stored relative to the manifest folder when they lie inside it, else absolute.
Loading checks the schema version, the header of every CSV and the type of every field,
and a bad record raises :class:`ManifestError` naming the file and line.
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
from vfbench.utils.io import atomic_write_json, atomic_write_text, resolve_under

SCHEMA_VERSION = 1
GENDERS = ("m", "f", "")  # "" = unknown
MODALITIES = ("voice", "face")


@dataclass(frozen=True)
class Identity:
    """A person. ``gender`` is "m", "f" or "" (unknown); ``split`` e.g. train/val/test."""

    id: str
    gender: str = ""
    nationality: str = ""
    language: str = ""
    split: str = ""
    voice_source_id: str = ""  # e.g. VoxCeleb id "id10001"
    face_source_id: str = ""  # e.g. VGGFace1 name "A.J._Buckley" or VGGFace2 "n000012"

    FILE: ClassVar[str] = "identities.csv"


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
    return [f.name for f in dataclasses.fields(cls)]


def write_records(path: str | Path, records: Iterable[Any], cls: type) -> None:
    """Write dataclass records as a CSV with a header, atomically."""
    buf = io.StringIO()
    cols = _columns(cls)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in records:
        w.writerow([_fmt(getattr(r, c)) for c in cols])
    atomic_write_text(path, buf.getvalue())


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return repr(round(v, 6))
    return str(v)


def read_records(path: str | Path, cls: type[R]) -> list[R]:
    """Read a CSV written by :func:`write_records`, validating header and field types."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"missing {cls.FILE}", path)
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    out: list[R] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise ManifestError("empty file (no header)", path, 1) from None
        header = [h.strip() for h in header]
        unknown = [h for h in header if h not in types]
        if unknown:
            raise ManifestError(f"unknown column {unknown[0]!r}; expected {_columns(cls)}", path, 1)
        missing = [c for c in required if c not in header]
        if missing:
            raise ManifestError(f"missing column {missing[0]!r}", path, 1)
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ManifestError(
                    f"expected {len(header)} fields, found {len(row)}", path, lineno
                )
            kwargs: dict[str, Any] = {}
            for name, raw in zip(header, row, strict=True):
                raw = raw.strip()
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
            rec = cls(**kwargs)
            if isinstance(rec, Identity) and rec.gender not in GENDERS:
                raise ManifestError(
                    f"gender {rec.gender!r} must be 'm', 'f' or empty", path, lineno
                )
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
    if not d.is_dir():
        raise ManifestError("manifest folder not found", d)
    if not mj.is_file():
        raise ManifestError("not a manifest folder (no manifest.json)", d)
    try:
        info = json.loads(mj.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"not valid JSON: {exc.msg}", mj, exc.lineno) from None
    if not isinstance(info, dict):
        raise ManifestError("top level must be an object", mj)
    version = info.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"schema_version {version!r} is not supported (this vfbench reads {SCHEMA_VERSION})", mj
        )

    def root(key: str) -> Path | None:
        v = info.get(key)
        if v is None:
            return None
        p = Path(v)
        return (p if p.is_absolute() else (d / p)).resolve()

    return Manifest(
        identities=read_records(d / Identity.FILE, Identity),
        voices=read_records(d / VoiceItem.FILE, VoiceItem),
        faces=read_records(d / FaceItem.FILE, FaceItem),
        voice_root=root("voice_root"),
        face_root=root("face_root"),
        name=str(info.get("name", "")),
        meta=dict(info.get("meta") or {}),
    )
