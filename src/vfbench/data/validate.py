"""Manifest validation: every problem becomes an :class:`Issue` naming its record.

``validate_manifest(m)`` never raises on bad content; it returns a
:class:`ValidationReport`. Errors make a manifest unusable for a fair benchmark
(missing media, duplicate ids, split leakage ...); warnings deserve a look (an identity
without faces, a recording session shared across splits ...).

Issue codes (severity):

=====================  ========  ==========================================================
code                   severity  meaning
=====================  ========  ==========================================================
duplicate_identity     error     the same identity id on two rows
bad_gender             error     gender not ``m``/``f``/empty
inconsistent_gender    error     one person with two genders (duplicate id or shared source id)
split_leak             error     one person/file in two splits (duplicate id with two splits,
                                 a voice/face source id or media file shared across splits;
                                 files are compared by resolved identity, device + inode, so
                                 a symlink, hard link or ``a/../b`` spelling is caught too)
duplicate_item_id      error     two voice (or two face) items with one id
unknown_identity       error     an item whose identity is not in identities.csv
path_escape            error     an absolute path, or one that leaves its root via ``..``
unsupported_format     error     a file extension no reader supports
no_root                error     items but no voice_root / face_root
media_missing          error     file not found (``check_media``)
media_empty            error     0-byte file (``check_media``)
media_unreadable       error     header cannot be parsed (``check_media``)
no_voice / no_face     warning   an identity with no voice / no face items
missing_split          warning   an identity with an empty split
unknown_split          warning   a split name other than train/val/test (one issue per name,
                                 with its identities): ``tset`` silently drops out of test
incomplete_column      warning   an extra identity column (``source`` ...) empty for some
                                 identities (one issue per column)
session_leak           warning   one recording session / source video under identities of
                                 different splits (skipped when ``meta["session_scope"]`` is
                                 ``"identity"``: folder-recipe session names are per identity)
metadata_mismatch      warning   recorded sample rate / image size differs from the file
=====================  ========  ==========================================================

A manifest whose ``meta["media"]`` is ``False`` (``vfbench data import-features``: items
are rows of feature files) skips the media checks (roots, formats, files).

Records are named ``<file>:<line> <id>`` with the line the record has in the saved CSV
(header = line 1), e.g. ``voices.csv:7 'id10001/abc/00001'``.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from vfbench.data.manifest import (
    GENDERS,
    KNOWN_SPLITS,
    SPLIT_ALIASES,
    FaceItem,
    Identity,
    Manifest,
    VoiceItem,
)
from vfbench.data.media import (
    AUDIO_EXTS,
    IMAGE_EXTS,
    MAX_MEDIA_BYTES,
    default_workers,
    probe_audio,
    probe_image,
)
from vfbench.errors import DataError
from vfbench.utils.io import input_file_stat
from vfbench.utils.progress import progress_bar

ERROR = "error"
WARNING = "warning"

CODES: dict[str, str] = {
    "duplicate_identity": ERROR,
    "bad_gender": ERROR,
    "inconsistent_gender": ERROR,
    "split_leak": ERROR,
    "duplicate_item_id": ERROR,
    "unknown_identity": ERROR,
    "path_escape": ERROR,
    "unsupported_format": ERROR,
    "no_root": ERROR,
    "media_missing": ERROR,
    "media_empty": ERROR,
    "media_unreadable": ERROR,
    "no_voice": WARNING,
    "no_face": WARNING,
    "missing_split": WARNING,
    "unknown_split": WARNING,
    "incomplete_column": WARNING,
    "session_leak": WARNING,
    "metadata_mismatch": WARNING,
}


@dataclass(frozen=True)
class Issue:
    """One problem. ``record`` names the row (``voices.csv:7 'id/..'``); ``message`` says what."""

    severity: str
    code: str
    record: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: [{self.code}] {self.record}: {self.message}"


@dataclass
class ValidationReport:
    """All issues found in one manifest."""

    issues: list[Issue] = field(default_factory=list)
    manifest: str = ""
    checked_media: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def by_code(self) -> dict[str, int]:
        return dict(Counter(i.code for i in self.issues))

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest,
            "checked_media": self.checked_media,
            "ok": self.ok,
            "counts": self.counts,
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "by_code": self.by_code(),
            "issues": [asdict(i) for i in self.issues],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        head = (
            f"{self.manifest or 'manifest'}: {len(self.errors)} error(s), "
            f"{len(self.warnings)} warning(s)"
        )
        codes = ", ".join(f"{c} x{n}" for c, n in sorted(self.by_code().items()))
        return head + (f" ({codes})" if codes else "")


class _Collector:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, code: str, record: str, message: str) -> None:
        self.issues.append(Issue(CODES[code], code, record, message))


def _rec(file: str, index: int, rid: str) -> str:
    return f"{file}:{index + 2} {rid!r}"


def validate_manifest(
    manifest: Manifest,
    check_media: bool = True,
    *,
    workers: int | None = None,
    progress: bool = False,
) -> ValidationReport:
    """Check a manifest's consistency and (optionally) its media files.

    Args:
        manifest: the manifest (e.g. from :func:`load_manifest`).
        check_media: stat and header-probe every media file (parallel, ``workers``
            threads); without it only the tables are checked.
    Returns:
        A :class:`ValidationReport`; ``report.ok`` is False if any error was found.
    """
    c = _Collector()
    ids = manifest.identities
    voices = manifest.voices
    faces = manifest.faces
    _check_identities(ids, c)
    idmap: dict[str, Identity] = {}
    for i in ids:
        idmap.setdefault(i.id, i)
    media = manifest.meta.get("media", True) is not False  # False: imported feature vectors
    _check_items(voices, VoiceItem.FILE, "voice", AUDIO_EXTS, idmap, manifest.voice_root, c, media)
    _check_items(faces, FaceItem.FILE, "face", IMAGE_EXTS, idmap, manifest.face_root, c, media)

    has_v = {v.identity for v in voices}
    has_f = {f.identity for f in faces}
    seen: set[str] = set()
    for k, i in enumerate(ids):
        if i.id in seen:
            continue
        seen.add(i.id)
        r = _rec(Identity.FILE, k, i.id)
        if i.id not in has_v:
            c.add("no_voice", r, f"identity {i.id!r} has no voice items")
        if i.id not in has_f:
            c.add("no_face", r, f"identity {i.id!r} has no face items")
        if not i.split:
            c.add("missing_split", r, f"identity {i.id!r} has no split")

    _check_split_names(ids, c)
    _check_extra_columns(manifest, c)
    _check_shared_files(voices, VoiceItem.FILE, idmap, manifest.voice_root, c)
    _check_shared_files(faces, FaceItem.FILE, idmap, manifest.face_root, c)
    if manifest.meta.get("session_scope") != "identity":
        _check_sessions(voices, VoiceItem.FILE, "session", idmap, c)
        _check_sessions(faces, FaceItem.FILE, "source_video", idmap, c)

    if check_media and media:
        _check_media(manifest, c, workers=workers, progress=progress)
    return ValidationReport(
        issues=c.issues,
        manifest=manifest.name,
        checked_media=check_media,
        counts={"identities": len(ids), "voices": len(voices), "faces": len(faces)},
    )


def _check_identities(ids: Sequence[Identity], c: _Collector) -> None:
    first: dict[str, tuple[int, Identity]] = {}
    for k, i in enumerate(ids):
        r = _rec(Identity.FILE, k, i.id)
        if i.gender not in GENDERS:
            c.add("bad_gender", r, f"gender {i.gender!r} of {i.id!r} is not 'm', 'f' or empty")
        if i.id in first:
            k0, i0 = first[i.id]
            c.add(
                "duplicate_identity",
                r,
                f"identity {i.id!r} is listed again (first on line {k0 + 2})",
            )
            if i0.gender != i.gender:
                c.add(
                    "inconsistent_gender",
                    r,
                    f"identity {i.id!r} has gender {i.gender!r} here and {i0.gender!r} "
                    f"on line {k0 + 2}",
                )
            if i0.split != i.split:
                c.add(
                    "split_leak",
                    r,
                    f"identity {i.id!r} is in split {i.split!r} here and {i0.split!r} "
                    f"on line {k0 + 2}",
                )
        else:
            first[i.id] = (k, i)
    # one source person (VoxCeleb id, VGGFace name) mapped to two identities
    for attr in ("voice_source_id", "face_source_id"):
        owner: dict[str, tuple[int, Identity]] = {}
        for k, i in enumerate(ids):
            src = getattr(i, attr)
            if not src:
                continue
            if src not in owner:
                owner[src] = (k, i)
                continue
            k0, i0 = owner[src]
            if i0.id == i.id:
                continue  # a duplicate row, reported above
            r = _rec(Identity.FILE, k, i.id)
            if i0.split != i.split:
                c.add(
                    "split_leak",
                    r,
                    f"{attr} {src!r} of {i.id!r} (split {i.split!r}) is also that of "
                    f"{i0.id!r} on line {k0 + 2} (split {i0.split!r})",
                )
            if i0.gender != i.gender:
                c.add(
                    "inconsistent_gender",
                    r,
                    f"{attr} {src!r}: {i.id!r} has gender {i.gender!r} but {i0.id!r} "
                    f"on line {k0 + 2} has {i0.gender!r}",
                )


def _escapes(rel: str) -> str | None:
    """Why ``rel`` leaves its root (lexically), or None if it stays inside."""
    if not rel:
        return "empty path"
    if rel.startswith(("/", "\\")) or PurePosixPath(rel).is_absolute() or ":" in rel[:3]:
        return "absolute path"
    norm = posixpath.normpath(rel.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        return "leaves its root via '..'"
    return None


def _check_items(
    items: Sequence[VoiceItem | FaceItem],
    file: str,
    modality: str,
    exts: frozenset[str],
    idmap: dict[str, Identity],
    root: Path | None,
    c: _Collector,
    media: bool = True,
) -> None:
    first: dict[str, int] = {}
    if items and root is None and media:
        c.add(
            "no_root",
            file,
            f"{len(items)} {modality} items but the manifest has no {modality}_root",
        )
    for k, it in enumerate(items):
        r = _rec(file, k, it.id)
        if it.id in first:
            c.add(
                "duplicate_item_id",
                r,
                f"{modality} item id {it.id!r} already used on line {first[it.id] + 2}",
            )
        else:
            first[it.id] = k
        if it.identity not in idmap:
            c.add(
                "unknown_identity",
                r,
                f"{modality} item {it.id!r} names identity {it.identity!r}, which is not in "
                f"{Identity.FILE}",
            )
        why = _escapes(it.path)
        if why:
            c.add("path_escape", r, f"path {it.path!r} of {it.id!r}: {why}")
        ext = PurePosixPath(it.path).suffix.lower()
        if media and ext not in exts:
            c.add(
                "unsupported_format",
                r,
                f"{it.path!r}: {modality} format {ext or '(none)'!r} is not supported "
                f"({', '.join(sorted(exts))})",
            )


def _check_split_names(ids: Sequence[Identity], c: _Collector) -> None:
    by_name: dict[str, list[int]] = defaultdict(list)
    for k, i in enumerate(ids):
        if i.split and i.split not in KNOWN_SPLITS:
            by_name[i.split].append(k)
    for name, rows in sorted(by_name.items()):
        alias = SPLIT_ALIASES.get(name.strip().lower())
        hint = f"spell it {alias!r}" if alias else f"known splits: {', '.join(KNOWN_SPLITS)}"
        ex = ", ".join(repr(ids[k].id) for k in rows[:3]) + (", ..." if len(rows) > 3 else "")
        c.add(
            "unknown_split",
            _rec(Identity.FILE, rows[0], ids[rows[0]].id),
            f"split {name!r} is not a known split ({hint}); {len(rows)} identities ({ex}) "
            "are in no train/val/test set",
        )


def _check_extra_columns(m: Manifest, c: _Collector) -> None:
    for col in m.extra_columns():
        empty = [k for k, i in enumerate(m.identities) if not i.extra.get(col, "")]
        if not empty:
            continue
        ids = m.identities
        ex = ", ".join(repr(ids[k].id) for k in empty[:3]) + (", ..." if len(empty) > 3 else "")
        c.add(
            "incomplete_column",
            _rec(Identity.FILE, empty[0], ids[empty[0]].id),
            f"column {col!r} is empty for {len(empty)} of {len(ids)} identities ({ex})",
        )


def _file_key(root: str | None, rel: str) -> tuple[Any, ...]:
    """What makes two item paths the same file: (device, inode) when it exists, else the
    normalised path (lexical)."""
    norm = posixpath.normpath(rel.replace("\\", "/"))
    if root is not None and not _escapes(rel):
        try:
            st = os.stat(os.path.join(root, norm))
            return ("inode", st.st_dev, st.st_ino)
        except OSError:
            pass
    return ("path", norm)


def _check_shared_files(
    items: Sequence[VoiceItem | FaceItem],
    file: str,
    idmap: dict[str, Identity],
    root: Path | None,
    c: _Collector,
) -> None:
    """The same media file listed under identities of different splits leaks the test set.

    Files are the same when they resolve to one device + inode (a symlink, hard link or a
    different spelling of the path); missing files are compared by their normalised path.
    """
    owner: dict[tuple[Any, ...], tuple[int, str]] = {}
    keys = _stat_keys(root, [it.path for it in items])
    for k, it in enumerate(items):
        key = keys[k]
        if key not in owner:
            owner[key] = (k, it.identity)
            continue
        k0, ident0 = owner[key]
        s0 = idmap[ident0].split if ident0 in idmap else ""
        s1 = idmap[it.identity].split if it.identity in idmap else ""
        if s0 != s1:
            p0 = items[k0].path
            same = "" if p0 == it.path else f" (the same file as {p0!r})"
            c.add(
                "split_leak",
                _rec(file, k, it.id),
                f"file {it.path!r}{same} is used by {it.identity!r} (split {s1!r}) and by "
                f"{ident0!r} on line {k0 + 2} (split {s0!r})",
            )


def _stat_keys(root: Path | None, paths: Sequence[str]) -> list[tuple[Any, ...]]:
    """:func:`_file_key` of every path; on threads for big tables (a cold network file
    system waits on each stat), in a loop otherwise (a warm stat costs microseconds)."""
    r = None if root is None else os.fspath(root)
    if r is None or len(paths) < 4096:
        return [_file_key(r, p) for p in paths]
    with ThreadPoolExecutor(max_workers=default_workers()) as pool:
        return list(pool.map(lambda p: _file_key(r, p), paths, chunksize=1024))


def _check_sessions(
    items: Sequence[VoiceItem | FaceItem],
    file: str,
    attr: str,
    idmap: dict[str, Identity],
    c: _Collector,
) -> None:
    by_session: dict[str, dict[str, tuple[int, str, str]]] = defaultdict(dict)
    for k, it in enumerate(items):
        sess = getattr(it, attr)
        if not sess or it.identity not in idmap:
            continue
        split = idmap[it.identity].split
        by_session[sess].setdefault(split, (k, it.id, it.identity))
    for sess, per_split in by_session.items():
        if len(per_split) < 2:
            continue
        parts = sorted(per_split.items())
        s0, (k0, _id0, ident0) = parts[0]
        s1, (_k1, id1, ident1) = parts[1]
        c.add(
            "session_leak",
            _rec(file, parts[1][1][0], id1),
            f"{attr} {sess!r} appears under {ident1!r} (split {s1!r}) and {ident0!r} "
            f"(split {s0!r}, line {k0 + 2}); splits: {[p[0] for p in parts]}",
        )


def _media_check(path: Path, kind: str) -> tuple[str, str, tuple[float, int] | None]:
    """(code or "", message, probed values) for one file."""
    st, why = input_file_stat(path, MAX_MEDIA_BYTES)
    if why or st is None:
        code = (
            "media_missing"
            if st is None and why and why.startswith("file not found")
            else "media_unreadable"
        )
        return code, f"{path}: {why}", None
    if st.st_size == 0:
        return "media_empty", f"{path}: empty file (0 bytes)", None
    try:
        vals = probe_audio(path) if kind == "audio" else probe_image(path)
    except DataError as exc:
        return "media_unreadable", str(exc), None
    return "", "", (float(vals[0]), int(vals[1]))


def _check_media(m: Manifest, c: _Collector, *, workers: int | None, progress: bool) -> None:
    jobs: list[tuple[str, int, str, VoiceItem | FaceItem, Path, str]] = []
    tables: list[tuple[str, Sequence[VoiceItem | FaceItem], Path | None, str, frozenset[str]]] = [
        (VoiceItem.FILE, m.voices, m.voice_root, "audio", AUDIO_EXTS),
        (FaceItem.FILE, m.faces, m.face_root, "image", IMAGE_EXTS),
    ]
    for file, items, root, kind, exts in tables:
        if root is None:
            continue
        for k, it in enumerate(items):
            if _escapes(it.path) or PurePosixPath(it.path).suffix.lower() not in exts:
                continue  # reported already; never touch files outside the root
            jobs.append((file, k, it.id, it, Path(root) / it.path, kind))
    if not jobs:
        return
    nw = default_workers() if workers is None else max(1, workers)
    bar = progress_bar(len(jobs), "check media", unit="file", enabled=progress)
    with ThreadPoolExecutor(max_workers=nw) as pool, bar:
        results = pool.map(lambda j: _media_check(j[4], j[5]), jobs)
        for job, (code, msg, vals) in zip(jobs, results, strict=True):
            bar.update(1)
            file, k, iid, it, _path, kind = job
            r = _rec(file, k, iid)
            if code:
                c.add(code, r, msg)
                continue
            assert vals is not None
            if isinstance(it, VoiceItem):
                if it.sample_rate and vals[1] and it.sample_rate != vals[1]:
                    c.add(
                        "metadata_mismatch",
                        r,
                        f"{_path}: sample rate {vals[1]} Hz in the file, {it.sample_rate} in "
                        "the manifest",
                    )
            elif (it.width or it.height) and (it.width, it.height) != (int(vals[0]), vals[1]):
                c.add(
                    "metadata_mismatch",
                    r,
                    f"{_path}: size {int(vals[0])}x{vals[1]} in the file, {it.width}x{it.height} "
                    "in the manifest",
                )
