"""Recipe ``vox-vgg2``: VoxCeleb2 audio + VGGFace2 faces, joined by ``vox2_meta.csv``.

Layouts::

    audio_root/[aac/|wav/|dev/aac/ + test/aac/]idXXXXX/<YouTube id>/<n>.m4a|.wav
    face_root/[train/|test/]n00XXXX/<img>.jpg

VoxCeleb2 ids and VGGFace2 ids are joined through the table, never by their digits
(they differ for 4,883 of 6,114 identities, e.g. ``id00134`` <-> ``n000140``).
Splits come from the meta's Set column: ``dev`` -> ``train`` (5,994), ``test`` ->
``test`` (120 in the meta, of which 118 have utterances: ``id04170`` and ``id05348``
are simply absent from the audio and so from the manifest). ``val_fraction`` carves a
seeded, gender-stratified ``val`` split out of the dev identities. ``split="random"``
ignores the Set column and splits all identities by ``split_ratios``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from vfbench.data.manifest import Manifest
from vfbench.data.recipes._meta import read_vox2_meta, resource
from vfbench.data.recipes._scan import RecipeReport
from vfbench.data.recipes._vox import MediaDir, assemble, identity_dirs
from vfbench.data.recipes.splits import split_identities
from vfbench.errors import ConfigError

SPLITS = ("meta", "random")
_VOX2_ID = re.compile(r"^id0\d{4}$")
_VGG2_ID = re.compile(r"^n\d{6}$")
SET_TO_SPLIT = {"dev": "train", "test": "test"}


def prepare_vox_vgg2(
    audio_root: str | Path,
    face_root: str | Path,
    *,
    split: str = "meta",
    val_fraction: float = 0.0,
    seed: int = 0,
    split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
    probe: bool = True,
    workers: int | None = None,
    progress: bool = True,
    keep_unpaired: bool = False,
    meta: str | Path | None = None,
) -> Manifest:
    """Build the VoxCeleb2 + VGGFace2 manifest.

    Args:
        audio_root: VoxCeleb2 ``aac`` (or ``wav``) folder, or a parent of it / of
            ``dev/aac`` and ``test/aac``.
        face_root: folder of VGGFace2 ``n00XXXX`` folders, or a parent of ``train/`` and
            ``test/``.
        split: ``"meta"`` (Set column) or ``"random"``.
        val_fraction: with ``split="meta"``, the fraction of dev identities moved to
            ``val`` (seeded by ``seed``; 0 = none).
        probe, workers, progress, keep_unpaired: as in :func:`prepare_vox_vgg1`.
        meta: ``vox2_meta.csv`` (default: the packaged copy).
    """
    if split not in SPLITS:
        raise ConfigError(f"split {split!r} is not one of {list(SPLITS)} for vox-vgg2")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    meta_path = Path(meta) if meta is not None else resource("vox2_meta.csv")
    rows = {r.id: r for r in read_vox2_meta(meta_path)}
    by_face = {r.face_id: r.id for r in rows.values()}
    report = RecipeReport()

    vroot, vdirs = identity_dirs(
        Path(audio_root),
        lambda n: bool(_VOX2_ID.match(n)),
        ("aac", "wav", "dev/aac", "test/aac", "dev/wav", "test/wav"),
        "voice",
        report,
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
                f"{vroot / md.prefix}: {md.folder!r} is not a VoxCeleb2 id in {meta_path}",
            )
    froot, fdirs = identity_dirs(
        Path(face_root), lambda n: bool(_VGG2_ID.match(n)), ("train", "test"), "face", report
    )
    face_dirs: list[tuple[MediaDir, str]] = []
    for md in fdirs:
        if md.folder in by_face:
            face_dirs.append((md, by_face[md.folder]))
        else:
            report.unjoin(
                "not_in_meta",
                "face",
                md.prefix,
                f"{froot / md.prefix}: {md.folder!r} is not a VGGFace2 id of a VoxCeleb2 "
                f"identity in {meta_path}",
            )

    def split_of(ids: list[str]) -> dict[str, str]:
        genders = {i: rows[i].gender for i in ids}
        if split == "random":
            return split_identities(ids, split_ratios, seed, genders=genders)
        out: dict[str, str] = {}
        for i in ids:
            s = rows[i].set.lower()
            if s in SET_TO_SPLIT:
                out[i] = SET_TO_SPLIT[s]
            else:
                report.unjoin(
                    "unknown_set", "split", i, f"{meta_path}:{rows[i].line}: Set {s!r} of {i}"
                )
        if val_fraction > 0:
            dev = [i for i, s in out.items() if s == "train"]
            carve = split_identities(
                dev,
                (1.0 - val_fraction, val_fraction),
                seed,
                genders=genders,
                names=("train", "val"),
            )
            out.update(carve)
        return out

    return assemble(
        corpus="vox-vgg2",
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
        face_group_level="first",
        meta_files={"vox2_meta": meta_path},
        config={
            "audio_root": str(Path(audio_root).resolve()),
            "face_root": str(Path(face_root).resolve()),
            "split": split,
            "val_fraction": val_fraction,
            "seed": seed,
            "split_ratios": list(split_ratios),
            "keep_unpaired": keep_unpaired,
        },
    )
