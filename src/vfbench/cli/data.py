"""``vfbench data``: prepare a corpus manifest, validate it, print its statistics.

Thin: parses arguments, calls :mod:`vfbench.data.recipes`, :mod:`vfbench.data.validate`
and :mod:`vfbench.data.stats`, prints rich tables.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vfbench.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from vfbench.data.manifest import Manifest


class Corpus(StrEnum):
    vox_vgg1 = "vox-vgg1"
    vox_vgg2 = "vox-vgg2"
    folder = "folder"


data_app = typer.Typer(
    name="data",
    help="Corpus manifests: prepare (vox-vgg1, vox-vgg2, folder), validate, stats.",
    no_args_is_help=True,
)


def _console() -> Console:
    from vfbench.utils.progress import make_console

    con: Console = make_console()
    return con


@data_app.command("prepare")
def prepare(
    corpus: Corpus = typer.Argument(..., help="Recipe: vox-vgg1, vox-vgg2 or folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Manifest folder to write."),
    audio: Path | None = typer.Option(
        None, "--audio", help="VoxCeleb audio root (wav/ or aac/, or their parent)."
    ),
    faces: Path | None = typer.Option(None, "--faces", help="VGGFace1/VGGFace2 image root."),
    root: Path | None = typer.Option(
        None, "--root", help="folder recipe: corpus root with voices/ and faces/."
    ),
    split: str | None = typer.Option(
        None,
        "--split",
        help="vox-vgg1: dimnet (default) | pins | random; vox-vgg2: meta (default) | random; "
        "folder: meta (default; meta.csv split where given, else random) | random.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of random splits / the val carve-out."),
    val_fraction: float = typer.Option(
        0.0, "--val-fraction", help="vox-vgg2: fraction of dev identities moved to val."
    ),
    meta: Path | None = typer.Option(
        None,
        "--meta",
        help="Metadata file.",
        show_default="packaged vox1/vox2 meta; folder: meta.csv",
    ),
    no_probe: bool = typer.Option(
        False, "--no-probe", help="Do not read media headers (durations/sizes = 0)."
    ),
    workers: int | None = typer.Option(None, "--workers", "-j", help="Probing threads."),
    keep_unpaired: bool = typer.Option(
        False, "--keep-unpaired", help="Keep identities with only voices or only faces."
    ),
    custom_splits: bool = typer.Option(
        False,
        "--custom-splits",
        help="folder: accept split names in meta.csv other than train/val/test "
        "(and their aliases training, valid, validation, testing).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Scan a corpus tree and write its manifest folder (atomic writes)."""
    from vfbench.data.recipes import folder as folder_recipe
    from vfbench.data.recipes import vox_vgg1, vox_vgg2

    probe, progress = not no_probe, not quiet
    if corpus is Corpus.folder:
        if root is None:
            raise ConfigError("folder recipe needs --root (the folder with voices/ and faces/)")
        if split not in (None, "random", "meta"):
            raise ConfigError(f"--split {split!r}: the folder recipe takes 'meta' or 'random'")
    elif custom_splits:
        raise ConfigError("--custom-splits applies to the folder recipe's meta.csv only")
    if root is not None and corpus is Corpus.folder:
        m = folder_recipe.prepare_folder(
            root,
            meta=meta,
            split_seed=seed,
            keep_unpaired=keep_unpaired,
            use_meta_split=split != "random",
            custom_splits=custom_splits,
            probe=probe,
            workers=workers,
            progress=progress,
        )
    else:
        if audio is None or faces is None:
            raise ConfigError(f"{corpus.value} needs --audio and --faces")
        if corpus is Corpus.vox_vgg1:
            m = vox_vgg1.prepare_vox_vgg1(
                audio,
                faces,
                split=split or "dimnet",
                seed=seed,
                meta=meta,
                keep_unpaired=keep_unpaired,
                probe=probe,
                workers=workers,
                progress=progress,
            )
        else:
            m = vox_vgg2.prepare_vox_vgg2(
                audio,
                faces,
                split=split or "meta",
                val_fraction=val_fraction,
                seed=seed,
                meta=meta,
                keep_unpaired=keep_unpaired,
                probe=probe,
                workers=workers,
                progress=progress,
            )
    prov = m.meta.get("provenance")
    if isinstance(prov, dict):
        prov["command"] = "vfbench " + " ".join(sys.argv[1:])
    m.save(out)
    con = _console()
    _print_stats(con, m)
    unj, skipped = m.meta.get("unjoined", []), m.meta.get("skipped", [])
    if unj or skipped:
        from collections import Counter

        from rich.table import Table

        t = Table(title="not used (details in manifest.json meta.unjoined / meta.skipped)")
        for col in ("what", "reason", "count", "examples"):
            t.add_column(col)
        for what, probs in (("unjoined", unj), ("skipped", skipped)):
            cnt = Counter(p["reason"] for p in probs)
            for reason, n in sorted(cnt.items()):
                ex = [p["name"] for p in probs if p["reason"] == reason][:3]
                t.add_row(what, reason, str(n), ", ".join(ex) + (", ..." if n > 3 else ""))
        con.print(t)
    con.print(f"wrote {out}")


def _print_stats(con: Console, m: Manifest) -> None:
    from rich.table import Table

    from vfbench.data.stats import manifest_stats

    st = manifest_stats(m)
    t = Table(title=f"{st.name or 'manifest'}: per-split statistics")
    for col in (
        "split",
        "identities",
        "m/f/?",
        "voices",
        "faces",
        "voices/id min/med/max",
        "faces/id min/med/max",
        "sessions",
        "audio h",
    ):
        t.add_column(col, justify="left" if col == "split" else "right")
    for s in st.splits:
        t.add_row(
            s.split,
            str(s.identities),
            f"{s.male}/{s.female}/{s.unknown_gender}",
            str(s.voices),
            str(s.faces),
            str(s.voices_per_identity),
            str(s.faces_per_identity),
            str(s.sessions),
            f"{s.audio_hours:.3f}",
        )
    con.print(t)
    cols = m.extra_columns()
    if cols:
        t2 = Table(title="extra identity columns: distinct values per split")
        t2.add_column("split")
        for c in cols:
            t2.add_column(c, justify="right")
        for s in st.splits:
            t2.add_row(s.split, *(str(s.extra_values.get(c, 0)) for c in cols))
        con.print(t2)


@data_app.command("validate")
def validate(
    manifest_dir: Path = typer.Argument(..., help="Manifest folder."),
    no_media: bool = typer.Option(
        False, "--no-media", help="Check the tables only, not the media files."
    ),
    workers: int | None = typer.Option(None, "--workers", "-j", help="Threads for media checks."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    limit: int = typer.Option(50, "--limit", help="Show at most this many issues (0 = all)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Also write the full report as JSON to this file."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Check a manifest (ids, identities, splits, paths, media); exit 1 if any error."""
    from vfbench.data.manifest import load_manifest
    from vfbench.data.validate import validate_manifest

    m = load_manifest(manifest_dir)
    rep = validate_manifest(
        m, check_media=not no_media, workers=workers, progress=not (as_json or quiet)
    )
    rep.manifest = str(manifest_dir)
    if out is not None:
        from vfbench.utils.io import atomic_write_text

        atomic_write_text(out, rep.to_json() + "\n")
    if as_json:
        typer.echo(rep.to_json())
    else:
        from rich.table import Table

        con = _console()
        if rep.issues:
            shown = rep.issues if limit <= 0 else rep.issues[:limit]
            t = Table(title="issues")
            for col in ("severity", "code", "record", "message"):
                t.add_column(col)
            for i in shown:
                style = "red" if i.severity == "error" else "yellow"
                t.add_row(f"[{style}]{i.severity}[/]", i.code, i.record, i.message)
            con.print(t)
            if len(shown) < len(rep.issues):
                con.print(f"... {len(rep.issues) - len(shown)} more (use --limit 0 or --json)")
        con.print(rep.summary())
    if not rep.ok:
        raise typer.Exit(code=1)


@data_app.command("stats")
def stats(
    manifest_dir: Path = typer.Argument(..., help="Manifest folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Also write the statistics as JSON to this file."
    ),
) -> None:
    """Per-split counts: identities, gender balance, items per identity, audio hours,
    distinct values of extra identity columns."""
    from vfbench.data.manifest import load_manifest
    from vfbench.data.stats import manifest_stats

    m = load_manifest(manifest_dir)
    if out is not None:
        from vfbench.utils.io import atomic_write_text

        atomic_write_text(out, manifest_stats(m).to_json() + "\n")
    if as_json:
        typer.echo(manifest_stats(m).to_json())
    else:
        _print_stats(_console(), m)


@data_app.command("split")
def split(
    manifest_dir: Path = typer.Argument(..., help="Manifest folder."),
    mode: str = typer.Option(..., "--mode", help="all-test or kfold."),
    folds: int = typer.Option(5, "--folds", help="kfold: number of folds K."),
    fold: int = typer.Option(-1, "--fold", help="kfold: write only fold i (0-based); default all."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment."),
    val_fraction: float = typer.Option(
        0.1, "--val-fraction", help="kfold: val share of train (0: no val split)."
    ),
    out: Path = typer.Option(
        ..., "-o", "--out", help="Output manifest folder (kfold, all folds: DIR/fold<i>)."
    ),
) -> None:
    """Write re-split manifests: every identity in test, or identity-disjoint k-fold."""
    from vfbench.data.manifest import load_manifest
    from vfbench.data.splits import split_manifest

    m = load_manifest(manifest_dir)
    todo = [fold] if mode != "kfold" or fold >= 0 else list(range(folds))
    for i in todo:
        dest = out if mode != "kfold" or fold >= 0 else out / f"fold{i}"
        sm = split_manifest(m, mode, folds, max(i, 0), seed, val_fraction)
        sm.save(dest)
        n = {s: sum(x.split == s for x in sm.identities) for s in ("train", "val", "test")}
        typer.echo(f"wrote {dest}: train {n['train']}, val {n['val']}, test {n['test']} identities")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the main CLI."""
    from vfbench.cli.fame import import_features_cmd  # issue 16: lives with the FAME CLI

    data_app.command("import-features")(import_features_cmd)
    app.add_typer(data_app, name="data")
