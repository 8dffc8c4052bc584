"""Importers for published trial lists (SSNet, CMPC / Learnable-PINs) -> :class:`TrialSet`.

Formats (see ``shared/data/README.md``):

=====================  ===============================================================
``cmpc-matching``      ``matching_{v2f,f2v}_{U,G,N,GN}.csv``: ``<probe> <pos> <neg>``,
                       space-separated; the true candidate is column 2
``cmpc-veriflist``     CSV ``id,voice-speaker-id,face-speaker-id,label,voice-path,face-path``;
                       voice paths in the *old* layout ``<name>/<ytid>_<7 digits>.wav``
``ssnet-verify``       ``<voice> <face>`` per line, no label: positive iff the voice's
                       VoxCeleb1 id maps to the face's VGGFace1 name (``vox1_meta.csv``)
``ssnet-retrieval``    two lines: queries (voices), gallery (faces)
``cmpc-retrieval``     ``wav_20k.csv`` + ``jpg_20k.csv`` (TSV ``VoxCeleb1 ID<TAB>path``);
                       imported in both directions
=====================  ===============================================================

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
paths carry them, face names are mapped through ``vox1_meta.csv`` when given.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.trials import TrialSet

IMPORT_FORMATS = (
    "cmpc-matching",
    "cmpc-veriflist",
    "ssnet-verify",
    "ssnet-retrieval",
    "cmpc-retrieval",
)
_MATCH_NAME = re.compile(r"matching_(v2f|f2v)_(U|G|N|GN)\b")


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


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise EvaluationError(f"{path}: trial list not found")
    with open(path, encoding="utf-8-sig") as fh:
        return fh.read().splitlines()


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
        self._pos = {k: i for i, k in enumerate(emb.ids.tolist())} if emb is not None else None

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


def import_list(
    fmt: str,
    paths: Sequence[str | Path],
    voices: Embeddings | None = None,
    faces: Embeddings | None = None,
    vox1_meta: str | Path | Vox1Meta | None = None,
    drop_unmapped: bool = False,
) -> tuple[TrialSet, ImportReport]:
    """Parse published list(s) of format ``fmt`` into a :class:`TrialSet` (+ a report)."""
    if fmt not in IMPORT_FORMATS:
        raise EvaluationError(f"unknown list format {fmt!r}; known: {list(IMPORT_FORMATS)}")
    meta = Vox1Meta.load(vox1_meta) if isinstance(vox1_meta, str | Path) else vox1_meta
    ps = [Path(p) for p in paths]
    if not ps:
        raise EvaluationError(f"{fmt}: no list file given")
    vm, fm = _Mapper(voices, "voice", meta), _Mapper(faces, "face", meta)
    rep = ImportReport(fmt, [str(p) for p in ps])
    groups: list[tuple[str, dict, dict[str, np.ndarray]]] = []

    if fmt == "cmpc-matching":
        for p in ps:
            m = _MATCH_NAME.search(p.name)
            if not m:
                raise EvaluationError(
                    f"{p}: file name must look like matching_<v2f|f2v>_<U|G|N|GN>.csv"
                )
            d, c = m.group(1), m.group(2)
            rows = _split_rows(p, 3)
            qmap, cmap = (vm, fm) if d == "v2f" else (fm, vm)
            q = np.array([qmap(strip_ext(r[0])) for r in rows], dtype=np.int64)
            cands = np.array(
                [[cmap(strip_ext(r[1])), cmap(strip_ext(r[2]))] for r in rows], dtype=np.int64
            )
            keep = (q >= 0) & (cands >= 0).all(1)
            rep.n_rows += len(rows)
            rep.n_kept += int(keep.sum())
            meta_d = {"task": "match", "direction": d, "n": 2, "constraint": c, "source": "cmpc"}
            groups.append(
                (f"match/{d}/n=2/{c}/cmpc", meta_d, {"query": q[keep], "cands": cands[keep]})
            )
    elif fmt in ("cmpc-veriflist", "ssnet-verify"):
        if meta is None:
            raise EvaluationError(f"{fmt}: needs vox1_meta.csv (names <-> VoxCeleb1 ids)")
        for p in ps:
            vi, fi, lab = [], [], []
            if fmt == "cmpc-veriflist":
                lines = _read_lines(p)
                head = lines[0].split(",") if lines else []
                if head[:4] != ["id", "voice-speaker-id", "face-speaker-id", "label"]:
                    raise EvaluationError(
                        f"{p}:1: not a CMPC veriflist header: {lines[0] if lines else ''!r}"
                    )
                for lineno, row in enumerate(csv.reader(lines[1:]), start=2):
                    if not row:
                        continue
                    if len(row) != 6 or row[3] not in ("0", "1"):
                        raise EvaluationError(f"{p}:{lineno}: expected 6 fields with label 0/1")
                    vi.append(vm(cmpc_old_voice_to_id(row[4], meta, f"{p}:{lineno}")))
                    fi.append(fm(cmpc_face_to_id(row[5])))
                    lab.append(row[3] == "1")
                src = "cmpc"
            else:
                for lineno, row in enumerate(_split_rows(p, 2), start=1):
                    v, f = strip_ext(row[0]), strip_ext(row[1])
                    vid = _voice_identity(v)
                    if vid not in meta.id_to_name:
                        raise EvaluationError(
                            f"{p}:{lineno}: voice speaker {vid!r} is not in vox1_meta.csv"
                        )
                    lab.append(meta.id_to_name[vid] == f.split("/", 1)[0])
                    vi.append(vm(v))
                    fi.append(fm(f))
                src = "ssnet"
            va, fa, la = np.array(vi, np.int64), np.array(fi, np.int64), np.array(lab, bool)
            keep = (va >= 0) & (fa >= 0)
            rep.n_rows += va.size
            rep.n_kept += int(keep.sum())
            rep.counts["positive"] = rep.counts.get("positive", 0) + int(la[keep].sum())
            rep.counts["negative"] = rep.counts.get("negative", 0) + int((~la[keep]).sum())
            groups.append(
                (
                    f"verify/v2f/U/{src}",
                    {"task": "verify", "direction": "v2f", "constraint": "U", "source": src},
                    {"voice": va[keep], "face": fa[keep], "label": la[keep]},
                )
            )
    elif fmt == "ssnet-retrieval":
        lines = [x for x in _read_lines(ps[0]) if x.strip()]
        if len(lines) != 2:
            raise EvaluationError(
                f"{ps[0]}: expected exactly 2 lines (queries, gallery), found {len(lines)}"
            )
        q = np.array([vm(strip_ext(x)) for x in lines[0].split()], np.int64)
        g = np.array([fm(strip_ext(x)) for x in lines[1].split()], np.int64)
        rep.n_rows = q.size + g.size
        rep.n_kept = int((q >= 0).sum() + (g >= 0).sum())
        rep.counts = {"queries": int((q >= 0).sum()), "gallery": int((g >= 0).sum())}
        groups.append(
            (
                "retrieve/v2f/ssnet",
                {
                    "task": "retrieve",
                    "direction": "v2f",
                    "variant": "ssnet",
                    "setting": "SSNet list",
                    "source": "ssnet",
                },
                {"queries": q[q >= 0], "gallery": g[g >= 0]},
            )
        )
    else:  # cmpc-retrieval
        if len(ps) != 2:
            raise EvaluationError("cmpc-retrieval needs two files: wav_20k.csv jpg_20k.csv")
        sets = []
        for p, mp, col in ((ps[0], vm, "wav"), (ps[1], fm, "jpg")):
            rows = _split_rows(p, 2, "\t")
            if rows and rows[0][1] != col:
                raise EvaluationError(
                    f"{p}:1: expected header 'VoxCeleb1 ID<TAB>{col}', got {rows[0]!r}"
                )
            idx = np.array([mp(strip_ext(r[1])) for r in rows[1:]], np.int64)
            rep.n_rows += idx.size
            rep.n_kept += int((idx >= 0).sum())
            sets.append(idx[idx >= 0])
        rep.counts = {"voices": int(sets[0].size), "faces": int(sets[1].size)}
        for d, (q, g) in (("v2f", (sets[0], sets[1])), ("f2v", (sets[1], sets[0]))):
            groups.append(
                (
                    f"retrieve/{d}/cmpc",
                    {
                        "task": "retrieve",
                        "direction": d,
                        "variant": "cmpc",
                        "setting": "CMPC 20k x 20k",
                        "source": "cmpc",
                    },
                    {"queries": q, "gallery": g},
                )
            )
    _finish(rep, vm, fm, drop_unmapped)
    ts = TrialSet(
        vm.ids(), fm.ids(), np.array(vm.identities, dtype=str), np.array(fm.identities, dtype=str)
    )
    ts.config.update({"generator": f"vfbench.import:{fmt}", "sources": rep.paths, "warnings": []})
    if rep.n_unmapped_items:
        ts.config["warnings"].append(rep.summary())
    for key, meta_d, arrays in groups:
        ts.add(key, meta_d, arrays)
    return ts, rep
