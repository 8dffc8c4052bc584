"""``vfbench preprocess``: build the feature cache, merge cache parts, rewrite the QC report.

    vfbench preprocess MANIFEST_DIR --out CACHE [--config P.yaml] [--set k=v] [--workers N]
                       [--shard i/N] [--modality voice|face|both] [--wait]
    vfbench preprocess merge CACHE_PARTS... --out CACHE
    vfbench preprocess qc CACHE [--out DIR]

Thin: parses arguments, calls :mod:`vfbench.preprocess.run` / ``.cache`` / ``.qc``, prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup


class _DefaultRunGroup(TyperGroup):
    """``vfbench preprocess X ...`` means ``vfbench preprocess run X ...`` unless X is a command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


preprocess_app = typer.Typer(
    name="preprocess",
    cls=_DefaultRunGroup,
    help="Faces and voices -> a sharded, resumable feature cache (+ QC report).",
    no_args_is_help=True,
)


@preprocess_app.command("run")
def run_cmd(
    manifest: Path = typer.Argument(..., help="Manifest folder (from `vfbench data prepare`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Cache folder to create or finish."),
    config: Path | None = typer.Option(None, "--config", "-c", help="PreprocessConfig YAML."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config key, e.g. --set audio.vad=energy (repeatable)."
    ),
    workers: int = typer.Option(1, "--workers", "-j", help="Worker processes."),
    shard: str = typer.Option("0/1", "--shard", help="Do only shard i of N (0-based), e.g. 2/8."),
    modality: str = typer.Option("both", "--modality", "-m", help="voice, face or both."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="If another run is writing OUT, wait for it to finish instead of stopping with an error.",
    ),
) -> None:
    """Preprocess MANIFEST into the cache OUT (default command; rerun to resume)."""
    import sys

    from vfbench.config import load_config
    from vfbench.preprocess.config import PreprocessConfig
    from vfbench.preprocess.run import parse_shard, preprocess

    cfg = load_config(PreprocessConfig, config, set_)
    summary = preprocess(
        manifest,
        out,
        cfg,
        modality=modality,
        workers=workers,
        shard=parse_shard(shard),
        progress=not quiet,
        command="vfbench " + " ".join(sys.argv[1:]),
        wait=wait,
    )
    for mod, s in summary.modalities.items():
        codes = ", ".join(f"{k}={v}" for k, v in sorted(s.failed_by_code.items())) or "none"
        typer.echo(
            f"{mod}: {s.items} items in {s.shards} shards ({s.shards_skipped} already done); "
            f"this run cached {s.processed}, failed {s.failed} [{codes}] "
            f"in {s.seconds:.1f} s ({s.items_per_second:.1f} items/s)"
        )
    typer.echo(f"cache: {summary.cache_dir}  (QC report: {summary.cache_dir / 'qc.md'})")


@preprocess_app.command("merge")
def merge_cmd(
    parts: list[Path] = typer.Argument(..., help="Cache folders built with --shard i/N."),
    out: Path = typer.Option(..., "--out", "-o", help="Merged cache (may be one of the parts)."),
) -> None:
    """Join cache parts built on several machines into one cache."""
    from vfbench.preprocess.cache import FeatureCache, merge_caches
    from vfbench.preprocess.qc import write_report

    merge_caches(parts, out)
    write_report(out)
    _print_counts(FeatureCache.open(out))


@preprocess_app.command("qc")
def qc_cmd(
    cache: Path = typer.Argument(..., help="Cache folder."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for the report files.", show_default="the cache itself"
    ),
) -> None:
    """Rewrite qc.json, qc.md and contact_sheet.png of a cache."""
    from vfbench.preprocess.cache import FeatureCache
    from vfbench.preprocess.qc import write_report

    paths = write_report(cache, out=out)
    _print_counts(FeatureCache.open(cache))
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))


def _print_counts(cache: Any) -> None:
    for mod in cache.modalities:
        n_failed = sum(1 for m, _ in cache.failed if m == mod)
        typer.echo(f"{mod}: {len(cache.ids(mod))} cached, {n_failed} failed")


def register(app: typer.Typer) -> None:
    app.add_typer(preprocess_app, name="preprocess")
