"""Plots are drawn once per figure (issue #20.3) and carry the same content as before.

Before, ``write_report`` built and laid out every figure three times with the default
formats: once for the PNG embedded in ``report.html``, once for ``plots/*.png`` and once
for ``plots/*.svg``. The reference here is that old way (a fresh figure per format).
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vfbench.errors import EvaluationError
from vfbench.report import plots as plots_mod
from vfbench.report import write_report
from vfbench.report.html import KEY_PLOTS, to_html
from vfbench.report.plots import plot_groups, render_all, render_figure


def _fresh(kind, curves, fmt: str) -> bytes:
    """The old rendering: a new figure, laid out and drawn for this one format."""
    fig = plots_mod._figure(kind, curves)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()


def _svg_text(data: bytes) -> str:
    """SVG text without what matplotlib varies from one save to the next: the creation
    date and the random salt of element ids (renamed in order of first use)."""
    text = re.sub(r"<dc:date>[^<]*</dc:date>", "", data.decode("utf-8"))
    ids = [i for i in re.findall(r'id="([^"]+)"', text) if re.fullmatch(r"[a-z][0-9a-f]{10}", i)]
    for k, i in enumerate(dict.fromkeys(ids)):
        text = text.replace(i, f"ID{k}")
    return text


def test_one_figure_saved_in_each_format_is_the_old_per_format_render(runs) -> None:
    a = runs[0]
    groups = plot_groups(a)
    assert {"1ton", "roc", "joint_v2f", "ci_vs_ids_match"} <= set(groups)
    figs = render_all(a, ("png", "svg"))
    assert list(figs) == list(groups)
    for name, curves in groups.items():
        old_png = _fresh(curves[0].kind, curves, "png")
        old_svg = _fresh(curves[0].kind, curves, "svg")
        assert figs[name]["png"] == old_png, name  # pixel for pixel, byte for byte
        new_svg = _svg_text(figs[name]["svg"])
        assert new_svg == _svg_text(old_svg), name
        # the normalisation hides no figure: two different plots still differ
        assert "ID0" in new_svg and "(%)" in new_svg
    assert _svg_text(figs["1ton"]["svg"]) != _svg_text(figs["roc"]["svg"])


def test_default_report_draws_each_figure_once_and_html_embeds_the_png(
    runs, tmp_path, monkeypatch
) -> None:
    a = runs[0]
    built: list[str] = []
    orig = plots_mod._figure

    def counting(kind, curves):
        built.append(kind)
        return orig(kind, curves)

    monkeypatch.setattr(plots_mod, "_figure", counting)
    write_report(a, tmp_path, ("json", "md", "csv", "html", "png", "svg"))
    groups = plot_groups(a)
    assert len(built) == len(groups)  # was 3 x: html, png, svg
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    embedded = [base64.b64decode(x) for x in re.findall(r"data:image/png;base64,([^']+)'", html)]
    rank = {k: i for i, k in enumerate(KEY_PLOTS)}
    dirs = {"v2f": 0, "f2v": 1}
    order = sorted(
        groups,
        key=lambda n: (
            rank.get(groups[n][0].kind, 99),
            dirs.get(str(groups[n][0].params.get("direction", "")), 2),
            n,
        ),
    )
    assert embedded == [(tmp_path / "plots" / f"{n}.png").read_bytes() for n in order]
    # the whole page (tables, numbers, captions, images) is what to_html renders on its own
    built.clear()
    assert to_html(a) == html
    assert len(built) == len(groups)


@pytest.mark.parametrize(
    ("formats", "drawn", "files"),
    [
        (("html",), {"png"}, None),
        (("svg",), {"svg"}, {"svg"}),
        (("html", "svg"), {"png", "svg"}, {"svg"}),
        (("md", "csv"), set(), None),
    ],
)
def test_only_the_formats_asked_for_are_drawn(
    runs, tmp_path, monkeypatch, formats, drawn, files
) -> None:
    a = runs[0]
    saved: set[str] = set()
    orig = plots_mod.render_figure

    def spy(kind, curves, fmts):
        saved.update(fmts)
        return orig(kind, curves, fmts)

    monkeypatch.setattr(plots_mod, "render_figure", spy)
    write_report(a, tmp_path, formats)
    assert saved == drawn
    if files is None:
        assert not (tmp_path / "plots").exists()
    else:
        written = {p.suffix[1:] for p in (tmp_path / "plots").iterdir()}
        assert written == files
    assert (tmp_path / "report.html").is_file() == ("html" in formats)


def test_unknown_plot_format_is_an_error(runs) -> None:
    curves = plot_groups(runs[0])["roc"]
    with pytest.raises(EvaluationError, match=r"unknown plot format 'pdf'"):
        render_figure("roc", curves, ("png", "pdf"))


def test_text_formats_do_not_import_matplotlib(runs, tmp_path) -> None:
    runs[0].save(tmp_path / "run")
    code = (
        "import sys\n"
        "from vfbench.evaluate.results import EvaluationResult\n"
        "from vfbench.report import write_report\n"
        f"res = EvaluationResult.load({str(tmp_path / 'run')!r})\n"
        f"write_report(res, {str(tmp_path / 'out')!r}, ('json', 'md', 'csv', 'tex'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
    assert (Path(tmp_path) / "out" / "report.tex").is_file()


def test_html_renders_the_groups_it_is_not_given(runs) -> None:
    import dataclasses

    a = runs[0]
    two = dataclasses.replace(a, curves=[c for c in a.curves if c.kind in ("1ton", "roc")])
    h = to_html(two, images={"roc": b"given"})
    embedded = [base64.b64decode(x) for x in re.findall(r"data:image/png;base64,([^']+)'", h)]
    assert embedded[1] == b"given"  # 1ton first (KEY_PLOTS order), then roc
    assert embedded[0] == render_figure("1ton", plot_groups(two)["1ton"], ("png",))["png"]
