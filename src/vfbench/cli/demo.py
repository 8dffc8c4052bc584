"""``vfbench demo`` (the whole benchmark end to end) and ``vfbench ablate GRID.yaml``.

Thin: parses options into a validated :class:`~vfbench.experiments.config.DemoConfig` and calls
:func:`vfbench.experiments.demo.run_demo` / :func:`vfbench.experiments.ablation.run_ablation`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer


def _command() -> str:
    return " ".join(["vfbench", *sys.argv[1:]])


def _logger(quiet: bool) -> Callable[[str], None]:
    import logging

    from rich.console import Console

    con = Console(stderr=True, highlight=False)
    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")

    def log(msg: str) -> None:
        if not quiet:
            con.print(f"[dim]{msg}[/dim]")

    return log


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run folder."),
        quick: bool = typer.Option(
            False, "--quick", help="Smoke-test size (demo_quick.yaml, < 1 min)."
        ),
        config: Path | None = typer.Option(
            None, "--config", "-c", help="Demo config YAML.", show_default="the packaged demo.yaml"
        ),
        set_: list[str] = typer.Option(
            [], "--set", help="Override a key: --set train.steps=500 (repeatable)."
        ),
        force: list[str] = typer.Option(
            [], "--force", help="Recompute a stage even if unchanged (repeatable)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    ) -> None:
        """Synthetic corpus -> preprocess -> TriNet -> embeddings -> every task -> report."""
        from vfbench.experiments.config import load_demo_config, packaged_config
        from vfbench.experiments.demo import run_demo, timing_line
        from vfbench.experiments.summary import print_summary

        if config is not None and quick:
            from vfbench.errors import ConfigError

            raise ConfigError("--quick and --config are exclusive (--quick uses demo_quick.yaml)")
        path = config or packaged_config("demo_quick.yaml" if quick else "demo.yaml")
        cfg = load_demo_config(path, set_)
        res = run_demo(
            out, cfg, progress=not quiet, log=_logger(quiet), force=force, command=_command()
        )
        timing = [
            {
                "stage": r.name,
                "status": r.status,
                "seconds": r.seconds,
                "compute_seconds": r.compute_seconds,
            }
            for r in res.records
        ]
        print_summary(res.summary.get("headline", []), timing)
        typer.echo(f"report: {out / 'report.html'}  (also report.md, results.json)")
        typer.echo(timing_line(res.records, res.wall_seconds))

    @app.command("ablate")
    def ablate_cmd(
        grid: Path = typer.Argument(..., help="Grid YAML (e.g. configs/ablations/grid_cpu.yaml)."),
        out: Path = typer.Option(Path("runs/ablate"), "--out", "-o", help="Output folder."),
        set_: list[str] = typer.Option(
            [], "--set", help="Override a key of every row's demo config (repeatable)."
        ),
        rows: list[str] = typer.Option([], "--row", help="Run only these rows (repeatable)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    ) -> None:
        """Run a grid of configs on the same trials; Table-5-style comparison (resumable)."""
        from vfbench.experiments.ablation import load_grid, print_ablation, run_ablation

        g = load_grid(grid, set_)
        res = run_ablation(
            g, out, progress=not quiet, log=_logger(quiet), only=rows, command=_command()
        )
        print_ablation(res)
        typer.echo(f"table: {res.markdown_path}  json: {res.json_path}")
