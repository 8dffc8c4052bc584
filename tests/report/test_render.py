"""Renderers: every format carries the rows, intervals, anchors and provenance."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

from vfbench.report import write_report
from vfbench.report.html import to_html
from vfbench.report.plots import write_plots
from vfbench.report.render import print_table, to_csv, to_latex, to_markdown


def test_markdown_and_latex(runs):
    a = runs[0]
    md = to_markdown(a)
    m = a.get(task="match", direction="v2f", n=2, constraint="U", group="all")
    assert f"| match | v2f | 1:2 U | all | accuracy | {100 * m.value:.2f} |" in md
    assert "## Repeated random test sets" in md and "## By query attribute" in md
    assert a.trials_hash in md and "gender-only" in md
    tex = to_latex(a)
    assert tex.startswith(r"\begin{tabular}") and r"$\pm$" in tex


def test_csv_has_every_row_and_interval(runs):
    a = runs[0]
    rows = list(csv.DictReader(io.StringIO(to_csv(a))))
    assert len(rows) == len(a.metrics)
    first = rows[0]
    m = a.metrics[0]
    assert float(first["value"]) == m.value
    assert float(first["wilson_low"]) == m.intervals["wilson"].low


def _few_curves(res, kinds=("1ton", "roc")):
    """The run with only some curves (plotting is the slow part of rendering)."""
    return dataclasses.replace(res, curves=[c for c in res.curves if c.kind in kinds])


def test_html_is_self_contained_with_plots_and_provenance(runs):
    a = _few_curves(runs[0])
    h = to_html(a)
    assert h.startswith("<!DOCTYPE html>")
    assert h.count("data:image/png;base64,") == 2 == h.count("<figure>")
    assert not re.search(r"""(src|href)=["']https?://""", h)
    assert "id='provenance'" in h and a.trials_hash in h
    assert "<script" not in h


def test_write_report_and_plots(runs, tmp_path):
    a = _few_curves(runs[0])
    paths = write_report(a, tmp_path, ("json", "md", "csv", "tex", "html", "png", "svg"))
    names = {p.name for p in paths}
    assert {
        "results.json",
        "report.md",
        "results.csv",
        "report.tex",
        "report.html",
        "1ton.png",
        "roc.svg",
    } <= names
    assert (tmp_path / "plots" / "1ton.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "plots" / "roc.svg").read_bytes()[:500]
    assert (tmp_path / "outcomes.npz").is_file()
    rep = _few_curves(runs[0], ("ci_vs_ids", "joint"))
    written = write_plots(rep, tmp_path / "p2", ("png",))
    assert {p.name for p in written} >= {"ci_vs_ids_match.png", "joint_v2f.png"}


def test_terminal_table(runs):
    from rich.console import Console

    con = Console(record=True, width=200)
    print_table(runs[0], con)
    text = con.export_text()
    assert "vfbench evaluation" in text and "bootstrap-all" in text and "gender-only" in text
