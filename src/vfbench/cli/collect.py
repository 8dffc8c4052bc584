"""``vfbench collect``: videos of people -> quality-controlled voice-face dataset.

Thin: parses arguments and prints; the work is in :mod:`vfbench.collect`.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

collect_app = typer.Typer(
    name="collect",
    help="Dataset collection tool: run the pipeline on videos, review in a browser, export a corpus.",
    no_args_is_help=True,
)


@collect_app.command("run")
def run(
    sources: Path = typer.Argument(
        ..., help="SOURCES.csv: source,identity[,gender,nationality,language,start,end]."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Collection folder (created; resumable)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML CollectConfig."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a config key, e.g. qc_face.min_size=80."
    ),
    workers: int = typer.Option(
        1, "--workers", "-j", min=1, help="Videos processed in parallel (worker processes)."
    ),
    jobs: int | None = typer.Option(None, "--jobs", hidden=True, help="Old name of --workers."),
) -> None:
    """Process every listed video (skipping finished ones) and write collection + summary."""
    from vfbench.collect.config import CollectConfig
    from vfbench.collect.pipeline import run_collection
    from vfbench.config import load_config

    cfg = load_config(CollectConfig, config, overrides)
    res = run_collection(
        sources,
        out,
        cfg,
        workers=jobs if jobs is not None else workers,
        log=typer.echo,
        command="vfbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    o = res.summary["overall"]
    typer.echo(
        f"{len(res.processed)} processed, {len(res.skipped)} skipped, {o['videos_failed']} failed; "
        f"kept {o['faces_kept']} faces and {o['voices_kept']} voice clips "
        f"({o['voice_seconds_kept']} s); see {out / 'summary.md'}"
    )


@collect_app.command("review")
def review(
    directory: Path = typer.Argument(..., help="Collection folder written by `collect run`."),
    port: int = typer.Option(8765, "--port", "-p", help="Port on 127.0.0.1."),
) -> None:
    """Serve the review page on http://127.0.0.1:PORT (Ctrl-C to stop)."""
    from vfbench.collect.review.app import make_server

    srv = make_server(directory, port)
    typer.echo(f"reviewing {directory} at http://127.0.0.1:{srv.port}/ (Ctrl-C to stop)")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


@collect_app.command("export")
def export(
    directory: Path = typer.Argument(..., help="Collection folder (with review.json if reviewed)."),
    out: Path = typer.Option(..., "--out", "-o", help="Corpus folder to write (folder layout)."),
    seed: int | None = typer.Option(
        None, "--seed", help="Split seed.", show_default="config export.split_seed"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing corpus folder."),
) -> None:
    """Write faces, voices, meta.csv, manifest/ and DATASHEET.md honouring review decisions."""
    from vfbench.collect.export import export_collection

    res = export_collection(
        directory,
        out,
        split_seed=seed,
        overwrite=overwrite,
        command="vfbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    s = res.datasheet
    typer.echo(
        f"exported {s['identities']} identities, {s['faces']} faces, {s['voices']} voice clips "
        f"({s['speech_seconds']} s) to {out}; manifest in {out / 'manifest'}, datasheet {out / 'DATASHEET.md'}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(collect_app, name="collect")
