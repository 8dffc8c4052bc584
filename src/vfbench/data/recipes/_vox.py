"""Shared assembly of the VoxCeleb + VGGFace recipes: pair folders, split, probe, report."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfbench.data.manifest import Identity, Manifest
from vfbench.data.recipes._meta import VoxMetaRow
from vfbench.data.recipes._scan import (
    Found,
    RecipeReport,
    build_items,
    find_containers,
    list_subdirs,
    report_loose_files,
    scan_identity_folder,
)
from vfbench.utils.io import sha256_file
from vfbench.utils.provenance import Provenance


@dataclass(frozen=True)
class MediaDir:
    """An identity folder: ``prefix`` relative to the modality root, ``folder`` its own name."""

    prefix: str
    folder: str


def identity_dirs(
    root: Path,
    looks_like_identity: Callable[[str], bool],
    candidates: Iterable[str],
    modality: str,
    report: RecipeReport,
) -> tuple[Path, list[MediaDir]]:
    """The modality root and its identity folders (in one or several containers).

    With one container (``root``, or e.g. ``root/wav``) the container becomes the root,
    so item ids do not depend on which of the two the user passed. With several (e.g.
    VoxCeleb2 ``dev/aac`` + ``test/aac``) ``root`` stays the root and prefixes carry the
    container path.
    """
    containers = find_containers(root, looks_like_identity, candidates)
    mroot = containers[0] if len(containers) == 1 else Path(root)
    out = []
    for c in containers:
        report_loose_files(c, modality, report)
        rel = os.path.relpath(c, mroot)
        for d in list_subdirs(c):
            prefix = d if rel == "." else f"{Path(rel).as_posix()}/{d}"
            out.append(MediaDir(prefix, d))
    return mroot.resolve(), out


def assemble(
    *,
    corpus: str,
    vroot: Path,
    froot: Path,
    voice_dirs: list[tuple[MediaDir, str]],
    face_dirs: list[tuple[MediaDir, str]],
    rows: dict[str, VoxMetaRow],
    split_of: Callable[[list[str]], dict[str, str]],
    report: RecipeReport,
    probe: bool,
    workers: int | None,
    progress: bool,
    keep_unpaired: bool,
    face_group_level: str,
    meta_files: dict[str, Path],
    config: dict[str, Any],
) -> Manifest:
    """Pair voice and face folders already mapped to identity ids, split, probe, build.

    ``voice_dirs`` / ``face_dirs``: (folder, identity id) for every folder that joined
    the meta. ``split_of(ids)`` returns ``{id: split}``; ids it leaves out are excluded
    (the caller reports why).
    """
    found_v: list[Found] = []
    for md, ident in voice_dirs:
        found_v += scan_identity_folder(vroot, md.prefix, ident, "voice", report)
    found_f: list[Found] = []
    face_name: dict[str, str] = {}
    for md, ident in face_dirs:
        found_f += scan_identity_folder(
            froot, md.prefix, ident, "face", report, group_level=face_group_level
        )
        face_name.setdefault(ident, md.folder)
    has_v = {f.identity for f in found_v}
    has_f = {f.identity for f in found_f}
    for md, ident in voice_dirs:
        if ident not in has_v:
            report.unjoin("no_media", "voice", md.prefix, f"{vroot / md.prefix}: no audio files")
    for md, ident in face_dirs:
        if ident not in has_f:
            report.unjoin("no_media", "face", md.prefix, f"{froot / md.prefix}: no image files")
    if keep_unpaired:
        paired = has_v | has_f
    else:
        paired = has_v & has_f
        for ident in sorted(has_v - has_f):
            report.unjoin(
                "voice_only",
                "voice",
                ident,
                f"{ident} ({rows[ident].face_id}) has voices but no face folder "
                f"{rows[ident].face_id!r} under {froot}; left out",
            )
        for ident in sorted(has_f - has_v):
            report.unjoin(
                "face_only",
                "face",
                ident,
                f"{ident} ({face_name[ident]}) has faces but no voice folder {ident!r} "
                f"under {vroot}; left out",
            )
    split = split_of(sorted(paired))
    keep = sorted(i for i in paired if i in split)
    identities = [
        Identity(
            id=i,
            gender=rows[i].gender,
            nationality=rows[i].nationality,
            language="",
            split=split[i],
            voice_source_id=i if i in has_v else "",
            face_source_id=face_name.get(i, ""),
        )
        for i in keep
    ]
    identities, voices, faces = build_items(
        identities,
        vroot,
        found_v,
        froot,
        found_f,
        report,
        keep_unpaired=keep_unpaired,
        probe=probe,
        workers=workers,
        progress=progress,
    )
    report.log(corpus)
    prov = Provenance(
        command=corpus,
        seed=config.get("seed"),
        config=config,
        inputs={k: sha256_file(p) for k, p in meta_files.items()},
    )
    return Manifest(
        identities=identities,
        voices=voices,
        faces=faces,
        voice_root=vroot,
        face_root=froot,
        name=corpus,
        meta={
            "recipe": corpus,
            "config": config,
            "probed": probe,
            # VoxCeleb sessions are YouTube ids: the same id under two identities is one video
            "session_scope": "global",
            "provenance": prov.to_dict(),
            **report.to_meta(),
        },
    )
