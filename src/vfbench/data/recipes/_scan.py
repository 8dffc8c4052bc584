"""Shared recipe machinery: walk identity folders, build probed items, collect a report.

Item ids are the media path relative to its root without the extension
(``id10001/1zcIwhmdeo4/00001``): unique within a modality and stable across runs.
Problems (unsupported files, unreadable media, identities that cannot be joined) never
crash a recipe: they are collected in a :class:`RecipeReport`, stored in
``manifest.meta["unjoined"]`` / ``manifest.meta["skipped"]`` and summarised in the log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vfbench.data.manifest import FaceItem, Identity, VoiceItem
from vfbench.data.media import AUDIO_EXTS, IMAGE_EXTS, probe_many
from vfbench.errors import DataError

log = logging.getLogger("vfbench.data")


@dataclass(frozen=True)
class Problem:
    """One reported problem: ``reason`` is a short code, ``name`` the culprit (file/folder/id)."""

    reason: str
    modality: str
    name: str
    message: str


@dataclass
class RecipeReport:
    """What a recipe could not use, and why."""

    unjoined: list[Problem] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)

    def unjoin(self, reason: str, modality: str, name: str, message: str) -> None:
        self.unjoined.append(Problem(reason, modality, name, message))

    def skip(self, reason: str, modality: str, name: str, message: str) -> None:
        self.skipped.append(Problem(reason, modality, name, message))

    def to_meta(self) -> dict[str, Any]:
        return {
            "unjoined": [asdict(p) for p in self.unjoined],
            "skipped": [asdict(p) for p in self.skipped],
        }

    def summary(self) -> str:
        """One line per reason with its count and up to three examples."""
        lines = []
        for title, probs in (("unjoined", self.unjoined), ("skipped", self.skipped)):
            by: dict[tuple[str, str], list[Problem]] = {}
            for p in probs:
                by.setdefault((p.reason, p.modality), []).append(p)
            for (reason, modality), ps in sorted(by.items()):
                ex = ", ".join(p.name for p in ps[:3]) + (", ..." if len(ps) > 3 else "")
                lines.append(f"{title}: {len(ps)} x {reason} ({modality}): {ex}")
        return "\n".join(lines)

    def log(self, corpus: str) -> None:
        if self.unjoined or self.skipped:
            log.warning("%s: %s", corpus, self.summary().replace("\n", "; "))


def _visible(name: str) -> bool:
    return not name.startswith(".")


def list_subdirs(folder: Path) -> list[str]:
    """Sorted names of the visible sub-folders of ``folder``."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if _visible(e.name) and e.is_dir())
    except FileNotFoundError:
        raise DataError(f"{folder}: folder not found") from None
    except NotADirectoryError:
        raise DataError(f"{folder}: not a folder") from None


def list_loose_files(folder: Path) -> list[str]:
    """Sorted names of visible plain files directly in ``folder``."""
    with os.scandir(folder) as it:
        return sorted(e.name for e in it if _visible(e.name) and e.is_file())


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk_files(
    folder: Path, on_skip: Callable[[str, str, str], None] | None = None
) -> Iterator[str]:
    """Visible files under ``folder`` (recursive, sorted), as POSIX paths relative to it.

    Directory symlinks are followed only when their target lies inside ``folder`` (after
    resolving) and has not been walked already; a link out of ``folder`` (``-> /etc``, or
    into another identity's folder) or back into a folder already walked (a loop) is not
    followed and reported as ``on_skip(rel, reason, message)`` with reason
    ``symlink_outside`` or ``symlink_loop``. Plain strings, not ``pathlib`` objects: on
    100k+ files pathlib's parsing dominates.
    """
    base = os.fspath(folder)
    real_base = os.path.realpath(base)
    seen: set[tuple[int, int]] = set()

    def visit(path: str, rel_dir: str) -> Iterator[str]:
        try:
            st = os.stat(path)
        except OSError:
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(path) as it:
                entries = sorted((e for e in it if _visible(e.name)), key=lambda e: e.name)
        except OSError:
            return
        dirs = []
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                yield rel
                continue
            if e.is_symlink():
                target = os.path.realpath(e.path)
                try:
                    tst = os.stat(target)
                except OSError:
                    continue
                if not _inside(target, real_base):
                    if on_skip:
                        on_skip(
                            rel,
                            "symlink_outside",
                            f"{e.path}: directory link to {target}, outside {real_base}; "
                            "not followed",
                        )
                    continue
                if (tst.st_dev, tst.st_ino) in seen or _inside(os.path.realpath(path), target):
                    if on_skip:
                        on_skip(
                            rel,
                            "symlink_loop",
                            f"{e.path}: directory link to {target}, a folder already walked "
                            "(a loop); not followed",
                        )
                    continue
            dirs.append((e.path, rel))
        for sub, rel in dirs:
            try:
                st_sub = os.stat(sub)
            except OSError:
                continue
            if (st_sub.st_dev, st_sub.st_ino) in seen:
                continue
            yield from visit(sub, rel)

    yield from visit(base, "")


def confine_identity_dirs(
    root: Path, names: list[str], modality: str, report: RecipeReport
) -> list[str]:
    """The identity folders of ``root`` that are safe to scan.

    An identity folder may be a symlink (to storage elsewhere), but not one that resolves
    to ``root`` itself or a folder above it (a loop), nor to the same or a nested folder
    as another identity (both would claim the same media, leaking test into train);
    those are reported (``symlink_loop`` / ``shared_folder``) and left out.
    """
    real_root = os.path.realpath(root)
    real = {n: os.path.realpath(root / n) for n in names}
    out = []
    for n in names:
        r = real[n]
        if _inside(real_root, r):
            report.skip(
                "symlink_loop",
                modality,
                n,
                f"{root / n}: links to {r}, which contains the corpus folder; not scanned",
            )
            continue
        other = next(
            (m for m in names if m != n and (_inside(r, real[m]) or _inside(real[m], r))), None
        )
        if other is not None:
            report.skip(
                "shared_folder",
                modality,
                n,
                f"{root / n}: resolves to {r}, which overlaps identity {other!r} "
                f"({real[other]}); neither is scanned",
            )
            continue
        out.append(n)
    return out


@dataclass(frozen=True)
class Found:
    """A media file found under a root: ``rel`` is relative to the modality root."""

    rel: str
    identity: str
    group: str  # session (voice) or source video (face); "" if none


def scan_identity_folder(
    root: Path,
    prefix: str,
    identity: str,
    modality: str,
    report: RecipeReport,
    *,
    group_level: str = "first",
) -> list[Found]:
    """All supported media under ``root/prefix`` (recursive) for one identity.

    ``group_level`` picks the session / source-video name: ``"first"`` = the first
    sub-folder below the identity folder, ``"parent"`` = the image's own parent folder
    (when it is not the identity folder). Unsupported files are reported and skipped.
    """
    exts = AUDIO_EXTS if modality == "voice" else IMAGE_EXTS
    base = root / prefix
    out: list[Found] = []

    def on_skip(rel: str, reason: str, message: str) -> None:
        report.skip(reason, modality, f"{prefix}/{rel}" if prefix else rel, message)

    for rel in walk_files(base, on_skip):
        full_rel = f"{prefix}/{rel}" if prefix else rel
        parts = rel.split("/")
        ext = os.path.splitext(parts[-1])[1]
        if ext.lower() not in exts:
            report.skip(
                "unsupported_format",
                modality,
                full_rel,
                f"{root / full_rel}: unsupported {modality} file type {ext or '(none)'!r}",
            )
            continue
        if len(parts) == 1:
            group = ""
        elif group_level == "first":
            group = parts[0]
        else:
            group = parts[-2]
        out.append(Found(full_rel, identity, group))
    return out


def _stem(rel: str) -> str:
    """``a/b/c.wav`` -> ``a/b/c`` (the item id)."""
    head, sep, name = rel.rpartition("/")
    stem = os.path.splitext(name)[0] or name
    return f"{head}{sep}{stem}"


def _dedupe(found: Iterable[Found], modality: str, root: Path, report: RecipeReport) -> list[Found]:
    seen: dict[str, str] = {}
    out = []
    for f in found:
        iid = _stem(f.rel)
        if iid in seen:
            report.skip(
                "duplicate_item_id",
                modality,
                f.rel,
                f"{root / f.rel}: item id {iid!r} already used by {seen[iid]!r}; skipped",
            )
            continue
        seen[iid] = f.rel
        out.append(f)
    return out


def build_voice_items(
    root: Path,
    found: Iterable[Found],
    report: RecipeReport,
    *,
    probe: bool = True,
    workers: int | None = None,
    progress: bool = True,
    language: dict[str, str] | None = None,
) -> list[VoiceItem]:
    """Voice items for ``found`` files; unreadable files (when probing) are reported and skipped."""
    files = _dedupe(found, "voice", root, report)
    lang = language or {}
    if not probe:
        return [
            VoiceItem(_stem(f.rel), f.identity, f.rel, 0.0, 0, f.group, lang.get(f.identity, ""))
            for f in files
        ]
    results = probe_many(
        [root / f.rel for f in files], "audio", workers=workers, progress=progress, desc="voices"
    )
    out = []
    for f, r in zip(files, results, strict=True):
        if r.values is None:
            report.skip("unreadable", "voice", f.rel, r.error)
            continue
        dur, sr = r.values
        out.append(
            VoiceItem(
                _stem(f.rel),
                f.identity,
                f.rel,
                float(dur),
                int(sr),
                f.group,
                lang.get(f.identity, ""),
            )
        )
    return out


def build_face_items(
    root: Path,
    found: Iterable[Found],
    report: RecipeReport,
    *,
    probe: bool = True,
    workers: int | None = None,
    progress: bool = True,
) -> list[FaceItem]:
    """Face items for ``found`` files; unreadable files (when probing) are reported and skipped."""
    files = _dedupe(found, "face", root, report)
    if not probe:
        return [FaceItem(_stem(f.rel), f.identity, f.rel, 0, 0, f.group) for f in files]
    results = probe_many(
        [root / f.rel for f in files], "image", workers=workers, progress=progress, desc="faces"
    )
    out = []
    for f, r in zip(files, results, strict=True):
        if r.values is None:
            report.skip("unreadable", "face", f.rel, r.error)
            continue
        w, h = r.values
        out.append(FaceItem(_stem(f.rel), f.identity, f.rel, int(w), int(h), f.group))
    return out


def drop_emptied(
    identities: list[Identity],
    voices: list[VoiceItem],
    faces: list[FaceItem],
    report: RecipeReport,
    keep_unpaired: bool,
) -> tuple[list[Identity], list[VoiceItem], list[FaceItem]]:
    """Leave out identities whose voices or faces were all unreadable (reported, not silent)."""
    if keep_unpaired:
        return identities, voices, faces
    has_v = {v.identity for v in voices}
    has_f = {f.identity for f in faces}
    drop = set()
    for i in identities:
        missing = [m for m, has in (("voice", has_v), ("face", has_f)) if i.id not in has]
        if missing:
            drop.add(i.id)
            report.unjoin(
                "no_readable_media",
                missing[0],
                i.id,
                f"identity {i.id!r}: no readable {' or '.join(missing)} file left after "
                "probing (see meta.skipped); left out",
            )
    if not drop:
        return identities, voices, faces
    return (
        [i for i in identities if i.id not in drop],
        [v for v in voices if v.identity not in drop],
        [f for f in faces if f.identity not in drop],
    )


def build_items(
    identities: list[Identity],
    vroot: Path,
    found_v: Iterable[Found],
    froot: Path,
    found_f: Iterable[Found],
    report: RecipeReport,
    *,
    keep_unpaired: bool,
    probe: bool = True,
    workers: int | None = None,
    progress: bool = True,
    language: dict[str, str] | None = None,
) -> tuple[list[Identity], list[VoiceItem], list[FaceItem]]:
    """Voice and face items of ``identities`` from the found files, then
    :func:`drop_emptied`: the shared tail of every recipe."""
    kept = {i.id for i in identities}
    voices = build_voice_items(
        vroot,
        [f for f in found_v if f.identity in kept],
        report,
        probe=probe,
        workers=workers,
        progress=progress,
        language=language,
    )
    faces = build_face_items(
        froot,
        [f for f in found_f if f.identity in kept],
        report,
        probe=probe,
        workers=workers,
        progress=progress,
    )
    return drop_emptied(identities, voices, faces, report, keep_unpaired)


def find_containers(root: Path, looks_like_identity: Any, candidates: Iterable[str]) -> list[Path]:
    """The folder(s) holding the identity folders: ``root`` itself, else its candidate children.

    ``looks_like_identity(name) -> bool`` recognises an identity folder name (e.g.
    ``idXXXXX``). If ``root`` holds such folders it is the only container; otherwise
    every existing ``root / c`` (``c`` in ``candidates``, e.g. ``wav``, ``dev/aac``) that
    holds some is one. Returns ``[root]`` when nothing matches (its folders are then
    reported as unknown by the recipe).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    if any(looks_like_identity(d) for d in list_subdirs(root)):
        return [root]
    found = []
    for c in candidates:
        sub = root / c
        if sub.is_dir() and any(looks_like_identity(d) for d in list_subdirs(sub)):
            found.append(sub)
    return found or [root]


def report_loose_files(container: Path, modality: str, report: RecipeReport) -> None:
    """Files lying directly in the container (not in an identity folder) are reported."""
    for name in list_loose_files(container):
        report.skip(
            "no_identity_folder",
            modality,
            name,
            f"{container / name}: not inside an identity folder; skipped",
        )
