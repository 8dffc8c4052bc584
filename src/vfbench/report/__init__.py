"""Render evaluation results: terminal table, JSON, Markdown, CSV, LaTeX, plots, report.html.

``evaluate/`` returns an :class:`~vfbench.evaluate.results.EvaluationResult`; this package
only renders it (it never recomputes a metric). :func:`write_report` writes every format
into a run folder; ``vfbench report RUN_DIR`` calls it on a saved ``results.json``.
"""

from __future__ import annotations

from pathlib import Path

from vfbench.errors import EvaluationError
from vfbench.evaluate.results import EvaluationResult

FORMATS = ("json", "md", "csv", "tex", "html", "png", "svg")
DEFAULT_FORMATS = ("json", "md", "csv", "html", "png", "svg")


def write_report(
    res: EvaluationResult, directory: str | Path, formats: tuple[str, ...] = DEFAULT_FORMATS
) -> list[Path]:
    """Write ``results.json`` (+ outcomes), ``report.md``, ``results.csv``, ``report.tex``,
    ``report.html`` and ``plots/*.png|svg`` as asked; returns the written paths."""
    from vfbench.report.html import write_html
    from vfbench.report.plots import write_plots
    from vfbench.report.render import to_csv, to_latex, to_markdown
    from vfbench.utils.io import atomic_write_text

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise EvaluationError(f"unknown report format {bad[0]!r}; known: {list(FORMATS)}")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    if "json" in formats:
        out.append(res.save(d))
    if "md" in formats:
        atomic_write_text(d / "report.md", to_markdown(res))
        out.append(d / "report.md")
    if "csv" in formats:
        atomic_write_text(d / "results.csv", to_csv(res))
        out.append(d / "results.csv")
    if "tex" in formats:
        atomic_write_text(d / "report.tex", to_latex(res))
        out.append(d / "report.tex")
    if "html" in formats:
        out.append(write_html(res, d / "report.html"))
    plot_fmts = tuple(f for f in ("png", "svg") if f in formats)
    if plot_fmts:
        out.extend(write_plots(res, d / "plots", plot_fmts))
    return out


__all__ = ["DEFAULT_FORMATS", "FORMATS", "write_report"]
