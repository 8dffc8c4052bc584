"""Recipe for MAV-Celeb (Multilingual Audio-Visual Celebrities; the FAME challenge corpus).

Layout (one folder per language below each identity, as the corpus is distributed)::

    root/
      voices/<identity>/<Language>/<video>/<n>.wav
      faces/<identity>/<Language>/<video>/<n>.jpg
      meta.csv        optional: identity[,gender][,nationality][,language][,split]

Versions (public baseline repository): v1 English/Urdu (70 identities), v2 English/Hindi
(84), v3 English/German (58); every identity speaks both languages, test identities are
unseen in training. Each voice item gets its folder's language (``VoiceItem.language``);
a face item's ``source_video`` is ``<Language>/<video>`` (faces have no language field:
:func:`face_language` reads it back, ``manifest.meta["face_language"]`` says so). Files
directly below an identity folder (no language level) are reported and skipped.

Identities get their split from ``meta.csv`` where it gives one, else a seeded
gender-stratified random split (:func:`split_identities`). :func:`language_subset` then
keeps one language on the training side (FAME: train on English, or on Urdu).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem
from vfbench.data.media import default_workers
from vfbench.data.recipes._scan import (
    Found,
    RecipeReport,
    build_face_items,
    build_items,
    build_voice_items,
    list_subdirs,
    report_loose_files,
    scan_identity_folder,
)
from vfbench.data.recipes.folder import FolderMeta, read_folder_meta
from vfbench.data.recipes.splits import split_identities
from vfbench.errors import DataError
from vfbench.utils.io import sha256_file
from vfbench.utils.provenance import Provenance

#: MAV-Celeb versions and their languages.
VERSIONS: dict[str, tuple[str, str]] = {
    "v1": ("English", "Urdu"),
    "v2": ("English", "Hindi"),
    "v3": ("English", "German"),
}
FACE_LANGUAGE_FROM = "source_video"  # manifest.meta["face_language"]: where it is stored


def _scan(
    root: Path, modality: str, report: RecipeReport, languages: set[str] | None
) -> tuple[list[str], list[Found]]:
    out: list[Found] = []
    report_loose_files(root, modality, report)
    idents = list_subdirs(root)
    for ident in idents:
        for f in scan_identity_folder(root, ident, ident, modality, report):
            parts = f.rel.split("/")  # identity/Language/[video/]file
            if len(parts) < 3:
                report.skip(
                    "no_language_folder",
                    modality,
                    f.rel,
                    f"{root / f.rel}: not inside a <Language> folder of its identity; skipped",
                )
                continue
            lang = parts[1]
            if languages is not None and lang.lower() not in languages:
                continue
            group = f"{lang}/{parts[2]}" if len(parts) > 3 else lang
            out.append(Found(f.rel, ident, group))
    return idents, out


def prepare_mav_celeb(
    root: str | Path,
    *,
    version: str = "",
    languages: Sequence[str] | None = None,
    meta: str | Path | None = None,
    split_seed: int = 0,
    split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
    probe: bool = True,
    workers: int | None = None,
    progress: bool = True,
    keep_unpaired: bool = False,
    name: str = "",
) -> Manifest:
    """Build a manifest from a MAV-Celeb tree (see the module docstring).

    ``version`` (v1/v2/v3) restricts the languages to that version's pair (and is recorded);
    ``languages`` restricts them explicitly. Raises :class:`DataError` for a missing
    ``voices/`` or ``faces/`` folder or when no language folder holds media.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: MAV-Celeb folder not found")
    if version and version not in VERSIONS:
        raise DataError(f"unknown MAV-Celeb version {version!r}; known: {sorted(VERSIONS)}")
    vroot, froot = root / "voices", root / "faces"
    for sub in (vroot, froot):
        if not sub.is_dir():
            raise DataError(
                f"{sub}: missing; MAV-Celeb needs voices/<id>/<Language>/... and faces/<id>/<Language>/..."
            )
    wanted = list(languages) if languages else list(VERSIONS[version]) if version else None
    lang_set = {x.lower() for x in wanted} if wanted else None
    meta_path = Path(meta) if meta is not None else root / "meta.csv"
    table = read_folder_meta(meta_path) if (meta is not None or meta_path.is_file()) else {}
    report = RecipeReport()
    workers = default_workers() if workers is None else workers
    _, found_v = _scan(vroot, "voice", report, lang_set)
    _, found_f = _scan(froot, "face", report, lang_set)
    if not found_v or not found_f:
        side = "voice" if not found_v else "face"
        raise DataError(
            f"{vroot if side == 'voice' else froot}: no {side} files in <identity>/<Language>/ "
            f"folders{f' for languages {wanted}' if wanted else ''}"
        )
    has_v = {f.identity for f in found_v}
    has_f = {f.identity for f in found_f}
    keep = (has_v | has_f) if keep_unpaired else (has_v & has_f)
    for ident in sorted((has_v ^ has_f) - keep):
        side = "voice_only" if ident in has_v else "face_only"
        report.unjoin(side, "voice" if ident in has_v else "face", ident,
                      f"identity {ident!r} has {side.split('_')[0]}s only; left out")  # fmt: skip
    for ident in sorted(keep - set(table)) if table else []:
        report.unjoin("not_in_meta", "meta", ident, f"{meta_path}: no row for identity {ident!r}")
    rows = {i: table.get(i, FolderMeta(i)) for i in keep}
    given = {i: r.split for i, r in rows.items() if r.split}
    rest = sorted(i for i in keep if i not in given)
    auto = split_identities(
        rest, split_ratios, split_seed, genders={i: rows[i].gender for i in rest}
    )
    identities = [
        Identity(
            id=i,
            gender=rows[i].gender,
            nationality=rows[i].nationality,
            language=rows[i].language,
            split=given.get(i) or auto[i],
            voice_source_id=i,
            face_source_id=i,
        )
        for i in sorted(keep)
    ]
    identities, voices, faces = build_items(
        identities, vroot, found_v, froot, found_f, report,
        keep_unpaired=keep_unpaired, probe=probe, workers=workers, progress=progress,
    )  # fmt: skip
    # the language is the folder below the identity; the session keeps language/video
    voices = [replace(v, language=v.path.split("/")[1]) for v in voices]
    report.log("mav-celeb")
    langs = sorted({v.language for v in voices} | {f.source_video.split("/")[0] for f in faces})
    return Manifest(
        identities=identities,
        voices=voices,
        faces=faces,
        voice_root=vroot.resolve(),
        face_root=froot.resolve(),
        name=name or (f"mav-celeb-{version}" if version else root.resolve().name),
        meta={
            "recipe": "mav-celeb",
            "version": version,
            "languages": langs,
            "face_language": FACE_LANGUAGE_FROM,
            "source": str(root.resolve()),
            "split": {
                "from_meta": len(given),
                "random": len(rest),
                "seed": split_seed,
                "ratios": list(split_ratios),
            },  # fmt: skip
            "probed": probe,
            "session_scope": "identity",
            "provenance": Provenance(
                command="mav-celeb",
                seed=split_seed,
                config={"root": str(root.resolve()), "version": version, "languages": wanted},
                inputs={"meta.csv": sha256_file(meta_path)} if table else {},
            ).to_dict(),
            **report.to_meta(),
        },
    )


# ------------------------------------------------------------------- official test set
def prepare_test_lists(
    root: str | Path,
    pairs: Iterable[tuple[str, str]],
    *,
    probe: bool = True,
    workers: int | None = None,
    progress: bool = True,
    name: str = "",
) -> Manifest:
    """A manifest of the media a FAME test list names (``voices/<Lang>/<n>.wav``,
    ``faces/<Lang>/<n>.jpg`` under ``root``), to preprocess and embed the official
    (anonymised) test set. Every file is its own identity (``voice:<id>`` / ``face:<id>``:
    the people are unknown), split ``test``; the language is the folder below
    ``voices/``/``faces/``. A listed file that does not exist raises :class:`DataError`.
    """

    root = Path(root)
    found: dict[str, dict[str, Found]] = {"voice": {}, "face": {}}
    for vpath, fpath in pairs:
        for mod, head, path in (("voice", "voices/", vpath), ("face", "faces/", fpath)):
            if not path.startswith(head):
                raise DataError(f"{path}: a FAME list {mod} path must start with {head!r}")
            rel = path[len(head) :]
            if rel not in found[mod]:
                if not (root / head / rel).is_file():
                    raise DataError(f"{root / head / rel}: listed {mod} file not found")
                lang = rel.split("/", 1)[0] if "/" in rel else ""
                stem = rel.rsplit(".", 1)[0]
                found[mod][rel] = Found(rel, f"{mod}:{stem}", lang)
    if not found["voice"]:
        raise DataError("the test lists name no files")
    report = RecipeReport()
    workers = default_workers() if workers is None else workers
    voices = build_voice_items(root / "voices", found["voice"].values(), report,
                               probe=probe, workers=workers, progress=progress)  # fmt: skip
    faces = build_face_items(root / "faces", found["face"].values(), report,
                             probe=probe, workers=workers, progress=progress)  # fmt: skip
    voices = [replace(v, language=v.session) for v in voices]  # session = language folder
    if report.skipped:
        raise DataError(f"{root}: listed media could not be used: {report.skipped[0].message}")
    identities = [
        Identity(i, split="test")
        for i in sorted({v.identity for v in voices} | {f.identity for f in faces})
    ]
    return Manifest(
        identities=identities,
        voices=voices,
        faces=faces,
        voice_root=(root / "voices").resolve(),
        face_root=(root / "faces").resolve(),
        name=name or f"{root.resolve().name}-test",
        meta={
            "recipe": "fame-test-lists",
            "face_language": FACE_LANGUAGE_FROM,
            "session_scope": "identity",
            "source": str(root.resolve()),
            "probed": probe,
        },
    )


# ------------------------------------------------------------------------ languages
def voice_language(manifest: Manifest, item: VoiceItem) -> str:
    """A voice's language: its own, else its identity's ("" if neither is known)."""
    if item.language:
        return item.language
    ident = manifest.identity_map().get(item.identity)
    return ident.language if ident is not None else ""


def face_language(manifest: Manifest, item: FaceItem) -> str:
    """A face's language: the first part of ``source_video`` in manifests that store it
    there (MAV-Celeb, imported features with languages), else its identity's."""
    if manifest.meta.get("face_language") == FACE_LANGUAGE_FROM and item.source_video:
        return item.source_video.split("/", 1)[0]
    ident = manifest.identity_map().get(item.identity)
    return ident.language if ident is not None else ""


def languages_of(manifest: Manifest, split: str | None = None) -> list[str]:
    """Languages of the voices (of ``split``'s identities), sorted."""
    keep = {i.id for i in manifest.identities if split is None or i.split == split}
    by_id = manifest.identity_map()
    out = set()
    for v in manifest.voices:
        if v.identity in keep:
            out.add(v.language or by_id[v.identity].language)
    return sorted(x for x in out if x)


def language_subset(
    manifest: Manifest, language: str, splits: Iterable[str] = ("train", "val")
) -> Manifest:
    """The manifest with only ``language`` items (case-insensitive) in ``splits`` (the
    training side); other splits (the test identities) keep every language.

    Works on item-level languages (MAV-Celeb: every identity speaks both) and on
    identity-level ones (a collected corpus: an identity speaks one language). Identities
    of ``splits`` left without voices or faces are dropped. Raises :class:`DataError`
    when the training side ends up empty (naming the languages present).
    """
    lang = language.strip().lower()
    sp = set(splits)
    split_of = {i.id: i.split for i in manifest.identities}
    voices = [
        v for v in manifest.voices
        if split_of.get(v.identity) not in sp or voice_language(manifest, v).lower() == lang
    ]  # fmt: skip
    faces = [
        f for f in manifest.faces
        if split_of.get(f.identity) not in sp or face_language(manifest, f).lower() == lang
    ]  # fmt: skip
    has_v, has_f = {v.identity for v in voices}, {f.identity for f in faces}
    idents = [
        i for i in manifest.identities if i.split not in sp or (i.id in has_v and i.id in has_f)
    ]
    keep = {i.id for i in idents}
    if not any(i.split in sp for i in idents):
        raise DataError(
            f"manifest {manifest.name!r}: no {sorted(sp)} identity has both voices and faces in "
            f"language {language!r}; languages present: {languages_of(manifest)}"
        )
    return Manifest(
        identities=idents,
        voices=[v for v in voices if v.identity in keep],
        faces=[f for f in faces if f.identity in keep],
        voice_root=manifest.voice_root,
        face_root=manifest.face_root,
        name=f"{manifest.name}-{language}",
        meta={**manifest.meta, "train_language": language, "language_splits": sorted(sp)},
    )
