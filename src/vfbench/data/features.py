"""Import pre-extracted feature files as a manifest + feature store (issue 16, item 1).

Most voice-face work today starts from vectors someone already extracted (e.g. a 512-d
utterance-level voice vector and a 4096-d VGGFace vector per item, as in the FAME
baseline). :func:`import_features` turns one voice and one face feature file into

    OUT/manifest/    a normal manifest (identities with splits, voice and face items)
    OUT/features/    the feature store: voice.npz, face.npz (``ids`` (N,), ``vectors``
                     (N, D) float32) and features.json (schema, dims, source hashes)
    OUT/train.yaml   a ready training config (TriNet, heads only, ``precomputed`` encoders)
    OUT/benchmark.yaml   a ``vfbench methods benchmark`` grid over the same features

``vfbench train/embed/methods`` read the store wherever they read a preprocessing cache
(``data.cache = OUT/features``): :func:`vfbench.train.data.load_split` recognises it and
serves the stored vectors, and the ``precomputed`` encoder passes them through unchanged.

Input formats (one row per item; voice dim and face dim may differ):

``.npz``   arrays ``features`` (or ``vectors``/``embeddings``/``feats``/``X``), ``ids``
           (or ``id``/``keys``/``names``), ``identities`` (or ``identity``/``labels``/``y``),
           optional ``languages``;
``.pt``    ``torch.save`` of a dict with the same keys (tensors or lists), or a bare tensor;
``.csv``   a header with ``id``, ``identity`` (optional ``language``) and numeric feature
           columns; or no header at all (every column numeric: the FAME baseline's CSVs);
           ``.tsv`` and ``.txt`` alike, tab-, comma- or (``.txt``) whitespace-separated;
``.npy``   a bare (N, D) array.

:func:`read_vectors_file` is the one reader of users' vector files: ``vfbench embeddings
import`` (:func:`vfbench.evaluate.embeddings.read_vectors`) uses it too.

Files without ids/identities take them from a sidecar list (``--voice-list``): one line
per row, ``id identity [language]``, whitespace or comma separated, an optional header
line starting with ``id``. Optional ``meta.csv`` (as the folder recipe:
``identity,gender,nationality,language,split``) gives identity attributes; identities
without a split get a seeded gender-stratified one.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.config import apply_overrides, read_yaml
from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem
from vfbench.data.recipes.folder import read_folder_meta
from vfbench.data.recipes.splits import split_identities
from vfbench.errors import DataError, ManifestError
from vfbench.utils.io import atomic_save_npz, atomic_write_json, atomic_write_text, sha256_file

STORE_SCHEMA_VERSION = 1
STORE_FILE = "features.json"
STORE_KIND = "vfbench-feature-store"
FORMATS = (".npz", ".npy", ".csv", ".tsv", ".txt", ".pt", ".pth")

_FEATURE_KEYS = ("features", "vectors", "embeddings", "feats", "X", "x")
_ID_KEYS = ("ids", "id", "keys", "names")
_IDENTITY_KEYS = ("identities", "identity", "labels", "y")
_LANGUAGE_KEYS = ("languages", "language")


@dataclass(frozen=True)
class FeatureTable:
    """Rows of one feature file: ``vectors`` (N, D) float32 with ids, identities and
    languages (N,) str ("" = unknown language)."""

    ids: np.ndarray
    identities: np.ndarray
    vectors: np.ndarray
    languages: np.ndarray
    source: str

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


# ----------------------------------------------------------------------------- readers
def _pick(keys: Sequence[str], wanted: tuple[str, ...], path: Path, what: str) -> str | None:
    hits = [k for k in wanted if k in keys]
    if len(hits) > 1:
        raise DataError(f"{path}: both {hits[0]!r} and {hits[1]!r} could be the {what}; keep one")
    return hits[0] if hits else None


def _as_str_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor of integer labels
        x = x.detach().cpu().numpy()
    return np.asarray([str(v) for v in np.asarray(x).reshape(-1).tolist()], dtype=str)


@dataclass(frozen=True)
class RawVectors:
    """What one vectors file holds, unchecked beyond its layout: ``vectors`` (N, D) numeric
    and, where the file names them, ``ids``, ``identities``, ``languages`` (N,)."""

    vectors: np.ndarray
    ids: np.ndarray | None = None
    identities: np.ndarray | None = None
    languages: np.ndarray | None = None


def _from_mapping(d: Mapping[str, Any], path: Path) -> RawVectors:
    keys = list(d)
    fk = _pick(keys, _FEATURE_KEYS, path, "feature matrix")
    ik = _pick(keys, _ID_KEYS, path, "item ids")
    nk = _pick(keys, _IDENTITY_KEYS, path, "identities")
    lk = _pick(keys, _LANGUAGE_KEYS, path, "languages")
    if fk is None:
        rest = [k for k in keys if k not in (ik, nk, lk)]
        if len(rest) != 1:
            raise DataError(
                f"{path}: no feature matrix; expected one of {list(_FEATURE_KEYS)}, found {keys}"
            )
        fk = rest[0]  # the file's only array is the matrix

    def strs(k: str | None) -> np.ndarray | None:
        return None if k is None else _as_str_array(d[k])

    vec = d[fk]
    if hasattr(vec, "detach"):
        vec = vec.detach().float().cpu().numpy()
    return RawVectors(np.asarray(vec), strs(ik), strs(nk), strs(lk))


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


_META_COLUMNS = ("id", "identity", "language")


def _read_table(path: Path) -> RawVectors:
    """CSV (``,``) or TSV (tab; ``.tsv``/``.txt`` with tabs): a header naming ``id``,
    ``identity``, ``language`` (each optional) and numeric columns, or no header at all
    (every column numeric: the FAME baseline's CSVs). Cells are converted in one vectorised
    pass; a bad cell is then located and named with its line and column."""
    text = path.read_text(encoding="utf-8-sig")
    head = text[:4096]
    if path.suffix.lower() in (".tsv", ".txt") and "\t" in head:
        delim: str | None = "\t"
    elif path.suffix.lower() == ".txt" and "," not in head:
        delim = None  # whitespace-separated text
    else:
        delim = ","
    if delim is None:
        lines = list(enumerate((ln.split() for ln in text.splitlines()), 1))
    else:
        lines = list(enumerate(csv.reader(text.splitlines(), delimiter=delim), 1))
    rows = [(n, [c.strip() for c in r]) for n, r in lines if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: empty vectors file")
    first = rows[0][1]
    numeric = [_is_number(c) for c in first]
    named = [c.lower() for c in first]
    if all(numeric):
        header: list[str] = []
    elif any(c in _META_COLUMNS for c in named) or not any(numeric):
        header = named
    else:
        raise DataError(
            f"{path}:{rows[0][0]}: the first row mixes text and numbers but names no "
            f"{'/'.join(_META_COLUMNS)} column; add a header row (e.g. id,identity,d0,d1,...)"
        )
    body = rows[1:] if header else rows
    if not body:
        raise DataError(f"{path}: a header row but no vectors")
    meta = {c: header.index(c) for c in _META_COLUMNS if c in header}
    cols = [k for k in range(len(first)) if k not in meta.values()]
    if not cols:
        raise DataError(f"{path}: no feature columns")
    for n, r in body:
        if len(r) != len(first):
            raise DataError(f"{path}:{n}: expected {len(first)} fields, found {len(r)}")
    cells = np.asarray([r for _, r in body], dtype=str).reshape(len(body), len(first))
    try:
        vec = cells[:, cols].astype(np.float64)
    except ValueError:
        for n, r in body:
            for k in cols:
                if not _is_number(r[k]):
                    raise DataError(
                        f"{path}:{n}: column {k + 1} value {r[k]!r} is not a number "
                        "(name id / identity / language columns in a header row)"
                    ) from None
        raise

    def col(name: str) -> np.ndarray | None:
        return cells[:, meta[name]] if name in meta else None

    return RawVectors(vec, col("id"), col("identity"), col("language"))


def read_vectors_file(path: str | Path) -> RawVectors:
    """The one reader of users' vector files (``vfbench data import-features`` and
    ``vfbench embeddings import``): the matrix and whatever ids / identities / languages the
    file names, with a :class:`DataError` naming the file for an unreadable or
    wrongly shaped file. Formats: :data:`FORMATS` (module docstring); ``.pt`` is read with
    ``weights_only=True`` (never unpickling code)."""
    p = Path(path)
    if p.is_dir():
        raise DataError(f"{p}: is a directory, expected a vectors file")
    if not p.is_file():
        raise DataError(f"{p}: vectors file not found")
    ext = p.suffix.lower()
    if ext not in FORMATS:
        raise DataError(f"{p}: unknown vectors format {ext!r}; use one of {list(FORMATS)}")
    try:
        if ext == ".npz":
            if not zipfile.is_zipfile(p):  # np.load would blame "pickled data"
                raise DataError(f"{p}: cannot read vectors (not a .npz archive: not a zip file)")
            with np.load(p, allow_pickle=False) as z:
                raw = _from_mapping({k: z[k] for k in z.files}, p)
        elif ext == ".npy":
            raw = RawVectors(np.load(p, allow_pickle=False))
        elif ext in (".csv", ".tsv", ".txt"):
            raw = _read_table(p)
        else:
            import torch

            obj = torch.load(p, map_location="cpu", weights_only=True)
            raw = _from_mapping(obj, p) if isinstance(obj, dict) else _from_mapping({"x": obj}, p)
    except DataError:
        raise
    except Exception as exc:  # numpy / torch / zip raise many types for a bad file
        raise DataError(f"{p}: cannot read vectors ({type(exc).__name__}: {exc})") from None
    vec = raw.vectors
    if vec.dtype.kind not in "fiu":
        raise DataError(f"{p}: vectors have dtype {vec.dtype}, expected numbers")
    if vec.ndim != 2 or vec.shape[1] < 1:
        raise DataError(f"{p}: vectors must be a 2-D (items, dim) matrix, got shape {vec.shape}")
    return raw


def read_id_list(path: str | Path) -> tuple[list[str], list[str], list[str]]:
    """A sidecar list: ``id identity [language]`` per line (whitespace or commas); an
    optional first line starting with ``id`` is a header. Returns (ids, identities, langs)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: id list not found")
    ids: list[str] = []
    idents: list[str] = []
    langs: list[str] = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if lineno == 1 and parts[0].lower() == "id":
            continue
        if len(parts) not in (2, 3):
            raise DataError(
                f"{p}:{lineno}: expected 'id identity [language]', found {len(parts)} fields"
            )
        ids.append(parts[0])
        idents.append(parts[1])
        langs.append(parts[2] if len(parts) == 3 else "")
    return ids, idents, langs


def read_feature_file(
    path: str | Path,
    id_list: str | Path | None = None,
    *,
    rows: tuple[Sequence[str], Sequence[str], Sequence[str]] | None = None,
) -> FeatureTable:
    """Read one feature file (+ optional sidecar id list) and check it thoroughly.

    ``rows`` = (ids, identities, languages) given directly instead of a sidecar list.
    Raises :class:`DataError` naming the file for: an unknown format, a matrix that is not
    2-D, a row count that differs from the number of ids/identities, NaN/inf values (with
    the row and id), duplicate ids (with both rows), empty ids or identities.
    """
    p = Path(path)
    raw = read_vectors_file(p)
    vec = raw.vectors
    ids: Sequence[str] | np.ndarray | None = raw.ids
    idents: Sequence[str] | np.ndarray | None = raw.identities
    langs: Sequence[str] | np.ndarray | None = raw.languages
    n = vec.shape[0]
    where = str(p)
    if rows is not None:
        ids, idents, langs = rows
    elif id_list is not None:
        if ids is not None or idents is not None:
            raise DataError(
                f"{p}: the file already holds ids/identities; drop the sidecar list {id_list}"
            )
        ids, idents, langs = read_id_list(id_list)
        where = f"{p} with list {id_list}"
    if ids is None or idents is None:
        missing = "ids" if ids is None else "identities"
        raise DataError(
            f"{p}: no item {missing} in the file; give a sidecar list "
            "('id identity [language]' per row)"
        )
    ids_a, idents_a = _as_str_array(ids), _as_str_array(idents)
    langs_a = (
        _as_str_array(langs) if langs is not None else np.full(n, "", dtype=object).astype(str)
    )
    for what, arr in (("ids", ids_a), ("identities", idents_a), ("languages", langs_a)):
        if len(arr) != n:
            raise DataError(
                f"{where}: {n} feature rows but {len(arr)} {what}; they must match row for row"
            )
    vec = vec.astype(np.float32, copy=False)
    finite = np.isfinite(vec).all(axis=1)
    if not finite.all():
        r = int(np.argmin(finite))
        raise DataError(
            f"{p}: row {r} (id {str(ids_a[r])!r}) has NaN/inf values "
            f"({int((~finite).sum())} bad rows in all)"
        )
    blank_id = np.char.str_len(np.char.strip(ids_a)) == 0
    if blank_id.any():
        raise DataError(f"{where}: row {int(np.argmax(blank_id))} has an empty id")
    blank = np.char.str_len(np.char.strip(idents_a)) == 0
    if blank.any():
        k = int(np.argmax(blank))
        raise DataError(f"{where}: row {k} (id {str(ids_a[k])!r}) has no identity")
    uniq, counts = np.unique(ids_a, return_counts=True)
    if (counts > 1).any():
        dup = uniq[int(np.argmax(counts > 1))]
        two = np.flatnonzero(ids_a == dup)[:2].tolist()
        raise DataError(f"{where}: id {str(dup)!r} appears twice (rows {two[0]} and {two[1]})")
    return FeatureTable(ids_a, idents_a, vec, langs_a, str(p))


# ------------------------------------------------------------------------------- store
@dataclass
class FeatureStore:
    """Imported vectors by modality: ``ids`` (N,) and ``vectors`` (N, D) float32."""

    directory: Path
    info: dict[str, Any]
    _tables: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def open(cls, directory: str | Path) -> FeatureStore:
        d = Path(directory)
        f = d / STORE_FILE
        if not f.is_file():
            raise DataError(
                f"{d}: not a feature store (no {STORE_FILE}; run vfbench data import-features)"
            )
        try:
            info = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{f}: not valid JSON ({exc.msg})") from None
        if info.get("kind") != STORE_KIND or info.get("schema_version") != STORE_SCHEMA_VERSION:
            raise DataError(
                f"{f}: kind/schema {info.get('kind')!r}/{info.get('schema_version')!r} is not "
                f"{STORE_KIND!r}/{STORE_SCHEMA_VERSION}"
            )
        return cls(d, info)

    def dim(self, modality: str) -> int:
        return int(self.info[modality]["dim"])

    def table(self, modality: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of ``modality``, loaded once."""
        if modality not in self._tables:
            p = self.directory / f"{modality}.npz"
            try:
                with np.load(p, allow_pickle=False) as z:
                    self._tables[modality] = (
                        z["ids"].astype(str),
                        z["vectors"].astype(np.float32, copy=False),
                    )
            except (OSError, KeyError, ValueError) as exc:
                raise DataError(f"{p}: cannot read stored features ({exc})") from None
        return self._tables[modality]

    def ids(self, modality: str) -> list[str]:
        return self.table(modality)[0].tolist()

    def vectors(self, modality: str, ids: Sequence[str]) -> np.ndarray:
        """(len(ids), D) vectors of ``ids`` in that order; unknown ids raise DataError."""
        all_ids, vec = self.table(modality)
        index = {k: i for i, k in enumerate(all_ids.tolist())}
        missing = [i for i in ids if i not in index]
        if missing:
            raise DataError(
                f"{self.directory}: {len(missing)} {modality} ids not in the store, e.g. {missing[0]!r}"
            )
        return vec[[index[i] for i in ids]]


def is_feature_store(directory: str | Path) -> bool:
    """True when ``directory`` holds an imported feature store (not a preprocessing cache)."""
    return (Path(directory) / STORE_FILE).is_file()


def feature_overrides(out: str | Path, voice_dim: int, face_dim: int) -> list[str]:
    """``--set`` overrides that point any training config at an imported folder: its
    manifest and store, ``precomputed`` frozen encoders of the right dims, feature mode,
    no backbone pretraining."""
    o = Path(out).resolve()
    return [
        f"data.manifest={o / 'manifest'}",
        f"data.cache={o / 'features'}",
        "voice.name=precomputed",
        f"voice.kwargs={{dim: {voice_dim}}}",
        "voice.frozen=true",
        "voice.weights=null",
        "face.name=precomputed",
        f"face.kwargs={{dim: {face_dim}}}",
        "face.frozen=true",
        "face.weights=null",
        "feature_mode=true",
        "pretrain.enabled=false",
    ]


# ------------------------------------------------------------------------------ import
@dataclass
class ImportResult:
    out: Path
    manifest: Manifest
    voice_dim: int
    face_dim: int
    dropped: dict[str, list[str]]  # identities with only voices / only faces (dropped)

    def summary(self) -> str:
        m = self.manifest
        splits = {s: sum(i.split == s for i in m.identities) for s in m.splits()}
        text = (
            f"{len(m.identities)} identities {splits}, {len(m.voices)} voices (dim "
            f"{self.voice_dim}), {len(m.faces)} faces (dim {self.face_dim}) -> {self.out}"
        )
        for side, ids in self.dropped.items():
            if ids:
                text += f"\ndropped {len(ids)} identities with {side} only, e.g. {ids[0]!r}"
        return text


def import_features(
    voice: str | Path,
    face: str | Path,
    out: str | Path,
    *,
    voice_list: str | Path | None = None,
    face_list: str | Path | None = None,
    meta: str | Path | None = None,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    name: str = "",
    keep_unpaired: bool = False,
    overwrite: bool = False,
) -> ImportResult:
    """Validate both feature files (and ``meta``) completely, then write OUT atomically.

    Nothing is written when any input is bad. An existing store in ``out`` is refused
    unless ``overwrite``. With ``meta`` every identity of the feature files must be in it
    (else :class:`ManifestError`); identities with only one modality are dropped (listed
    in the result and in ``manifest.meta``) unless ``keep_unpaired``.
    """

    o = Path(out)
    if is_feature_store(o / "features") and not overwrite:
        raise DataError(f"{o}: already holds imported features; pass --overwrite to replace them")
    vt = read_feature_file(voice, voice_list)
    ft = read_feature_file(face, face_list)
    rows = read_folder_meta(meta) if meta is not None else {}
    sources = {
        "voice": {"file": str(Path(voice).resolve()), "sha256": sha256_file(voice)},
        "face": {"file": str(Path(face).resolve()), "sha256": sha256_file(face)},
    }
    return _import_tables(
        vt, ft, o, rows, meta, sources, ratios=ratios, seed=seed, name=name,
        keep_unpaired=keep_unpaired,
    )  # fmt: skip


TRIAL_PREFIX = "trial:"  # item ids of trial-aligned imports: "trial:<trial id>"


def import_trial_features(
    trials: Mapping[str, tuple[Sequence[str], str | Path, str | Path]],
    out: str | Path,
    *,
    name: str = "",
    overwrite: bool = False,
) -> ImportResult:
    """Import test features whose rows follow a trial list (the FAME baseline's
    ``<Lang>_voices_test.csv`` / ``<Lang>_faces_test.csv``: row i = line i of the list).

    ``trials``: language -> (trial ids, voice feature file, face feature file). Each row
    becomes an item ``trial:<trial id>`` of its own unknown identity (the same id) in
    split ``test``, with its language, so ``vfbench embed`` gives embeddings that
    :mod:`vfbench.evaluate.fame` scores trial by trial. A row count that differs from the
    list, a trial id used twice (also across languages), NaN/inf... raise :class:`DataError`.
    """
    o = Path(out)
    if is_feature_store(o / "features") and not overwrite:
        raise DataError(f"{o}: already holds imported features; pass --overwrite to replace them")
    if not trials:
        raise DataError("no trial lists to import")
    tables: dict[str, list[FeatureTable]] = {"voice": [], "face": []}
    sources: dict[str, dict[str, str]] = {"voice": {}, "face": {}}
    for lang, (ids, vfile, ffile) in trials.items():
        item_ids = [f"{TRIAL_PREFIX}{t}" for t in ids]
        rows = (item_ids, item_ids, [lang] * len(item_ids))
        for mod, path in (("voice", vfile), ("face", ffile)):
            tables[mod].append(read_feature_file(path, rows=rows))
            sources[mod][str(Path(path).resolve())] = sha256_file(path)
    vt, ft = (_concat(tables[m]) for m in ("voice", "face"))
    return _import_tables(
        vt, ft, o, {}, None, {m: {"files": json.dumps(sources[m])} for m in sources},
        ratios=(0.0, 0.0, 1.0), seed=0, name=name, keep_unpaired=False, split="test",
    )  # fmt: skip


def _concat(parts: list[FeatureTable]) -> FeatureTable:
    dims = {t.dim for t in parts}
    if len(dims) > 1:
        raise DataError(
            "feature files of one modality differ in dimension: "
            + ", ".join(f"{t.source} ({t.dim})" for t in parts)
        )
    ids = np.concatenate([t.ids for t in parts])
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = str(uniq[int(np.argmax(counts > 1))])
        where = [t.source for t in parts if dup in set(t.ids.tolist())]
        raise DataError(f"trial id {dup[len(TRIAL_PREFIX) :]!r} is used in {' and '.join(where)}")
    return FeatureTable(
        ids,
        np.concatenate([t.identities for t in parts]),
        np.concatenate([t.vectors for t in parts]),
        np.concatenate([t.languages for t in parts]),
        " + ".join(t.source for t in parts),
    )


def _import_tables(
    vt: FeatureTable,
    ft: FeatureTable,
    o: Path,
    rows: dict[str, Any],
    meta: str | Path | None,
    sources: dict[str, dict[str, str]],
    *,
    ratios: Sequence[float],
    seed: int,
    name: str,
    keep_unpaired: bool,
    split: str = "",
) -> ImportResult:
    """The checks and writes shared by the importers (``split``: every identity's split)."""

    all_idents = sorted(set(vt.identities.tolist()) | set(ft.identities.tolist()))
    if meta is not None:
        missing = [i for i in all_idents if i not in rows]
        if missing:
            raise ManifestError(
                f"{len(missing)} identities of the feature files are not in the meta file, "
                f"e.g. {missing[0]!r}",
                meta,
            )
    vs, fs = set(vt.identities.tolist()), set(ft.identities.tolist())
    dropped = {"voices": sorted(vs - fs), "faces": sorted(fs - vs)}
    keep = all_idents if keep_unpaired else sorted(vs & fs)
    if not keep:
        raise DataError(
            f"{vt.source} and {ft.source} share no identity (e.g. voice {str(vt.identities[0])!r}, "
            f"face {str(ft.identities[0])!r}): nothing to pair"
        )
    genders = {i: rows[i].gender for i in keep if i in rows}
    need_split = [i for i in keep if not (i in rows and rows[i].split)]
    if split:
        auto = dict.fromkeys(need_split, split)
    else:
        auto = split_identities(need_split, ratios, seed, genders=genders) if need_split else {}
    # a voice language per identity (its first voice's) when the meta gives none
    ident_lang: dict[str, str] = {}
    for i, lang in zip(vt.identities.tolist(), vt.languages.tolist(), strict=True):
        if lang and i not in ident_lang:
            ident_lang[i] = lang
    identities = [
        Identity(
            id=i,
            gender=rows[i].gender if i in rows else "",
            nationality=rows[i].nationality if i in rows else "",
            language=(rows[i].language if i in rows and rows[i].language else "")
            or ident_lang.get(i, ""),
            split=(rows[i].split if i in rows and rows[i].split else auto[i]),
        )
        for i in keep
    ]
    kept = set(keep)
    vsrc, fsrc = Path(vt.source).name, Path(ft.source).name
    voices = [
        VoiceItem(id=k, identity=i, path=f"{vsrc}#{r}", language=lang)
        for r, (k, i, lang) in enumerate(
            zip(vt.ids.tolist(), vt.identities.tolist(), vt.languages.tolist(), strict=True)
        )
        if i in kept
    ]
    # faces have no language field: like MAV-Celeb, the language is kept as source_video
    faces = [
        FaceItem(id=k, identity=i, path=f"{fsrc}#{r}", source_video=lang)
        for r, (k, i, lang) in enumerate(
            zip(ft.ids.tolist(), ft.identities.tolist(), ft.languages.tolist(), strict=True)
        )
        if i in kept
    ]
    manifest = Manifest(
        identities=identities,
        voices=voices,
        faces=faces,
        name=name or o.resolve().name,
        meta={
            "recipe": "import-features",
            "media": False,  # items are rows of feature files (vfbench data validate)
            "session_scope": "identity",  # no sessions; faces' source_video = language
            "features": sources,
            "dims": {"voice": vt.dim, "face": ft.dim},
            "dropped_unpaired": dropped if not keep_unpaired else {},
            "split_seed": seed,
            "split_ratios": list(ratios),
            **({"face_language": "source_video"} if any(ft.languages) else {}),
        },
    )
    # -- everything checked: write (store first, its index file last) -------------------
    store = o / "features"
    store.mkdir(parents=True, exist_ok=True)
    for mod, t, items in (("voice", vt, voices), ("face", ft, faces)):
        keep_rows = np.isin(t.identities, list(kept))
        atomic_save_npz(store / f"{mod}.npz", ids=t.ids[keep_rows], vectors=t.vectors[keep_rows])
        assert int(keep_rows.sum()) == len(items)
    atomic_write_json(
        store / STORE_FILE,
        {
            "kind": STORE_KIND,
            "schema_version": STORE_SCHEMA_VERSION,
            "voice": {"dim": vt.dim, "n": len(voices), **sources["voice"]},
            "face": {"dim": ft.dim, "n": len(faces), **sources["face"]},
        },
    )
    manifest.save(o / "manifest")
    sets = feature_overrides(o, vt.dim, ft.dim)
    _write_configs(o, sets)
    return ImportResult(o, manifest, vt.dim, ft.dim, dropped if not keep_unpaired else {})


def _write_configs(out: Path, sets: list[str]) -> None:
    """OUT/train.yaml (the TriNet CPU config resolved over the imported features) and
    OUT/benchmark.yaml (every method's CPU config over them)."""
    import yaml

    configs = Path(__file__).resolve().parents[1] / "configs"
    cfg = apply_overrides(
        read_yaml(configs / "methods" / "trinet_cpu.yaml"), [*sets, "name=trinet_features"]
    )
    atomic_write_text(
        out / "train.yaml",
        "# TriNet heads on imported features (written by vfbench data import-features).\n"
        "# Any other method: vfbench train configs/methods/<method>_cpu.yaml with the\n"
        "# --set lines of any row of benchmark.yaml.\n" + yaml.safe_dump(cfg, sort_keys=False),
    )
    # the packaged default grid, each row pointed at the import (row-level overrides, so
    # a grid-wide --set / --quick cannot drop them)
    grid = read_yaml(configs / "methods" / "benchmark_cpu.yaml")
    grid.update(
        name=f"{out.resolve().name}_methods",
        manifest=sets[0].split("=", 1)[1],
        cache=sets[1].split("=", 1)[1],
    )
    grid["rows"] = [{**r, "set": [*r.get("set", []), *sets[2:]]} for r in grid.get("rows", [])]
    atomic_write_text(
        out / "benchmark.yaml",
        "# vfbench methods benchmark --grid OUT/benchmark.yaml --out runs/methods_features\n"
        "# (the packaged default grid, every row on the imported features)\n"
        + yaml.safe_dump(grid, sort_keys=False),
    )
