"""The report a person reads: the answer first (headline, reading, key plots), then the
details; a table of contents whose links all resolve; a smoke banner for quick runs;
percent everywhere."""

from __future__ import annotations

import dataclasses
import re

from vfbench.report.html import reading, to_html
from vfbench.report.plots import caption, plot_groups, render_plot
from vfbench.report.render import headline_table, is_smoke


def _few_curves(res, kinds=("1ton", "roc")):
    return dataclasses.replace(res, curves=[c for c in res.curves if c.kind in kinds])


def test_sections_in_reading_order_and_toc_links_resolve(runs) -> None:
    h = to_html(_few_curves(runs[0]))
    ids = re.findall(r"<section id='([^']+)'>", h)
    links = re.findall(r"<a href='#([^']+)'>", h)
    assert links == ids and len(ids) == len(set(ids))  # every section listed once, in order
    assert ids[:2] == ["headline", "key-plots"]
    pos = {
        k: h.index(f"<section id='{k}'>")
        for k in ("headline", "key-plots", "all-results", "provenance")
    }
    assert pos["headline"] < pos["key-plots"] < pos["all-results"] < pos["provenance"]
    assert h.index("id='toc'") < pos["headline"]


def test_generic_headline_has_the_key_figures_with_anchors(runs) -> None:
    a = runs[0]
    t = headline_table(a)
    assert t is not None and t["headers"][:5] == [
        "figure",
        "value",
        "95% CI",
        "chance",
        "gender-only",
    ]
    m = a.get(task="match", direction="v2f", n=2, constraint="U", group="all")
    row = next(r for r in t["rows"] if r[0].startswith("1:2 matching, any distractor, voice"))
    assert row[1] == f"{100 * m.value:.2f}" and row[3] == "50.00"
    assert row[4] == f"{100 * m.gender_baseline:.2f}"
    labels = [r[0] for r in t["rows"]]
    assert any("face→voice" in x for x in labels) and any("verification AUC" in x for x in labels)


def test_producer_headline_table_is_used_first(runs) -> None:
    a = runs[0]
    mine = {"title": "Headline", "headers": ["figure", "value"], "rows": [["x", "1.00"]]}
    other = {"title": "Details", "headers": ["a"], "rows": [["b"]]}
    b = dataclasses.replace(a, summary={**a.summary, "tables": [other, mine]}, curves=[])
    assert headline_table(b) is mine
    h = to_html(b)
    assert h.index("<section id='headline'>") < h.index("<section id='details'>")
    assert h.count("<h2>Headline</h2>") == 1  # not rendered twice


def test_reading_of_the_main_figure_against_gender_only(runs) -> None:
    a = runs[0]
    m = a.get(task="match", direction="v2f", n=2, constraint="U", group="all")
    iv = m.interval()

    def with_baseline(g: float):
        mm = dataclasses.replace(m, gender_baseline=g)
        return dataclasses.replace(a, metrics=[mm if x is m else x for x in a.metrics])

    text, ok = reading(with_baseline(iv.low - 0.01))
    assert ok and "whole interval lies above" in text
    text, ok = reading(with_baseline((iv.low + m.value) / 2))
    assert ok and "overlaps" in text
    text, ok = reading(with_baseline(m.value + 0.01))
    assert not ok and "gender classifier does as well" in text


def test_smoke_banner_only_for_quick_runs(runs) -> None:
    a = _few_curves(runs[0], kinds=())
    assert not is_smoke(a) and "class='smoke'" not in to_html(a)
    q = dataclasses.replace(a, summary={**a.summary, "smoke": True})
    assert is_smoke(q)
    h = to_html(q)
    assert h.index("class='smoke'") < h.index("id='toc'")


def test_plots_in_percent_with_reader_captions(runs) -> None:
    a = runs[0]
    groups = plot_groups(a)
    for name, curves in groups.items():
        cap = caption(name, curves)
        assert "_" not in cap and " - " not in cap, cap  # no internal names
        svg = render_plot(curves[0].kind, curves, "svg").decode("utf-8")
        assert "(%)" in svg, name
    from vfbench.report.plots import _figure

    for kind in ("roc", "1ton"):
        fig = _figure(kind, groups[kind])
        ax = fig.axes[0]
        ys = [y for line in ax.get_lines() for y in line.get_ydata()]
        assert max(ys) > 1.5 and ax.get_ylim()[1] > 50  # percent, not fractions
