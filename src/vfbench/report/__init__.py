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
    ``report.html`` and ``plots/*.png|svg`` as asked; returns the written paths.

    Each figure is drawn once: the PNG embedded in ``report.html`` is the one written to
    ``plots/*.png`` (matplotlib is imported only when a figure is asked for)."""
    from vfbench.report.html import write_html
    from vfbench.report.plots import render_all, write_plots
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
    plot_fmts = tuple(f for f in ("png", "svg") if f in formats)
    # report.html embeds the PNGs: drawn for it even when plots/*.png is not asked for
    draw = ("png", *plot_fmts) if "html" in formats and "png" not in plot_fmts else plot_fmts
    figs = render_all(res, draw) if draw else {}
    if "html" in formats:
        images = {name: by_fmt["png"] for name, by_fmt in figs.items()}
        out.append(write_html(res, d / "report.html", images=images))
    if plot_fmts:
        out.extend(write_plots(res, d / "plots", plot_fmts, rendered=figs))
    return out


__all__ = ["DEFAULT_FORMATS", "FORMATS", "write_report"]
