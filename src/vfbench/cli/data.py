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
    from rich.console import Console

    return Console(highlight=False)


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
    workers: int | None = typer.Option(None, "--workers", help="Probing threads."),
    keep_unpaired: bool = typer.Option(
        False, "--keep-unpaired", help="Keep identities with only voices or only faces."
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
        m = folder_recipe.prepare_folder(
            root,
            meta=meta,
            split_seed=seed,
            keep_unpaired=keep_unpaired,
            use_meta_split=split != "random",
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


@data_app.command("validate")
def validate(
    manifest_dir: Path = typer.Argument(..., help="Manifest folder."),
    no_media: bool = typer.Option(
        False, "--no-media", help="Check the tables only, not the media files."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Threads for media checks."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    limit: int = typer.Option(50, "--limit", help="Show at most this many issues (0 = all)."),
) -> None:
    """Check a manifest (ids, identities, splits, paths, media); exit 1 if any error."""
    from vfbench.data.manifest import load_manifest
    from vfbench.data.validate import validate_manifest

    m = load_manifest(manifest_dir)
    rep = validate_manifest(m, check_media=not no_media, workers=workers, progress=not as_json)
    rep.manifest = str(manifest_dir)
    if as_json:
        typer.echo(rep.to_json())
    else:
        from rich.table import Table

        con = _console()
        if rep.issues:
            shown = rep.issues if limit <= 0 else rep.issues[:limit]
            t = Table(title="issues")
            for col in ("severity", "code", "record", "message"):
                t.add_column(col, overflow="fold")
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
) -> None:
    """Per-split counts: identities, gender balance, items per identity, audio hours."""
    from vfbench.data.manifest import load_manifest
    from vfbench.data.stats import manifest_stats

    m = load_manifest(manifest_dir)
    if as_json:
        typer.echo(manifest_stats(m).to_json())
    else:
        _print_stats(_console(), m)


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the main CLI."""
    app.add_typer(data_app, name="data")
