"""``vfbench report`` (re-render a saved run) and ``vfbench compare`` (paired tests)."""

from __future__ import annotations

from pathlib import Path

import typer


def report_cmd(
    run_dir: Path = typer.Argument(..., help="Run folder with results.json."),
    formats: str = typer.Option(
        "md,csv,html,png,svg", "--formats", help="Comma-separated: md,csv,tex,html,png,svg."
    ),
    show: bool = typer.Option(True, "--show/--no-show", help="Print the terminal table."),
) -> None:
    """Regenerate report.md / report.html / results.csv / plots from results.json (no recomputation)."""
    from vfbench.evaluate.results import EvaluationResult
    from vfbench.report import write_report
    from vfbench.report.render import print_table
    from vfbench.utils.progress import make_console

    res = EvaluationResult.load(run_dir)
    fm = tuple(x.strip() for x in formats.split(",") if x.strip() and x.strip() != "json")
    paths = write_report(res, run_dir, fm)
    con = make_console()  # off a terminal: never wraps paths or ids
    if show:
        print_table(res, con)
    con.print(f"wrote {len(paths)} files to {run_dir}")


def compare_cmd(
    run_a: Path = typer.Argument(..., help="Run folder A (results.json + outcomes.npz)."),
    run_b: Path = typer.Argument(..., help="Run folder B, scored on the same trials."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Also write the table as Markdown here."
    ),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap replicates."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
) -> None:
    """Paired table A vs B: differences with intervals, bootstrap and McNemar p-values."""
    from vfbench.evaluate.results import EvaluationResult
    from vfbench.report.compare import compare_results, comparison_markdown, print_comparison
    from vfbench.utils.io import atomic_write_text
    from vfbench.utils.progress import make_console

    a = EvaluationResult.load(run_a, with_outcomes=True)
    b = EvaluationResult.load(run_b, with_outcomes=True)
    rows = compare_results(a, b, n_boot=n_boot, seed=seed)
    print_comparison(rows, run_a.name or "A", run_b.name or "B", console=make_console())
    if out is not None:
        atomic_write_text(out, comparison_markdown(rows, run_a.name or "A", run_b.name or "B"))
        typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``compare`` to the main CLI."""
    app.command("report")(report_cmd)
    app.command("compare")(compare_cmd)
