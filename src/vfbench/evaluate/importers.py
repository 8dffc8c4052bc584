"""Importers for published trial lists (SSNet, CMPC / Learnable-PINs) -> :class:`TrialSet`.

Formats (see ``shared/data/README.md``); one command imports each, whatever the file name:

=====================  ===============================================================
``matching``           ``<probe> <true candidate> <other candidate(s)>`` per line,
(= ``cmpc-matching``,  whitespace-separated, 3+ columns (1:n with n = columns - 1): CMPC
``ssnet-matching``)    ``matching_{v2f,f2v}_{U,G,N,GN}.csv``, SSNet ``match[_g]_v2f_2_*.txt``
                       or a user's own list. Direction from the columns' modality (file
                       extension), constraint from the file name, else from options
``cmpc-veriflist``     CSV ``id,voice-speaker-id,face-speaker-id,label,voice-path,face-path``;
                       voice paths in the *old* layout ``<name>/<ytid>_<7 digits>.wav``;
                       one trial group per file, constraint from the name
                       (``random`` = U, ``G``, ``N``, ``A`` = age, ``GNA``)
``ssnet-verify``       ``<voice> <face>`` or ``<face> <voice>`` per line, no label: positive
                       iff the voice's VoxCeleb1 id maps to the face's VGGFace1 name
``ssnet-retrieval``    two lines: queries, gallery (voices or faces: detected per line)
``cmpc-retrieval``     ``wav_20k.csv`` + ``jpg_20k.csv`` (TSV ``VoxCeleb1 ID<TAB>path``);
                       imported in both directions
=====================  ===============================================================

**Column modality.** Each column (line, for retrieval) is classified once over its distinct
tokens: by extension (``.wav``/``.m4a``/``.flac``/... = voice, ``.jpg``/``.png``/... = face),
else by membership in the given embeddings, else by the VoxCeleb voice layout
``idNNNNN/...``. A column mixing both raises an error naming the first line that differs.

**Item id mapping.** An item id is the media path relative to its corpus root *without the
extension* - the convention of vfbench manifests (``id10001/1zcIwhmdeo4/00001``,
``A.J._Buckley/00000001``). List paths are converted the way the peers' own loaders do:

* CMPC veriflist voices ``A.R._Rahman/gaQqIoV_aLY_0000001.wav`` ->
  ``id10002/gaQqIoV_aLY/00001`` (name -> id via ``vox1_meta.csv``; last 5 digits);
* CMPC veriflist faces ``<name>/<ytid>/<7 digits>.jpg`` -> ``<name>/1.6/<ytid>/<7 digits>``
  (CMPC inserts the ``1.6`` level of the VoxCeleb1 face-track release);
* everything else: the path minus its extension.

With embeddings given, each list item must be one of their ids; unmapped items raise an
:class:`EvaluationError` naming how many and which (or, with ``drop_unmapped``, the trials
that use them are dropped and counted in the :class:`ImportReport`). Identities then come
from the embeddings. Without embeddings, identities are VoxCeleb1 ids (``id10002``): voice
paths carry them, face names are mapped through ``vox1_meta.csv`` (the packaged copy unless
another is given).

**Speed.** Whitespace lists are parsed without a Python loop per line: the file is split into
tokens in C, the distinct tokens are numbered once (``dict.fromkeys``) and every further step
(modality, id mapping, labels) runs over the distinct tokens only, then is gathered through
the (rows, columns) code array. With ``cache_dir`` the parsed table (distinct tokens + codes)
is stored under the sha256 of the file's bytes, so a second import of the same list only
hashes the file and loads the table (a 1M-trial list: ~0.1 s instead of ~1 s).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.metrics import prefetch_retrieval
from vfbench.evaluate.scoring import prefetch_kernel
from vfbench.evaluate.trials import TrialSet
from vfbench.utils.io import atomic_save_npz, atomic_write_json

IMPORT_FORMATS = (
    "matching",
    "cmpc-matching",
    "ssnet-matching",
    "cmpc-veriflist",
    "ssnet-verify",
    "ssnet-retrieval",
    "cmpc-retrieval",
)
MATCHING_ALIASES = ("matching", "cmpc-matching", "ssnet-matching")
PACKAGED_VOX1_META = Path(__file__).resolve().parents[1] / "data" / "resources" / "vox1_meta.csv"
"""The copy of ``vox1_meta.csv`` shipped in the package (byte-identical to the peers')."""

# direction / constraint spelled in published file names:
#   CMPC   matching_v2f_GN.csv, veriflist_test_G_unseenunheard.txt
#   SSNet  match_g_v2f_2_val.txt, verify_g_f2v_test.txt, reterival_f2v_test.txt
_DIR_IN_NAME = re.compile(r"(?:^|[_\-.])(v2f|f2v)(?=$|[_\-.])")
_CMPC_CONSTRAINT = re.compile(r"(?:^|_)(?:v2f|f2v)_(U|G|N|GN)(?=$|[_.])")
_SSNET_CONSTRAINT = re.compile(r"(?:^|_)(g|n|gn)_(?:v2f|f2v)(?=$|[_.])", re.IGNORECASE)
_VERIF_NAME = re.compile(r"veriflist_(?:[a-z]+_)?(random|G|N|A|GNA)_([a-z]+)", re.IGNORECASE)
_VERIF_CONSTRAINT = {"random": "U", "g": "G", "n": "N", "a": "A", "gna": "GNA"}


def name_direction(name: str) -> str | None:
    """``v2f`` / ``f2v`` when the file name says it, else None."""
    m = _DIR_IN_NAME.search(name)
    return m.group(1) if m else None


def name_constraint(name: str) -> str | None:
    """Distractor constraint spelled in a published list's file name (U/G/N/GN), else None."""
    m = _CMPC_CONSTRAINT.search(name)
    if m:
        return m.group(1)
    m = _SSNET_CONSTRAINT.search(name)
    if m:
        return m.group(1).upper()
    if name_direction(name) and re.match(r"(match|verify|reterival|retrieval)_(v2f|f2v)", name):
        return "U"  # SSNet's unconstrained lists carry no letter
    return None


@dataclass
class Vox1Meta:
    """``vox1_meta.csv``: VoxCeleb1 id <-> VGGFace1 name, gender, nationality."""

    name_to_id: dict[str, str] = field(default_factory=dict)
    id_to_name: dict[str, str] = field(default_factory=dict)
    gender: dict[str, str] = field(default_factory=dict)  # by VoxCeleb1 id
    nationality: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> Vox1Meta:
        p = Path(path)
        if not p.is_file():
            raise EvaluationError(f"{p}: vox1_meta.csv not found")
        m = cls()
        with open(p, encoding="utf-8") as fh:
            header = fh.readline().rstrip("\n").split("\t")
            if len(header) < 4 or not header[0].startswith("VoxCeleb1"):
                raise EvaluationError(
                    f"{p}:1: not a vox1_meta.csv header (tab-separated): {header!r}"
                )
            for lineno, line in enumerate(fh, start=2):
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 4:
                    raise EvaluationError(
                        f"{p}:{lineno}: expected 5 tab-separated fields, got {len(parts)}"
                    )
                vid, name, g, nat = (x.strip() for x in parts[:4])
                m.name_to_id[name] = vid
                m.id_to_name[vid] = name
                m.gender[vid] = g
                m.nationality[vid] = nat
        return m

    def attributes(self) -> dict[str, dict[str, str]]:
        """identity (VoxCeleb1 id) -> {gender, nationality} for :func:`vfbench.evaluate.api.evaluate`."""
        return {
            k: {"gender": self.gender[k], "nationality": self.nationality[k]} for k in self.gender
        }


@dataclass
class ImportReport:
    """What an import did: rows read, trials kept, unmapped items (with examples)."""

    fmt: str
    paths: list[str]
    n_rows: int = 0
    n_kept: int = 0
    n_unmapped_items: int = 0
    unmapped_examples: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)  # trial group -> trials kept
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        s = f"{self.fmt}: {self.n_rows} rows read, {self.n_kept} kept"
        if self.n_unmapped_items:
            s += f"; {self.n_unmapped_items} list items not in the embeddings (e.g. {self.unmapped_examples[:3]})"
        if self.counts:
            s += "; " + ", ".join(f"{k}={v}" for k, v in self.counts.items())
        return s


def strip_ext(path: str) -> str:
    """Item id of a list path: the path without its extension."""
    slash = path.rfind("/")
    dot = path.rfind(".")
    return path[:dot] if dot > slash else path


def cmpc_old_voice_to_id(path: str, meta: Vox1Meta, where: str = "") -> str:
    """``A.R._Rahman/gaQqIoV_aLY_0000001.wav`` -> ``id10002/gaQqIoV_aLY/00001``."""
    name, _, fname = path.partition("/")
    stem = strip_ext(fname)
    if name not in meta.name_to_id:
        raise EvaluationError(f"{where}: voice speaker {name!r} is not in vox1_meta.csv")
    if len(stem) < 13 or stem[11] != "_" or not stem[12:].isdigit():
        raise EvaluationError(
            f"{where}: voice path {path!r} is not <name>/<11-char ytid>_<digits>.wav"
        )
    return f"{meta.name_to_id[name]}/{stem[:11]}/{stem[12:][-5:]}"


def cmpc_face_to_id(path: str) -> str:
    """``<name>/<ytid>/<7 digits>.jpg`` -> ``<name>/1.6/<ytid>/<7 digits>``."""
    parts = strip_ext(path).split("/")
    if len(parts) == 3:
        return "/".join([parts[0], "1.6", parts[1], parts[2]])
    return strip_ext(path)


def _check_list_file(path: Path) -> None:
    if path.is_dir():
        raise EvaluationError(f"{path}: is a directory, expected a trial list file")
    if not path.is_file():
        raise EvaluationError(f"{path}: trial list not found")


def _read_bytes(path: Path) -> bytes:
    _check_list_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot read trial list ({exc.strerror})") from None
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _read_lines(path: Path) -> list[str]:
    data = _read_bytes(path)
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise EvaluationError(f"{path}:{line}: not UTF-8 text") from None


def _split_rows(path: Path, n_fields: int, sep: str | None = None) -> list[list[str]]:
    rows = []
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.split(sep) if sep else line.split()
        if len(parts) != n_fields:
            raise EvaluationError(
                f"{path}:{lineno}: expected {n_fields} fields, found {len(parts)}"
            )
        rows.append([x.strip() for x in parts])
    return rows


# ------------------------------------------------------------------ vectorised table reader
TABLE_CACHE_VERSION = 1


@dataclass
class Table:
    """A whitespace-separated list parsed once: distinct tokens and a (rows, cols) code array.

    ``tokens[codes[r, c]]`` is the token in row ``r`` (blank lines skipped), column ``c``;
    ``sha256`` is the hash of the file's bytes (the cache key).
    """

    tokens: np.ndarray  # (U,) str
    codes: np.ndarray  # (R, C) int32
    sha256: str
    _used: dict[int, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    def column_tokens(self, col: int) -> np.ndarray:
        """(U,) bool: which distinct tokens occur in column ``col`` (computed once; a
        read-only array)."""
        if col not in self._used:
            used = np.zeros(self.tokens.size, bool)
            used[self.codes[:, col]] = True
            used.flags.writeable = False
            self._used[col] = used
        return self._used[col]


def default_cache_dir() -> Path:
    """``$VFBENCH_CACHE/lists``, else ``$XDG_CACHE_HOME/vfbench/lists`` (``~/.cache``)."""
    base = os.environ.get("VFBENCH_CACHE")
    if base:
        return Path(base) / "lists"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "vfbench" / "lists"


def _first_bad_line(path: Path, data: bytes, n_fields: int | None) -> str:
    """Slow path, only after the fast checks failed: the first line with a wrong field count."""
    want = n_fields
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        k = len(line.split())
        if k == 0:
            continue
        if want is None:
            want = k
        elif k != want:
            return f"{path}:{lineno}: expected {want} fields, found {k}"
    return ""


#: a remembered file hash is trusted only for files last changed at least this long before
#: it was recorded (a write within the same timestamp tick cannot hide behind it)
_STAT_SETTLE_NS = 2_000_000_000


def _stat_signature(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _stat_memo(cache_dir: Path, path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return cache_dir / "stat" / f"{key}.json"


def _remembered_digest(cache_dir: Path, path: Path, st: os.stat_result) -> str | None:
    """The sha256 recorded for ``path`` when its size, mtime, ctime, inode and device
    were exactly these (git's index does the same), else None."""
    try:
        memo = json.loads(_stat_memo(cache_dir, path).read_text())
        if memo.get("stat") == _stat_signature(st) and memo.get("path") == str(path.resolve()):
            digest = str(memo["sha256"])
            return digest if len(digest) == 64 else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # no memo, or a damaged one: hash the file
    return None


def _remember_digest(cache_dir: Path, path: Path, st: os.stat_result, digest: str) -> None:
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < _STAT_SETTLE_NS:
        return  # changed just now: a second write in the same tick would keep the stat
    memo = {"path": str(path.resolve()), "stat": _stat_signature(st), "sha256": digest}
    try:
        atomic_write_json(_stat_memo(cache_dir, path), memo)
    except OSError:
        pass  # the memo only saves time


def _load_cached_table(cached: Path, digest: str, n_fields: int | None) -> Table | None:
    try:
        with np.load(cached, allow_pickle=False) as z:
            tab = Table(z["tokens"], z["codes"], digest)
        if (n_fields is None or tab.codes.shape[1] == n_fields) and tab.codes.ndim == 2:
            return tab
    except (OSError, ValueError, KeyError):
        pass  # a damaged cache entry is rebuilt
    return None


def read_table(
    path: str | Path,
    n_fields: int | None = None,
    min_fields: int = 1,
    cache_dir: str | Path | None = None,
) -> Table:
    """Parse a whitespace-separated list (``n_fields`` per line, or as many as line 1 has).

    Raises :class:`EvaluationError` naming the file and the first bad line. With
    ``cache_dir``, the parsed table is read from / written to ``<sha256>.npz`` there, and
    the file's sha256 is remembered beside its size, mtime, ctime and inode
    (``stat/<path key>.json``): while those are unchanged, a cache hit neither reads nor
    hashes the list (a 1M-trial list: ~0.2 s saved).
    """
    p = Path(path)
    cdir = Path(cache_dir) if cache_dir else None
    st = None
    if cdir is not None:
        _check_list_file(p)
        st = p.stat()
        known = _remembered_digest(cdir, p, st)
        hit = cdir / f"{known}.v{TABLE_CACHE_VERSION}.npz" if known else None
        if hit is not None and hit.is_file():
            tab = _load_cached_table(hit, str(known), n_fields)
            if tab is not None:
                return tab
    data = _read_bytes(p)
    digest = hashlib.sha256(data).hexdigest()
    if cdir is not None and st is not None and _stat_signature(p.stat()) == _stat_signature(st):
        _remember_digest(cdir, p, st, digest)
    cached = cdir / f"{digest}.v{TABLE_CACHE_VERSION}.npz" if cdir is not None else None
    if cached is not None and cached.is_file():
        tab = _load_cached_table(cached, digest, n_fields)
        if tab is not None:
            return tab
    toks = data.split()
    if not toks:
        raise EvaluationError(f"{p}: trial list is empty")
    nl = data.count(b"\n") + (not data.endswith(b"\n"))
    blank = data.count(b"\n\n") + data.count(b"\n\r\n") + data.startswith((b"\n", b"\r\n"))
    lines = nl - blank
    width = n_fields if n_fields is not None else len(data[: data.find(b"\n")].split())
    if width == 0 or len(toks) != width * lines:
        msg = _first_bad_line(p, data, n_fields)
        if msg:
            raise EvaluationError(msg)
        width = n_fields or len(next(ln for ln in data.split(b"\n") if ln.split()).split())
        if len(toks) % width:
            raise EvaluationError(f"{p}: {len(toks)} fields do not form rows of {width}")
    if width < min_fields:
        raise EvaluationError(f"{p}:1: expected at least {min_fields} fields, found {width}")
    distinct = dict.fromkeys(toks)
    number = {k: i for i, k in enumerate(distinct)}
    codes = np.fromiter(map(number.__getitem__, toks), np.int32, len(toks)).reshape(-1, width)
    try:
        tokens = np.array([k.decode("utf-8") for k in distinct], dtype=str)
    except UnicodeDecodeError:
        raise EvaluationError(f"{p}: not UTF-8 text") from None
    tab = Table(tokens, codes, digest)
    if cached is not None:
        try:
            atomic_save_npz(cached, tokens=tab.tokens, codes=tab.codes)
        except OSError:
            pass  # the cache only saves time; a read-only cache folder is not an error
    return tab


VOICE_EXTS = frozenset({".wav", ".m4a", ".flac", ".mp3", ".ogg", ".opus", ".aac", ".npy"})
FACE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"})
_VOX_VOICE = re.compile(r"id\d{5}/")


_MODALITIES = np.array(["", "voice", "face"])  # token modality codes 0 / 1 / 2


def _modality_codes(
    tokens: Sequence[str] | np.ndarray,
    voices: Embeddings | None = None,
    faces: Embeddings | None = None,
) -> np.ndarray:
    """(U,) int8 modality code of each token (index into :data:`_MODALITIES`); see
    :func:`token_modality`. One pass over the tokens' extensions (a dict look-up each)."""
    arr = np.asarray(tokens, dtype=str)
    exts = {e: 1 for e in VOICE_EXTS} | {e: 2 for e in FACE_EXTS}
    items = arr.tolist()
    out = np.fromiter(
        (exts.get(t[t.rfind(".") :].lower(), 0) if "." in t else 0 for t in items),
        np.int8,
        len(items),
    )
    rest = np.flatnonzero(out == 0)
    if rest.size:  # no media extension: the embeddings, then the VoxCeleb voice layout
        vset = set(voices.ids.tolist()) if voices is not None else set()
        fset = set(faces.ids.tolist()) if faces is not None else set()
        for i in rest.tolist():
            t = items[i]
            item = strip_ext(t)
            in_v, in_f = item in vset, item in fset
            if in_v != in_f:
                out[i] = 1 if in_v else 2
            else:
                out[i] = 1 if _VOX_VOICE.match(t) else 0
    return out


def token_modality(
    tokens: Sequence[str] | np.ndarray,
    voices: Embeddings | None = None,
    faces: Embeddings | None = None,
) -> np.ndarray:
    """(U,) str: ``voice`` / ``face`` / ``""`` (unknown) for each list token.

    By extension first (case-insensitive); then by membership in the given embeddings (path
    without extension); then the VoxCeleb voice layout ``idNNNNN/...`` = voice.
    """
    return _MODALITIES[_modality_codes(tokens, voices, faces)]


def column_modality(
    path: Path, tab: Table, col: int, tok_mod: np.ndarray, what: str = "column"
) -> str:
    """The one modality of column ``col`` (``""``: unknown); an error names the first row
    that disagrees with row 1. ``tok_mod``: per-token modality codes
    (:func:`_modality_codes`)."""
    codes = tok_mod
    present = tab.column_tokens(col)
    kinds = {int(k) for k in np.flatnonzero(np.bincount(codes[present], minlength=3))}
    if kinds == {1} or kinds == {2}:
        return str(_MODALITIES[kinds.pop()])
    if kinds == {0}:
        return ""
    first = codes[tab.codes[0, col]]
    bad = int(np.flatnonzero(codes[tab.codes[:, col]] != first)[0])
    raise EvaluationError(
        f"{path}: {what} {col + 1} mixes voices and faces (row {bad + 1}: "
        f"{tab.tokens[tab.codes[bad, col]]!r} vs row 1: {tab.tokens[tab.codes[0, col]]!r})"
    )


def _voice_identity(item: str) -> str:
    return item.split("/", 1)[0]


def _face_identity(item: str, meta: Vox1Meta | None) -> str:
    name = item.split("/", 1)[0]
    return meta.name_to_id.get(name, name) if meta else name


class _Mapper:
    """Maps list item ids onto embedding rows (or builds the item lists from the list itself)."""

    def __init__(self, emb: Embeddings | None, modality: str, meta: Vox1Meta | None):
        self.emb = emb
        self.modality = modality
        self.meta = meta
        self.items: dict[str, int] = {}
        self.identities: list[str] = []
        self.unmapped: dict[str, None] = {}
        self._pos = dict(zip(emb.ids.tolist(), range(len(emb)), strict=True)) if emb else None

    def __call__(self, item: str) -> int:
        if item in self.items:
            return self.items[item]
        if self._pos is not None:
            row = self._pos.get(item)
            if row is None:
                self.unmapped[item] = None
                return -1
            ident = str(self.emb.identities[row])  # type: ignore[union-attr]
        else:
            ident = (
                _voice_identity(item)
                if self.modality == "voice"
                else _face_identity(item, self.meta)
            )
        self.items[item] = len(self.identities)
        self.identities.append(ident)
        return self.items[item]

    def tokens(self, tab: Table, cols: Sequence[int]) -> np.ndarray:
        """(U,) int64 item index of each distinct token used in ``cols`` (-1 elsewhere).

        Vectorised over the distinct tokens: dict look-ups run through ``map`` (in C), new
        items are appended in order of first appearance, exactly as :meth:`__call__` would.
        """
        used = np.zeros(tab.tokens.size, bool)
        for c in cols:
            used |= tab.column_tokens(c)
        u_idx = np.flatnonzero(used)
        items = [strip_ext(t) for t in tab.tokens[u_idx].tolist()]
        out = np.full(tab.tokens.size, -1, dtype=np.int64)
        if len(set(items)) != len(items):  # two spellings of one item (a.wav, a.flac)
            out[u_idx] = [self(x) for x in items]
            return out
        idx = np.fromiter(map(self.items.get, items, repeat(-1)), np.int64, len(items))
        new = np.flatnonzero(idx < 0)
        new_items = [items[i] for i in new.tolist()]
        if self._pos is not None:
            rows = np.fromiter(map(self._pos.get, new_items, repeat(-1)), np.int64, new.size)
            miss = rows < 0
            for i in np.flatnonzero(miss).tolist():
                self.unmapped[new_items[i]] = None
            keep = np.flatnonzero(~miss)
            add = [new_items[i] for i in keep.tolist()]
            idents = self.emb.identities[rows[keep]].tolist()  # type: ignore[union-attr]
            new = new[keep]
        else:
            add = new_items
            if self.modality == "voice":
                idents = [_voice_identity(x) for x in add]
            else:
                idents = [_face_identity(x, self.meta) for x in add]
        start = len(self.identities)
        self.items.update(zip(add, range(start, start + len(add)), strict=True))
        self.identities.extend(idents)
        idx[new] = np.arange(start, start + len(add))
        out[u_idx] = idx
        return out

    def ids(self) -> np.ndarray:
        return np.array(list(self.items), dtype=str)


def _finish(report: ImportReport, vm: _Mapper, fm: _Mapper, drop_unmapped: bool) -> None:
    missing = list(vm.unmapped) + list(fm.unmapped)
    report.n_unmapped_items = len(missing)
    report.unmapped_examples = missing[:5]
    if missing and not drop_unmapped:
        raise EvaluationError(
            f"{', '.join(report.paths)}: {len(missing)} list item(s) are not in the embeddings "
            f"(e.g. {missing[:3]}); item id = media path without extension - check the "
            "embedding ids, or pass drop_unmapped=True / --drop-unmapped"
        )


def _resolve(what: str, path: Path, option: str | None, from_name: str | None) -> str | None:
    """An option wins over the file name; both given and different is an error."""
    if option and from_name and option != from_name:
        raise EvaluationError(
            f"{path}: the file name says {what} {from_name!r} but --{what} {option!r} was given"
        )
    return option or from_name


def _column_modalities(
    path: Path,
    tab: Table,
    tok_mod: np.ndarray,
    direction: str | None,
    probe_cols: int = 1,
) -> str:
    """Direction of a list whose first ``probe_cols`` columns are queries, the rest candidates."""
    mods = [column_modality(path, tab, c, tok_mod) for c in range(tab.codes.shape[1])]
    known = {m for m in mods if m}
    if not known:
        if direction is None:
            raise EvaluationError(
                f"{path}: cannot tell which columns hold voices and which faces (no media "
                "extension, not in the embeddings): pass --direction v2f|f2v"
            )
        return direction
    want_probe = {"v2f": "voice", "f2v": "face"}
    probe = next((m for m in mods[:probe_cols] if m), None)
    if probe is None:
        cand = next(m for m in mods[probe_cols:] if m)
        probe = "face" if cand == "voice" else "voice"
    other = "face" if probe == "voice" else "voice"
    for c, m in enumerate(mods):
        expect = probe if c < probe_cols else other
        if m and m != expect:
            role = "query" if c < probe_cols else "candidate"
            raise EvaluationError(
                f"{path}: column {c + 1} ({role}) holds {m}s but column 1 holds {probe}s "
                f"(e.g. {tab.tokens[tab.codes[0, c]]!r})"
            )
    d = "v2f" if probe == "voice" else "f2v"
    if direction is not None and want_probe[direction] != probe:
        raise EvaluationError(
            f"{path}: the columns give direction {d} (column 1 holds {probe}s) "
            f"but {direction} was asked"
        )
    return d


def _unique_key(key: str, taken: set[str], stem: str) -> str:
    if key not in taken:
        return key
    alt = f"{key}/{stem}"
    k = 2
    while alt in taken:
        alt, k = f"{key}/{stem}-{k}", k + 1
    return alt


def import_list(
    fmt: str,
    paths: Sequence[str | Path],
    voices: Embeddings | None = None,
    faces: Embeddings | None = None,
    vox1_meta: str | Path | Vox1Meta | None = None,
    drop_unmapped: bool = False,
    *,
    direction: str | None = None,
    constraint: str | None = None,
    cache_dir: str | Path | None = None,
    prefetch: bool = False,
) -> tuple[TrialSet, ImportReport]:
    """Parse published list(s) of format ``fmt`` into a :class:`TrialSet` (+ a report).

    ``direction`` (``v2f``/``f2v``) and ``constraint`` (``U``/``G``/``N``/``GN``; for
    veriflists also ``A``/``GNA``) are used where neither the columns nor the file name
    say; when they contradict the file, it is an error. ``vox1_meta`` defaults to the
    packaged copy. ``cache_dir``: keep parsed whitespace lists there (see :func:`read_table`).
    ``prefetch``: the lists are about to be scored - as soon as a parsed list is large
    enough for the compiled pair kernel, start loading it in the background
    (:func:`~vfbench.evaluate.scoring.prefetch_kernel`).
    Every file becomes its own trial group(s); the report counts rows per group.
    """
    if fmt not in IMPORT_FORMATS:
        raise EvaluationError(f"unknown list format {fmt!r}; known: {list(IMPORT_FORMATS)}")
    if direction is not None and direction not in ("v2f", "f2v"):
        raise EvaluationError(f"direction must be v2f or f2v, got {direction!r}")
    meta = (
        vox1_meta
        if isinstance(vox1_meta, Vox1Meta)
        else Vox1Meta.load(vox1_meta if vox1_meta is not None else PACKAGED_VOX1_META)
    )
    ps = [Path(p) for p in paths]
    if not ps:
        raise EvaluationError(f"{fmt}: no list file given")
    vm, fm = _Mapper(voices, "voice", meta), _Mapper(faces, "face", meta)
    rep = ImportReport(fmt, [str(p) for p in ps])
    groups: list[tuple[str, dict, dict[str, np.ndarray]]] = []
    taken: set[str] = set()

    def add(key: str, meta_d: dict, arrays: dict[str, np.ndarray], stem: str, n: int) -> None:
        k = _unique_key(key, taken, stem)
        taken.add(k)
        groups.append((k, meta_d, arrays))
        rep.groups[k] = n

    if fmt in MATCHING_ALIASES:
        for p in ps:
            tab = read_table(p, min_fields=3, cache_dir=cache_dir)
            if prefetch:  # distinct tokens bound the voices and faces
                prefetch_kernel(tab.n_rows * (tab.codes.shape[1] - 1), *(tab.tokens.size,) * 2)
            tok_mod = _modality_codes(tab.tokens, voices, faces)
            d = _column_modalities(
                p, tab, tok_mod, _resolve("direction", p, direction, name_direction(p.name))
            )
            c = _resolve("constraint", p, constraint, name_constraint(p.name))
            if c is None:
                c = "U"
                rep.warnings.append(f"{p.name}: constraint not in the file name, labelled U")
            qmap, cmap = (vm, fm) if d == "v2f" else (fm, vm)
            n = tab.codes.shape[1] - 1
            q = qmap.tokens(tab, [0])[tab.codes[:, 0]]
            cands = cmap.tokens(tab, range(1, n + 1))[tab.codes[:, 1:]]
            keep = (q >= 0) & (cands >= 0).all(1)
            all_kept = bool(keep.all())  # the usual case: no 24 MB copies of a 1M list
            rep.n_rows += tab.n_rows
            rep.n_kept += int(keep.sum())
            src = {"cmpc-matching": "cmpc", "ssnet-matching": "ssnet"}.get(fmt)
            if src is None:
                src = (
                    "cmpc"
                    if _CMPC_CONSTRAINT.search(p.name)
                    else "ssnet"
                    if p.name.startswith("match_")
                    else "list"
                )
            meta_d = {
                "task": "match",
                "direction": d,
                "n": n,
                "constraint": c,
                "source": src,
                "list": p.name,
                "list_sha256": tab.sha256,
            }
            add(
                f"match/{d}/n={n}/{c}/{src}",
                meta_d,
                {"query": q, "cands": cands}
                if all_kept
                else {"query": q[keep], "cands": cands[keep]},
                p.stem,
                int(keep.sum()),
            )
    elif fmt == "cmpc-veriflist":
        for p in ps:
            m = _VERIF_NAME.search(p.name)
            c_name = _VERIF_CONSTRAINT[m.group(1).lower()] if m else None
            c = _resolve("constraint", p, constraint, c_name)
            if c is None:
                c = "U"
                rep.warnings.append(f"{p.name}: constraint not in the file name, labelled U")
            subset = m.group(2).lower() if m else ""
            lines = _read_lines(p)
            head = lines[0].split(",") if lines else []
            if head[:4] != ["id", "voice-speaker-id", "face-speaker-id", "label"]:
                raise EvaluationError(
                    f"{p}:1: not a CMPC veriflist header: {lines[0] if lines else ''!r}"
                )
            vi, fi, lab = [], [], []
            for lineno, row in enumerate(csv.reader(lines[1:]), start=2):
                if not row:
                    continue
                if len(row) != 6 or row[3] not in ("0", "1"):
                    raise EvaluationError(f"{p}:{lineno}: expected 6 fields with label 0/1")
                vi.append(vm(cmpc_old_voice_to_id(row[4], meta, f"{p}:{lineno}")))
                fi.append(fm(cmpc_face_to_id(row[5])))
                lab.append(row[3] == "1")
            va, fa, la = np.array(vi, np.int64), np.array(fi, np.int64), np.array(lab, bool)
            keep = (va >= 0) & (fa >= 0)
            rep.n_rows += va.size
            rep.n_kept += int(keep.sum())
            rep.counts["positive"] = rep.counts.get("positive", 0) + int(la[keep].sum())
            rep.counts["negative"] = rep.counts.get("negative", 0) + int((~la[keep]).sum())
            key = f"verify/v2f/{c}/cmpc" + (
                f"/{subset}" if subset and subset != "unseenunheard" else ""
            )
            meta_d = {"task": "verify", "direction": "v2f", "constraint": c, "source": "cmpc"}
            meta_d.update({"list": p.name, "subset": subset})
            add(
                key,
                meta_d,
                {"voice": va[keep], "face": fa[keep], "label": la[keep]},
                p.stem,
                int(keep.sum()),
            )
    elif fmt == "ssnet-verify":
        for p in ps:
            tab = read_table(p, n_fields=2, cache_dir=cache_dir)
            if prefetch:
                prefetch_kernel(tab.n_rows, tab.tokens.size, tab.tokens.size)
            tok_mod = _modality_codes(tab.tokens, voices, faces)
            d = _column_modalities(
                p, tab, tok_mod, _resolve("direction", p, direction, name_direction(p.name))
            )
            vc, fc = (0, 1) if d == "v2f" else (1, 0)
            c = _resolve("constraint", p, constraint, name_constraint(p.name)) or "U"
            # label: the voice's VoxCeleb1 id names the same person as the face's folder
            person = np.array(
                [
                    meta.id_to_name.get(_voice_identity(str(t)), "\0")
                    if mod == 1  # a voice (_MODALITIES)
                    else _voice_identity(str(t))
                    for t, mod in zip(tab.tokens, tok_mod.tolist(), strict=True)
                ],
                dtype=object,
            )
            unknown = person[tab.codes[:, vc]] == "\0"
            if unknown.any():
                r = int(np.flatnonzero(unknown)[0])
                vid = _voice_identity(str(tab.tokens[tab.codes[r, vc]]))
                raise EvaluationError(
                    f"{p}: {int(unknown.sum())} row(s) name a voice speaker not in "
                    f"vox1_meta.csv, first row {r + 1}: {vid!r}"
                )
            la = person[tab.codes[:, vc]] == person[tab.codes[:, fc]]
            va = vm.tokens(tab, [vc])[tab.codes[:, vc]]
            fa = fm.tokens(tab, [fc])[tab.codes[:, fc]]
            keep = (va >= 0) & (fa >= 0)
            rep.n_rows += tab.n_rows
            rep.n_kept += int(keep.sum())
            rep.counts["positive"] = rep.counts.get("positive", 0) + int(la[keep].sum())
            rep.counts["negative"] = rep.counts.get("negative", 0) + int((~la[keep]).sum())
            meta_d = {"task": "verify", "direction": d, "constraint": c, "source": "ssnet"}
            meta_d.update({"list": p.name, "list_sha256": tab.sha256})
            add(
                f"verify/{d}/{c}/ssnet",
                meta_d,
                {"voice": va[keep], "face": fa[keep], "label": la[keep].astype(bool)},
                p.stem,
                int(keep.sum()),
            )
    elif fmt == "ssnet-retrieval":
        for p in ps:
            two: list[list[str]] = [x.split() for x in _read_lines(p) if x.strip()]
            if len(two) != 2:
                raise EvaluationError(
                    f"{p}: expected exactly 2 lines (queries, gallery), found {len(two)}"
                )
            mods = []
            for ln, toks in enumerate(two, start=1):
                tm = set(token_modality(toks, voices, faces).tolist())
                if len(tm) > 1 and tm != {"", "voice"} and tm != {"", "face"}:
                    raise EvaluationError(f"{p}:{ln}: the line mixes voices and faces")
                mods.append((tm - {""}).pop() if tm - {""} else "")
            d_name = _resolve("direction", p, direction, name_direction(p.name))
            if mods[0] and mods[1] and mods[0] == mods[1]:
                raise EvaluationError(f"{p}: both lines hold {mods[0]}s")
            probe = mods[0] or ({"voice": "face", "face": "voice"}.get(mods[1], ""))
            if not probe:
                if d_name is None:
                    raise EvaluationError(
                        f"{p}: cannot tell which line holds voices: pass --direction v2f|f2v"
                    )
                probe = "voice" if d_name == "v2f" else "face"
            d = "v2f" if probe == "voice" else "f2v"
            if d_name is not None and d_name != d:
                raise EvaluationError(
                    f"{p}: line 1 holds {probe}s (direction {d}) but {d_name} was asked"
                )
            qmap, gmap = (vm, fm) if d == "v2f" else (fm, vm)
            q = np.array([qmap(strip_ext(x)) for x in two[0]], np.int64)
            g = np.array([gmap(strip_ext(x)) for x in two[1]], np.int64)
            rep.n_rows += q.size + g.size
            rep.n_kept += int((q >= 0).sum() + (g >= 0).sum())
            rep.counts["queries"] = rep.counts.get("queries", 0) + int((q >= 0).sum())
            rep.counts["gallery"] = rep.counts.get("gallery", 0) + int((g >= 0).sum())
            meta_d = {
                "task": "retrieve",
                "direction": d,
                "variant": "ssnet",
                "setting": "SSNet list",
                "source": "ssnet",
                "list": p.name,
            }
            add(
                f"retrieve/{d}/ssnet",
                meta_d,
                {"queries": q[q >= 0], "gallery": g[g >= 0]},
                p.stem,
                int((q >= 0).sum()),
            )
            if prefetch:
                prefetch_retrieval(int((q >= 0).sum()), int((g >= 0).sum()), False)
    else:  # cmpc-retrieval
        if len(ps) != 2:
            raise EvaluationError("cmpc-retrieval needs two files: wav_20k.csv jpg_20k.csv")
        tables = {}
        for p in ps:
            rows = _split_rows(p, 2, "\t")
            col = rows[0][1] if rows else ""
            if col not in ("wav", "jpg") or col in tables:
                raise EvaluationError(
                    f"{p}:1: expected header 'VoxCeleb1 ID<TAB>wav' or '...<TAB>jpg' "
                    f"(one file each), got {rows[0] if rows else ''!r}"
                )
            tables[col] = rows[1:]
        sets = []
        for col, mp in (("wav", vm), ("jpg", fm)):
            idx = np.array([mp(strip_ext(r[1])) for r in tables[col]], np.int64)
            rep.n_rows += idx.size
            rep.n_kept += int((idx >= 0).sum())
            sets.append(idx[idx >= 0])
        rep.counts = {"voices": int(sets[0].size), "faces": int(sets[1].size)}
        for d, (q, g) in (("v2f", (sets[0], sets[1])), ("f2v", (sets[1], sets[0]))):
            add(
                f"retrieve/{d}/cmpc",
                {
                    "task": "retrieve",
                    "direction": d,
                    "variant": "cmpc",
                    "setting": "CMPC 20k x 20k",
                    "source": "cmpc",
                },
                {"queries": q, "gallery": g},
                d,
                int(q.size),
            )
        if prefetch:  # both directions over the same items: one shared score matrix
            prefetch_retrieval(int(sets[0].size), int(sets[1].size), True)
    _finish(rep, vm, fm, drop_unmapped)
    ts = TrialSet(
        vm.ids(), fm.ids(), np.array(vm.identities, dtype=str), np.array(fm.identities, dtype=str)
    )
    ts.config.update({"generator": f"vfbench.import:{fmt}", "sources": rep.paths, "warnings": []})
    ts.config["warnings"].extend(rep.warnings)
    if rep.n_unmapped_items:
        ts.config["warnings"].append(rep.summary())
    for key, meta_d, arrays in groups:
        ts.add(key, meta_d, arrays)
    return ts, rep


def detect_format(path: str | Path) -> str:
    """Guess a published list's format from its first line (see the module table)."""
    p = Path(path)
    if p.is_dir():
        raise EvaluationError(f"{p}: is a directory, expected a trial list file")
    if not p.is_file():
        raise EvaluationError(f"{p}: trial list not found")
    head = _head(p)
    first = head.split(b"\n", 1)[0].strip()
    if first.startswith(b"id,voice-speaker-id"):
        return "cmpc-veriflist"
    if first.startswith(b"VoxCeleb1 ID\t"):
        return "cmpc-retrieval"
    n = len(first.split())
    if n == 2:
        return "ssnet-verify"
    if n > 50 or b"\n" not in head:
        return "ssnet-retrieval"
    if n >= 3:
        return "matching"
    raise EvaluationError(f"{p}:1: cannot tell the list format from {first[:80]!r}")


def _head(p: Path) -> bytes:
    with open(p, "rb") as fh:
        data = fh.read(65536)
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


#: version of the resolved-list cache entries (:func:`_resolved_key`)
RESOLVED_CACHE_VERSION = 1


def _ids_digest(h: Any, e: Embeddings) -> None:
    h.update("\n".join(e.ids.tolist()).encode() + b"\0")
    h.update("\n".join(e.identities.tolist()).encode() + b"\0")


def _embeddings_ids_digest(voices: Embeddings, faces: Embeddings) -> str:
    """sha256 of both embeddings' ids and identities (not their vectors)."""
    h = hashlib.sha256()
    _ids_digest(h, voices)
    _ids_digest(h, faces)
    return h.hexdigest()


def _resolved_key(
    cdir: Path | None,
    kind: str,
    ps: Sequence[Path],
    ids_digest: str,
    vox1_meta: str | Path | Vox1Meta | None,
    drop_unmapped: bool,
) -> str | None:
    """Cache key of published lists *mapped onto these embeddings*: the lists' names and
    content hashes (from the stat memo: nothing is read), the format and options, the
    VoxCeleb1 meta used, and the embeddings' ids and identities (not their vectors). None
    when a list's hash is not remembered yet, or the meta is an in-memory object."""
    if cdir is None or isinstance(vox1_meta, Vox1Meta):
        return None
    digests = []
    for p in ps:
        _check_list_file(p)
        d = _remembered_digest(cdir, p, p.stat())
        if d is None:
            return None
        digests.append([p.name, d])
    meta = Path(vox1_meta) if vox1_meta is not None else PACKAGED_VOX1_META
    try:
        mst = meta.stat()
    except OSError:
        return None  # import_list names the missing file
    head = {
        "v": RESOLVED_CACHE_VERSION,
        "table": TABLE_CACHE_VERSION,
        "format": kind,
        "lists": digests,
        "vox1_meta": [str(meta.resolve()), *_stat_signature(mst)],
        "drop_unmapped": bool(drop_unmapped),
    }
    head["embeddings"] = ids_digest
    return hashlib.sha256(json.dumps(head, sort_keys=True).encode()).hexdigest()


def _resolved_paths(cdir: Path, key: str) -> tuple[Path, Path]:
    base = cdir / "resolved" / f"{key}.v{RESOLVED_CACHE_VERSION}"
    return base.with_suffix(base.suffix + ".npz"), base.with_suffix(base.suffix + ".json")


def _load_resolved(cdir: Path, key: str) -> tuple[TrialSet, ImportReport] | None:
    """The cached trial set and import report of :func:`_resolved_key`, or None (absent or
    damaged: rebuilt). The trial file's content hash is checked on load."""
    npz, rep_path = _resolved_paths(cdir, key)
    if not (npz.is_file() and rep_path.is_file()):
        return None
    try:
        rep = ImportReport(**json.loads(rep_path.read_text()))
        return TrialSet.load(npz), rep
    except (OSError, ValueError, TypeError, EvaluationError):
        return None


def _save_resolved(cdir: Path, key: str, ts: TrialSet, rep: ImportReport) -> None:
    npz, rep_path = _resolved_paths(cdir, key)
    try:
        atomic_write_json(rep_path, dataclasses.asdict(rep))
        ts.save(npz, compressed=False)
    except OSError:
        pass  # the cache only saves time; a read-only cache folder is not an error


def _prefetch_for(ts: TrialSet) -> None:
    """What :func:`import_list` starts for lists about to be scored, from a cached set."""
    prefetch_kernel(ts.largest_pair_group(), ts.voice_ids.size, ts.face_ids.size)
    retr = [ts.groups[k] for k in ts.keys() if ts.meta(k).get("task") == "retrieve"]
    for g in retr:
        n_q, n_g = int(np.asarray(g["queries"]).size), int(np.asarray(g["gallery"]).size)
        prefetch_retrieval(n_q, n_g, len(retr) == 2)


@dataclass
class TrialSource:
    """Where a run's trials came from: recorded in ``results.json`` instead of a copy."""

    paths: list[str]
    sha256: list[str]
    format: str  # "vfbench-trials" or a list format
    report: ImportReport | None = None

    def to_dict(self) -> dict[str, object]:
        return {"paths": self.paths, "sha256": self.sha256, "format": self.format}


#: lists at least this large (all files together) hold well over 1M scored pairs in any
#: published layout (a 1:2 line is ~100 bytes: 64 MiB ~ 600k trials, 1.2M pairs)
PREFETCH_LIST_BYTES = 64 << 20


def prefetch_for_lists(paths: Sequence[str | Path]) -> None:
    """Before anything is loaded: when the trial lists are large enough that scoring
    them will use the compiled kernel, start loading it in the background
    (:func:`~vfbench.evaluate.scoring.prefetch_kernel`), judged by the files' size alone
    so the embeddings load overlaps it too. :func:`load_trials` decides again, exactly,
    from the parsed lists."""
    size = 0
    for p in paths:
        q = Path(p)
        if q.suffix != ".npz" and q.is_file():
            size += q.stat().st_size
    if size >= PREFETCH_LIST_BYTES:
        prefetch_kernel(1 << 40, 1 << 40, 1 << 40)  # "many pairs over many items"


def load_trials(
    paths: Sequence[str | Path],
    voices: Embeddings,
    faces: Embeddings,
    fmt: str | None = None,
    vox1_meta: str | Path | Vox1Meta | None = None,
    cache_dir: str | Path | None = None,
    drop_unmapped: bool = False,
) -> tuple[TrialSet, TrialSource]:
    """A saved trial file (``.npz``) or published list(s) of one format, over the embeddings.

    Lists large enough for the compiled pair kernel start loading it in the background
    (see :func:`import_list`'s ``prefetch``): call this when the trials are to be scored.
    """
    ps = [Path(p) for p in paths]
    if not ps:
        raise EvaluationError("no trial file given")
    npz = [p for p in ps if p.suffix == ".npz" or (p.is_file() and _head(p)[:2] == b"PK")]
    if npz:
        if len(ps) != 1:
            raise EvaluationError(
                f"{npz[0]}: a vfbench trial file is used alone (got {len(ps)} trial inputs)"
            )
        ts = TrialSet.load(ps[0])
        return ts, TrialSource([str(ps[0].resolve())], [file_sha256(ps[0])], "vfbench-trials")
    kinds = {p: fmt or detect_format(p) for p in ps}
    if len(set(kinds.values())) != 1:
        raise EvaluationError(
            "trial lists of different formats in one run: "
            + ", ".join(f"{p.name}={k}" for p, k in kinds.items())
            + "; evaluate them in separate runs"
        )
    kind = next(iter(kinds.values()))
    cdir = Path(cache_dir) if cache_dir else None
    ids = _embeddings_ids_digest(voices, faces) if cdir is not None else ""
    key = _resolved_key(cdir, kind, ps, ids, vox1_meta, drop_unmapped)
    hit = _load_resolved(cdir, key) if cdir is not None and key else None
    if hit is not None:
        ts, rep = hit
        _prefetch_for(ts)
    else:
        ts, rep = import_list(
            kind, ps, voices, faces, vox1_meta, drop_unmapped, cache_dir=cache_dir, prefetch=True
        )
        if cdir is not None:
            key = key or _resolved_key(cdir, kind, ps, ids, vox1_meta, drop_unmapped)
            if key:
                _save_resolved(cdir, key, ts, rep)
    known = {str(ts.meta(k).get("list")): str(ts.meta(k).get("list_sha256", "")) for k in ts.keys()}
    names = [p.name for p in ps]
    digests = [
        known[p.name] if names.count(p.name) == 1 and known.get(p.name) else file_sha256(p)
        for p in ps
    ]
    return ts, TrialSource([str(p.resolve()) for p in ps], digests, kind, rep)
