"""Recipe ``vox-vgg1``: VoxCeleb1 audio + VGGFace1 faces, joined by ``vox1_meta.csv``.

Layouts::

    audio_root/[wav/]idXXXXX/<YouTube id>/<n>.wav     (VoxCeleb1; m4a/flac/... also read)
    face_root/<VGGFace1 name>/[...]/<n>.jpg            (e.g. A.J._Buckley/00000001.jpg)

``audio_root`` may be the folder holding the ``idXXXXX`` folders or its parent (with
``wav/``, or ``dev/wav`` + ``test/wav``). Identity ids are VoxCeleb1 ids; a face
folder is joined through the meta's VGGFace1 name (exactly, else by a unique
spelling-tolerant match, which is reported). Splits:

* ``"dimnet"`` (default): the DIMNet/SSNet split, 924/112/189 identities. The 26
  identities marked ``Set == none`` in those files get no split: SSNet skips them, so we
  leave them out of the manifest and report each one (``meta["unjoined"]``, reason
  ``split_none``) to keep the published sizes.
* ``"pins"``: the Learnable-PINs split 901/100/250 (test = unseen-unheard).
* ``"random"``: a seeded gender-stratified split by identity (``split_ratios``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from vfbench.data.manifest import Manifest
from vfbench.data.recipes._meta import (
    RESOURCES,
    name_key,
    read_dimnet_split,
    read_pins_split,
    read_vox1_meta,
    resource,
)
from vfbench.data.recipes._scan import RecipeReport
from vfbench.data.recipes._vox import MediaDir, assemble, identity_dirs
from vfbench.data.recipes.splits import split_identities
from vfbench.errors import ConfigError

SPLITS = ("dimnet", "pins", "random")
_VOX1_ID = re.compile(r"^id1\d{4}$")


def is_vox1_id(name: str) -> bool:
    return bool(_VOX1_ID.match(name))


def prepare_vox_vgg1(
    audio_root: str | Path,
    face_root: str | Path,
    *,
    split: str = "dimnet",
    seed: int = 0,
    split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
    probe: bool = True,
    workers: int | None = None,
    progress: bool = True,
    keep_unpaired: bool = False,
    meta: str | Path | None = None,
    splits_dir: str | Path | None = None,
) -> Manifest:
    """Build the VoxCeleb1 + VGGFace1 manifest.

    Args:
        audio_root: VoxCeleb1 ``wav`` folder (or its parent).
        face_root: folder of VGGFace1 ``<Name>`` folders.
        split: ``"dimnet"`` | ``"pins"`` | ``"random"`` (see module doc).
        seed, split_ratios: for ``split="random"``.
        probe: read durations / sample rates / image sizes (``False`` fills 0).
        workers: probing threads.
        keep_unpaired: keep identities with only voices or only faces.
        meta: ``vox1_meta.csv`` to use (default: the packaged copy).
        splits_dir: folder of the split files (``vox1_*.csv`` for dimnet,
            ``identity_splits.txt`` for pins); default: the packaged copies.

    Identities that cannot be joined or split are reported in ``meta["unjoined"]``
    (and logged), never silently dropped.
    """
    if split not in SPLITS:
        raise ConfigError(f"split {split!r} is not one of {list(SPLITS)}")
    meta_path = Path(meta) if meta is not None else resource("vox1_meta.csv")
    rows = {r.id: r for r in read_vox1_meta(meta_path)}
    by_name = {r.face_id: r.id for r in rows.values()}
    by_key: dict[str, list[str]] = {}
    for r in rows.values():
        by_key.setdefault(name_key(r.face_id), []).append(r.face_id)
    report = RecipeReport()

    vroot, vdirs = identity_dirs(
        Path(audio_root), is_vox1_id, ("wav", "dev/wav", "test/wav"), "voice", report
    )
    voice_dirs: list[tuple[MediaDir, str]] = []
    for md in vdirs:
        if md.folder in rows:
            voice_dirs.append((md, md.folder))
        else:
            report.unjoin(
                "not_in_meta",
                "voice",
                md.prefix,
                f"{vroot / md.prefix}: {md.folder!r} is not a VoxCeleb1 id in {meta_path}",
            )

    froot, fdirs = identity_dirs(Path(face_root), lambda n: n in by_name, (), "face", report)
    face_dirs: list[tuple[MediaDir, str]] = []
    exact = {md.folder for md in fdirs if md.folder in by_name}
    taken: dict[str, str] = {}
    for md in fdirs:
        name = md.folder
        if name not in by_name:
            cands = [c for c in by_key.get(name_key(name), []) if c not in exact]
            if len(cands) != 1:
                report.unjoin(
                    "not_in_meta",
                    "face",
                    md.prefix,
                    f"{froot / md.prefix}: folder {name!r} is not a VGGFace1 name in {meta_path}"
                    + (f" (ambiguous: {cands})" if cands else ""),
                )
                continue
            report.unjoin(
                "joined_by_spelling",
                "face",
                md.prefix,
                f"{froot / md.prefix}: folder {name!r} joined to VGGFace1 name {cands[0]!r} "
                f"({by_name[cands[0]]}) by spelling-tolerant match",
            )
            name = cands[0]
        ident = by_name[name]
        if ident in taken:
            report.unjoin(
                "duplicate_folder",
                "face",
                md.prefix,
                f"{froot / md.prefix}: {ident} ({name}) already has face folder "
                f"{taken[ident]!r}; skipped",
            )
            continue
        taken[ident] = md.prefix
        face_dirs.append((md, ident))

    meta_files = {"vox1_meta": meta_path}

    def split_of(ids: list[str]) -> dict[str, str]:
        if split == "random":
            return split_identities(
                ids, split_ratios, seed, genders={i: rows[i].gender for i in ids}
            )
        if split == "dimnet":
            d = Path(splits_dir) if splits_dir is not None else RESOURCES / "splits" / "dimnet"
            ds = read_dimnet_split(d)
            for s in ("train", "val", "test"):
                meta_files[f"dimnet_{s}"] = d / f"vox1_{s}.csv"
            out = {}
            for i in ids:
                if i in ds.split:
                    out[i] = ds.split[i]
                elif i in ds.excluded:
                    report.unjoin(
                        "split_none",
                        "split",
                        i,
                        f"{i} ({rows[i].face_id}) is marked Set=none in "
                        f"{d / ('vox1_' + ds.excluded[i] + '.csv')} (DIMNet/SSNet skip it); "
                        "left out",
                    )
                else:
                    report.unjoin(
                        "not_in_split", "split", i, f"{i} is in no DIMNet split file in {d}"
                    )
            return out
        p = (
            Path(splits_dir) / "identity_splits.txt"
            if splits_dir is not None
            else RESOURCES / "splits" / "pins" / "identity_splits.txt"
        )
        pins = read_pins_split(p)
        meta_files["pins"] = p
        out = {}
        for i in ids:
            name = rows[i].face_id
            if name in pins:
                out[i] = pins[name]
            else:
                report.unjoin("not_in_split", "split", i, f"{i} ({name}) is not in {p}")
        return out

    return assemble(
        corpus="vox-vgg1",
        vroot=vroot,
        froot=froot,
        voice_dirs=voice_dirs,
        face_dirs=face_dirs,
        rows=rows,
        split_of=split_of,
        report=report,
        probe=probe,
        workers=workers,
        progress=progress,
        keep_unpaired=keep_unpaired,
        face_group_level="parent",
        meta_files=meta_files,
        config={
            "audio_root": str(Path(audio_root).resolve()),
            "face_root": str(Path(face_root).resolve()),
            "split": split,
            "seed": seed,
            "split_ratios": list(split_ratios),
            "keep_unpaired": keep_unpaired,
        },
    )
