"""Readers for the real VoxCeleb / VGGFace metadata and split files, quirks included.

Quirks handled (see ``resources/README.md`` and ``../shared/data/README.md``):

* ``vox1_meta.csv`` is TAB-separated despite its name; header names contain spaces
  (``VoxCeleb1 ID``); the DIMNet CSVs spell the same columns with underscores.
* ``vox2_meta.csv`` starts with a UTF-8 BOM, has CRLF line endings, no final newline,
  and every field (header included) ends with a space.
* DIMNet split CSVs (``splits/dimnet/vox1_{train,val,test}.csv``) are CRLF and mark 26
  identities ``Set == none``; SSNet skips them, so the usable sizes are 924/112/189.
* PINs ``identity_splits.txt`` lines end with a space (``A.J._Buckley 1 ``): split on
  any whitespace. Codes: 1 train, 2 val, 4 unseen-unheard test (901/100/250); code 3
  (seen-heard test) is per file in the original and never appears per identity.

Every reader takes an optional path; the default is the packaged copy in
``vfbench/data/resources``. A malformed row raises :class:`ManifestError` with file:line.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from vfbench.errors import ManifestError
from vfbench.utils.io import read_text_file

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DIMNET_SPLITS = ("train", "val", "test")
PINS_CODES = {"1": "train", "2": "val", "4": "test"}


def resource(rel: str) -> Path:
    """Path of a packaged metadata file, e.g. ``resource("vox1_meta.csv")``."""
    p = RESOURCES / rel
    if not p.is_file():
        raise ManifestError("packaged metadata file missing (broken install?)", p)
    return p


def _norm_col(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").replace("_", " ").split()).lower()


def _read_table(
    path: Path, delimiter: str, columns: dict[str, str]
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a delimited file as ``(line number, {key: stripped value})``.

    ``columns`` maps our key -> header name (compared after BOM/space/underscore/case
    normalisation). BOM, CRLF, a missing final newline and padded fields are tolerated.
    """
    text = read_text_file(path, "metadata file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [_norm_col(h) for h in next(reader)]
    except StopIteration:
        raise ManifestError("empty file (no header)", path, 1) from None
    idx: dict[str, int] = {}
    for key, col in columns.items():
        want = _norm_col(col)
        if want not in header:
            sep = "TAB" if delimiter == "\t" else repr(delimiter)
            raise ManifestError(
                f"no column {col!r} in header {header} (fields separated by {sep})", path, 1
            )
        idx[key] = header.index(want)
    out = []
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise ManifestError(f"expected {len(header)} fields, found {len(row)}", path, lineno)
        out.append((lineno, {k: row[i].strip() for k, i in idx.items()}))
    return out


@dataclass(frozen=True)
class VoxMetaRow:
    """One identity of ``vox1_meta.csv`` / ``vox2_meta.csv`` / a DIMNet split CSV.

    ``face_id`` is the VGGFace1 name (VoxCeleb1) or the VGGFace2 id ``n00XXXX``
    (VoxCeleb2); ``set`` is the file's Set column (``dev``/``test``, or ``none``).
    """

    id: str
    face_id: str
    gender: str
    nationality: str
    set: str
    line: int


def _check_gender(path: Path, line: int, ident: str, g: str) -> str:
    g = g.lower()
    if g not in ("m", "f"):
        raise ManifestError(f"identity {ident!r}: gender {g!r} is not m/f", path, line)
    return g


def _unique(rows: list[VoxMetaRow], path: Path) -> list[VoxMetaRow]:
    seen: dict[str, int] = {}
    names: dict[str, int] = {}
    for r in rows:
        if r.id in seen:
            raise ManifestError(
                f"identity {r.id!r} listed twice (first on line {seen[r.id]})", path, r.line
            )
        if r.face_id in names:
            raise ManifestError(
                f"face id {r.face_id!r} listed twice (first on line {names[r.face_id]})",
                path,
                r.line,
            )
        seen[r.id] = r.line
        names[r.face_id] = r.line
    return rows


def read_vox1_meta(path: str | Path | None = None) -> list[VoxMetaRow]:
    """``vox1_meta.csv`` (TAB-separated): 1,251 rows id10001..id11251 <-> VGGFace1 name."""
    p = Path(path) if path is not None else resource("vox1_meta.csv")
    cols = {
        "id": "VoxCeleb1 ID",
        "name": "VGGFace1 ID",
        "gender": "Gender",
        "nat": "Nationality",
        "set": "Set",
    }
    rows = [
        VoxMetaRow(
            r["id"], r["name"], _check_gender(p, ln, r["id"], r["gender"]), r["nat"], r["set"], ln
        )
        for ln, r in _read_table(p, "\t", cols)
    ]
    return _unique(rows, p)


def read_vox2_meta(path: str | Path | None = None) -> list[VoxMetaRow]:
    """``vox2_meta.csv`` (BOM, CRLF, padded fields): 6,114 rows VoxCeleb2 id <-> VGGFace2 id."""
    p = Path(path) if path is not None else resource("vox2_meta.csv")
    cols = {"id": "VoxCeleb2 ID", "face": "VGGFace2 ID", "gender": "Gender", "set": "Set"}
    rows = [
        VoxMetaRow(r["id"], r["face"], _check_gender(p, ln, r["id"], r["gender"]), "", r["set"], ln)
        for ln, r in _read_table(p, ",", cols)
    ]
    return _unique(rows, p)


@dataclass(frozen=True)
class DimnetSplit:
    """The DIMNet/SSNet VoxCeleb1 identity split.

    ``split``: usable id -> train/val/test (924/112/189); ``excluded``: id -> the split
    file it sits in, for the 26 identities marked ``Set == none`` (SSNet skips them).
    """

    split: dict[str, str]
    excluded: dict[str, str]


def read_dimnet_split(folder: str | Path | None = None) -> DimnetSplit:
    """Read ``vox1_{train,val,test}.csv`` from ``folder`` (default: the packaged copies)."""
    d = Path(folder) if folder is not None else RESOURCES / "splits" / "dimnet"
    cols = {"id": "VoxCeleb1 ID", "name": "VGGFace1 ID", "set": "Set"}
    split: dict[str, str] = {}
    excluded: dict[str, str] = {}
    where: dict[str, str] = {}
    for s in DIMNET_SPLITS:
        p = d / f"vox1_{s}.csv"
        for ln, r in _read_table(p, ",", cols):
            ident = r["id"]
            if ident in where:
                raise ManifestError(f"identity {ident!r} is also in {where[ident]}", p, ln)
            where[ident] = f"{p.name}:{ln}"
            if r["set"].lower() == "none":
                excluded[ident] = s
            else:
                split[ident] = s
    return DimnetSplit(split, excluded)


def read_pins_split(path: str | Path | None = None) -> dict[str, str]:
    """PINs ``identity_splits.txt``: VGGFace1 name -> train/val/test (901/100/250)."""
    p = Path(path) if path is not None else RESOURCES / "splits" / "pins" / "identity_splits.txt"
    out: dict[str, str] = {}
    text = read_text_file(p, "split file")
    for ln, line in enumerate(text.splitlines(), start=1):
        parts = line.split()  # lines end with a space: split() not split(" ")
        if not parts:
            continue
        if len(parts) != 2:
            raise ManifestError(f"expected '<VGGFace1 name> <set>', found {line!r}", p, ln)
        name, code = parts
        if code not in PINS_CODES:
            raise ManifestError(
                f"{name!r}: set code {code!r} is not 1 (train), 2 (val) or 4 (unseen-unheard test)",
                p,
                ln,
            )
        if name in out:
            raise ManifestError(f"{name!r} listed twice", p, ln)
        out[name] = PINS_CODES[code]
    return out


def name_key(name: str) -> str:
    """Spelling-tolerant key for a person's name: accents, case, ``_ . - '`` and spaces dropped.

    ``"A.J. Buckley"``, ``"a.j._buckley"`` and ``"AJ_Buckley"`` share a key, so a
    VGGFace folder spelt differently can still be joined (and the join is reported).
    """
    s = unicodedata.normalize("NFKD", name)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return "".join(c for c in s.casefold() if c.isalnum())
