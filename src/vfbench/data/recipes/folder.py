"""Recipe for any folder tree: ``faces/<identity>/**/<img>`` + ``voices/<identity>/**/<audio>``.

Layout::

    root/
      voices/<identity>/[<session>/...]<n>.wav|flac|ogg|m4a|aac|mp3|mp4|webm
      faces/<identity>/[<source video>/...]<n>.jpg|jpeg|png|bmp|webp
      meta.csv        optional: identity[,gender][,nationality][,language][,split][,any other]

The first sub-folder below the identity folder (if any) is the voice ``session`` /
face ``source_video``. ``meta.csv`` is a comma CSV with a header naming any of the
columns above (``identity`` is required); gender accepts m/f/male/female in any case.
Any other column (``source``, ``corpus``, ``channel``, ``recording`` ...) is kept in the
manifest as ``Identity.extra``. If the meta gives a split for an identity it is used
(train/val/test or an alias; other names only with ``custom_splits``), otherwise
identities get a seeded random split (gender-stratified, :func:`split_identities`).

Directory symlinks inside the corpus are followed only when they point to a folder inside
the same modality root and not back into a folder being walked (a loop): a link out of the
corpus (``-> /etc``) or into another identity's folder is reported and skipped, so one
identity can never absorb another's media (see :func:`~._scan.walk_files`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vfbench.data.manifest import (
    KNOWN_SPLITS,
    SPLIT_ALIASES,
    Identity,
    Manifest,
    check_extra_column,
    normalise_split,
)
from vfbench.data.media import default_workers
from vfbench.data.recipes._scan import (
    Found,
    RecipeReport,
    build_items,
    confine_identity_dirs,
    list_subdirs,
    report_loose_files,
    scan_identity_folder,
)
from vfbench.data.recipes.splits import split_identities
from vfbench.errors import DataError, ManifestError
from vfbench.utils.io import read_text_file, sha256_file
from vfbench.utils.provenance import Provenance

META_COLUMNS = ("identity", "gender", "nationality", "language", "split")
_GENDER = {"m": "m", "male": "m", "f": "f", "female": "f", "": ""}


def normalise_gender(raw: str) -> str | None:
    """``"m"``, ``"f"`` or ``""`` for m/f/male/female (any case, padded); None if unknown."""
    return _GENDER.get(raw.strip().lower())


@dataclass(frozen=True)
class FolderMeta:
    """One row of a folder corpus' ``meta.csv``; ``extra``: its other columns (name -> value)."""

    identity: str
    gender: str = ""
    nationality: str = ""
    language: str = ""
    split: str = ""
    extra: dict[str, str] = field(default_factory=dict, hash=False)


def read_folder_meta(path: str | Path, *, custom_splits: bool = False) -> dict[str, FolderMeta]:
    """Read ``meta.csv`` (comma CSV; BOM, CRLF and padded fields tolerated; UTF-8, or
    UTF-16/32 with a byte-order mark).

    Raises :class:`ManifestError` naming file and line for: no ``identity`` column, an
    empty identity, an identity listed twice, an unknown gender, or an unknown split name
    (``tset``; the aliases of :data:`SPLIT_ALIASES` are accepted, and any name with
    ``custom_splits=True``). Columns other than the known ones (``source``, ``corpus``,
    ``channel`` ...) are kept in :attr:`FolderMeta.extra` (column names lower-cased).
    """
    path = Path(path)
    out: dict[str, FolderMeta] = {}
    first_line: dict[str, int] = {}
    reader = csv.reader(io.StringIO(read_text_file(path, "meta file"), newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ManifestError("empty file (no header)", path, 1) from None
    if "identity" not in header:
        raise ManifestError(
            f"no 'identity' column in header {header}; expected some of {list(META_COLUMNS)}",
            path,
            1,
        )
    for k, h in enumerate(header):
        if h in header[:k]:
            raise ManifestError(f"column {h!r} appears twice in the header", path, 1)
        if h not in META_COLUMNS:
            why = check_extra_column(h)
            if why:
                raise ManifestError(f"column {k + 1}: {why}", path, 1)
    col = {c: header.index(c) for c in META_COLUMNS if c in header}
    extra_col = {h: k for k, h in enumerate(header) if h not in META_COLUMNS}
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise ManifestError(f"expected {len(header)} fields, found {len(row)}", path, lineno)
        vals = {c: row[i].strip() for c, i in col.items()}
        ident = vals["identity"]
        if not ident:
            raise ManifestError("empty identity", path, lineno)
        if ident in out:
            raise ManifestError(
                f"identity {ident!r} listed twice (first on line {first_line[ident]})",
                path,
                lineno,
            )
        g = normalise_gender(vals.get("gender", ""))
        if g is None:
            raise ManifestError(
                f"identity {ident!r}: gender {vals['gender']!r} is not one of "
                "m/f/male/female (or empty)",
                path,
                lineno,
            )
        raw_split = vals.get("split", "")
        split = normalise_split(raw_split)
        if split is None:
            if not custom_splits:
                raise ManifestError(
                    f"identity {ident!r}: split {raw_split!r} is not one of "
                    f"{'/'.join(KNOWN_SPLITS)} (aliases: "
                    f"{', '.join(sorted(k for k in SPLIT_ALIASES if k not in KNOWN_SPLITS))}); "
                    "a custom split name needs --custom-splits",
                    path,
                    lineno,
                )
            split = raw_split.lower()
        out[ident] = FolderMeta(
            identity=ident,
            gender=g,
            nationality=vals.get("nationality", ""),
            language=vals.get("language", ""),
            split=split,
            extra={h: row[i].strip() for h, i in extra_col.items()},
        )
        first_line[ident] = lineno
    return out


def prepare_folder(
    root: str | Path,
    *,
    meta: str | Path | None = None,
    split_seed: int = 0,
    split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
    probe: bool = True,
    workers: int | None = None,
    progress: bool = True,
    keep_unpaired: bool = False,
    name: str = "",
    use_meta_split: bool = True,
    custom_splits: bool = False,
) -> Manifest:
    """Build a manifest from ``root/voices`` + ``root/faces`` (+ optional ``root/meta.csv``).

    Args:
        root: corpus folder holding ``voices/`` and ``faces/``.
        meta: identity table; default ``root/meta.csv`` if it exists.
        split_seed, split_ratios: seeded random split (train, val, test) for identities
            whose split the meta does not give.
        probe: read durations / sample rates / image sizes (``False`` fills 0).
        workers: probing threads (default: :func:`default_workers`).
        keep_unpaired: keep identities with only voices or only faces (default: report
            them in ``meta["unjoined"]`` and leave them out).
        use_meta_split: take the split from the meta where given (``False``: a random
            split for every identity, ignoring the meta's split column).
        custom_splits: accept split names other than train/val/test and their aliases.

    Returns the manifest; ``voice_root``/``face_root`` are ``root/voices`` and ``root/faces``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: corpus folder not found")
    vroot, froot = root / "voices", root / "faces"
    for sub in (vroot, froot):
        if not sub.is_dir():
            raise DataError(
                f"{sub}: missing; a folder corpus needs voices/<identity>/... and faces/<identity>/..."
            )
    meta_path = Path(meta) if meta is not None else root / "meta.csv"
    table = (
        read_folder_meta(meta_path, custom_splits=custom_splits)
        if (meta is not None or meta_path.exists())
        else {}
    )
    report = RecipeReport()
    workers = default_workers() if workers is None else workers

    found_v: list[Found] = []
    found_f: list[Found] = []
    report_loose_files(vroot, "voice", report)
    report_loose_files(froot, "face", report)
    v_ids = confine_identity_dirs(vroot, list_subdirs(vroot), "voice", report)
    f_ids = confine_identity_dirs(froot, list_subdirs(froot), "face", report)
    for ident in v_ids:
        found_v += scan_identity_folder(vroot, ident, ident, "voice", report)
    for ident in f_ids:
        found_f += scan_identity_folder(froot, ident, ident, "face", report)

    has_v = {f.identity for f in found_v}
    has_f = {f.identity for f in found_f}
    for ident in sorted(set(v_ids) - has_v):
        report.unjoin("no_media", "voice", ident, f"{vroot / ident}: no supported audio files")
    for ident in sorted(set(f_ids) - has_f):
        report.unjoin("no_media", "face", ident, f"{froot / ident}: no supported image files")
    if keep_unpaired:
        keep = has_v | has_f
    else:
        keep = has_v & has_f
        for ident in sorted(has_v - has_f):
            report.unjoin(
                "voice_only",
                "voice",
                ident,
                f"identity {ident!r} has voices but no faces; left out",
            )
        for ident in sorted(has_f - has_v):
            report.unjoin(
                "face_only", "face", ident, f"identity {ident!r} has faces but no voices; left out"
            )
    if table:
        for ident in sorted(keep - set(table)):
            report.unjoin(
                "not_in_meta", "meta", ident, f"{meta_path}: no row for identity {ident!r}"
            )
        for ident in sorted(set(table) - has_v - has_f):
            report.unjoin(
                "meta_only", "meta", ident, f"{meta_path}: identity {ident!r} has no media folder"
            )

    rows = {i: table.get(i, FolderMeta(i)) for i in keep}
    given = {i: r.split for i, r in rows.items() if r.split and use_meta_split}
    rest = sorted(i for i in keep if i not in given)
    random_split = split_identities(
        rest,
        split_ratios,
        split_seed,
        stratify_by_gender=True,
        genders={i: rows[i].gender for i in rest},
    )
    identities = [
        Identity(
            id=i,
            gender=rows[i].gender,
            nationality=rows[i].nationality,
            language=rows[i].language,
            split=given.get(i) or random_split[i],
            voice_source_id=i if i in has_v else "",
            face_source_id=i if i in has_f else "",
            extra=dict(rows[i].extra),
        )
        for i in sorted(keep)
    ]
    lang = {i: rows[i].language for i in keep}
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
        language=lang,
    )
    report.log("folder")
    return Manifest(
        identities=identities,
        voices=voices,
        faces=faces,
        voice_root=vroot.resolve(),
        face_root=froot.resolve(),
        name=name or root.resolve().name,
        meta={
            "recipe": "folder",
            "source": str(root.resolve()),
            "meta_file": str(meta_path.resolve()) if table else None,
            "split": {
                "from_meta": len(given),
                "random": len(rest),
                "seed": split_seed,
                "ratios": list(split_ratios),
            },
            "probed": probe,
            # session names are folder names chosen per identity ("s1"), not global ids
            "session_scope": "identity",
            "provenance": Provenance(
                command="folder",
                seed=split_seed,
                config={"root": str(root.resolve()), "split_ratios": list(split_ratios)},
                inputs={"meta.csv": sha256_file(meta_path)} if table else {},
            ).to_dict(),
            **report.to_meta(),
        },
    )
