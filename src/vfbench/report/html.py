"""A self-contained ``report.html``: tables, embedded base64 PNG plots, provenance.

No external assets (CSS inline, images as ``data:`` URIs), so the file can be mailed or
opened offline. Every text cell is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from vfbench.evaluate.results import EvaluationResult
from vfbench.report.plots import TITLES, plot_groups, render_plot
from vfbench.report.render import (
    HEADER,
    anchors_note,
    extra_tables,
    interval_str,
    pct,
    provenance_text,
    row_cells,
    sorted_rows,
)
from vfbench.utils.io import atomic_write_text

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f4f4f4}
.note{color:#555;font-size:.9em}
.warn{color:#8a5a00}
pre{background:#f7f7f7;padding:.8em;font-size:.8em;overflow-x:auto}
figure{display:inline-block;margin:.5em}figcaption{font-size:.8em;color:#555}
"""

NUMERIC = {"value (%)", "chance (%)", "gender-only (%)", "n", "ids"}


def _table(headers: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(x)}</th>" for x in headers)
    body = []
    for r in rows:
        cells = "".join(
            f'<td class="num">{html.escape(c)}</td>'
            if headers[i] in NUMERIC
            else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(r)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(
    res: EvaluationResult, title: str = "vfbench evaluation report", plots: bool = True
) -> str:
    """The whole report as one HTML string."""
    title = res.summary.get("title") or title
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    s = res.summary
    if s:
        parts.append(
            "<p>"
            + html.escape(
                f"{s.get('n_identities', '?')} identities, {s.get('n_voices', '?')} voices, "
                f"{s.get('n_faces', '?')} faces; scorer {s.get('scorer', '?')}; "
                f"gender known: {s.get('gender_known', False)}."
            )
            + "</p>"
        )
    parts.append(f"<p class='note'>{html.escape(anchors_note(res)).replace(chr(10), '<br>')}</p>")
    for t in extra_tables(res):
        parts.append(f"<h2>{html.escape(str(t.get('title', '')))}</h2>")
        if t.get("note"):
            parts.append(f"<p class='note'>{html.escape(str(t['note']))}</p>")
        parts.append(
            _table([str(h) for h in t["headers"]], [[str(c) for c in r] for r in t["rows"]])
        )
    main = [m for m in sorted_rows(res) if m.task != "repeated"]
    parts.append("<h2>Results</h2>")
    parts.append(_table(HEADER, [row_cells(m) for m in main]))
    rep = [m for m in sorted_rows(res) if m.task == "repeated"]
    if rep:
        parts.append("<h2>Repeated random test sets (paper Fig. 4b)</h2>")
        parts.append(
            _table(
                ["dir", "task", "identities", "sets", "mean (%)", "std (%)", "t-interval (%)"],
                [
                    [
                        m.direction,
                        f"{m.params.get('of_task')} {m.name}",
                        str(m.params.get("size")),
                        str(m.n),
                        pct(m.value),
                        pct(m.params.get("std")),
                        interval_str(m, "t"),
                    ]
                    for m in rep
                ],
            )
        )
    if plots and res.curves:
        parts.append("<h2>Plots</h2>")
        for name, curves in plot_groups(res).items():
            png = base64.b64encode(render_plot(curves[0].kind, curves, "png")).decode("ascii")
            cap = TITLES.get(curves[0].kind, name)
            parts.append(
                f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{png}' width='560'>"
                f"<figcaption>{html.escape(cap)} - {html.escape(name)}</figcaption></figure>"
            )
    sub = [m for m in sorted_rows(res, groups=True) if m.group != "all"]
    if sub:
        parts.append("<h2>By query attribute</h2>")
        parts.append(_table(HEADER, [row_cells(m) for m in sub]))
    if res.warnings:
        parts.append("<h2>Warnings</h2><ul>")
        parts.extend(f"<li class='warn'>{html.escape(w)}</li>" for w in res.warnings)
        parts.append("</ul>")
    parts.append("<h2>Provenance</h2>")
    parts.append(f"<pre id='provenance'>{html.escape(provenance_text(res))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(
    res: EvaluationResult, path: str | Path, title: str = "vfbench evaluation report"
) -> Path:
    """Write the self-contained report atomically; returns its path."""
    p = Path(path)
    atomic_write_text(p, to_html(res, title))
    return p
