"""A self-contained ``report.html``: the answer first, the details after.

Layout (what a reader needs, in the order they need it):

1. title, a *smoke run* banner for quick runs, one line on the data;
2. a table of contents;
3. **Headline**: how good is this model, against chance, the gender-only baseline and
   (for synthetic data) the oracle ceiling, with a one-line reading of the main figure;
4. **Key plots** (1:n curve, ROC, joint-m curves, interval vs #identities) in a grid;
5. the producer's detailed tables (paper-style, e.g. the demo's), then the full result table,
   per-attribute rows, repeated sets, warnings and provenance.

No external assets (CSS inline, images as ``data:`` URIs), so the file can be mailed or
opened offline. Every text cell is HTML-escaped; every figure is in percent.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from vfbench.evaluate.results import Curve, EvaluationResult, Metric
from vfbench.report.plots import caption, plot_groups, render_plot
from vfbench.report.render import (
    HEADER,
    SMOKE_TEXT,
    anchors_note,
    extra_tables,
    headline_table,
    interval_str,
    is_smoke,
    pct,
    provenance_text,
    row_cells,
    sorted_rows,
)
from vfbench.utils.io import atomic_write_text

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222}
main{max-width:1180px;margin:0 auto;padding:1.2em 2em 3em}
h1{font-size:1.5em;margin:.4em 0}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#f4f4f4}
table.headline{font-size:1em}table.headline td,table.headline th{padding:5px 12px}
.note{color:#555;font-size:.9em}
.warn{color:#8a5a00}
.smoke{background:#fff3cd;border:1px solid #e0b000;color:#5c4400;padding:.7em 1em;border-radius:4px;font-weight:600}
.reading{background:#eef6ee;border-left:4px solid #3a7d3a;padding:.5em 1em;margin:.8em 0}
.reading.bad{background:#fbeeee;border-left-color:#b03030}
nav.toc{background:#f7f7f7;padding:.6em 1em;border-radius:4px;font-size:.9em}
nav.toc ol{margin:.2em 0;padding-left:1.4em;columns:2}
pre{background:#f7f7f7;padding:.8em;font-size:.8em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em}
figure{margin:0}figure img{width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#444;margin-top:.2em}
.scroll{overflow-x:auto}
"""

NUMERIC_HEADERS = re.compile(
    r"(%|\bn\b|ids|value|acc|chance|gender-only|oracle|CI|trials|pairs|seconds|queries|size)"
)

# Plots shown in the key-plots section first, in this order; the rest follow.
KEY_PLOTS = ("1ton", "roc", "joint", "ci_vs_ids")


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, k = base, 2
    while slug in used:
        slug, k = f"{base}-{k}", k + 1
    used.add(slug)
    return slug


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    num = [bool(NUMERIC_HEADERS.search(h)) for h in headers]
    h = "".join(f"<th>{html.escape(x)}</th>" for x in headers)
    body = []
    for r in rows:
        cells = "".join(
            f'<td class="num">{html.escape(c)}</td>' if num[i] else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(r)
        )
        body.append(f"<tr>{cells}</tr>")
    attr = f' class="{cls}"' if cls else ""
    return (
        f"<div class='scroll'><table{attr}><thead><tr>{h}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _main_figure(res: EvaluationResult) -> Metric | None:
    for m in res.metrics:
        if m.group == "all" and m.task == "match" and m.direction == "v2f" and m.setting == "1:2 U":
            return m
    return None


def reading(res: EvaluationResult) -> tuple[str, bool] | None:
    """One sentence on the main figure (1:2 voice→face, any distractor) against its anchors;
    the flag is False when the model does not clear the gender-only baseline."""
    m = _main_figure(res)
    if m is None or m.value is None:
        return None
    iv = m.interval()
    lo = iv.low if iv is not None else m.value
    text = f"1:2 voice→face matching: {pct(m.value)} % {interval_str(m)}"
    ok = True
    if m.chance is not None and lo <= m.chance:
        text += f"; the interval reaches chance ({pct(m.chance)} %): no evidence of learning."
        ok = False
    elif m.gender_baseline is not None:
        g = m.gender_baseline
        if lo > g:
            text += (
                f"; the whole interval lies above the gender-only baseline ({pct(g)} %): "
                "the model uses more than gender."
            )
        elif m.value > g:
            text += (
                f"; above the gender-only baseline ({pct(g)} %) but the interval overlaps it: "
                "not clearly more than gender."
            )
        else:
            text += (
                f"; at or below the gender-only baseline ({pct(g)} %): a gender classifier "
                "does as well."
            )
            ok = False
    return text, ok


def _ordered_plots(res: EvaluationResult) -> list[tuple[str, list[Curve]]]:
    groups = plot_groups(res)
    rank = {k: i for i, k in enumerate(KEY_PLOTS)}
    dirs = {"v2f": 0, "f2v": 1}

    def key(kv: tuple[str, list[Curve]]) -> tuple[int, int, str]:
        c = kv[1][0]
        return (rank.get(c.kind, 99), dirs.get(str(c.params.get("direction", "")), 2), kv[0])

    return sorted(groups.items(), key=key)


def _figures(res: EvaluationResult, images: dict[str, bytes] | None = None) -> str:
    out = []
    for name, curves in _ordered_plots(res):
        data = (images or {}).get(name) or render_plot(curves[0].kind, curves, "png")
        png = base64.b64encode(data).decode("ascii")
        cap = caption(name, curves)
        out.append(
            f"<figure><img alt='{html.escape(cap)}' src='data:image/png;base64,{png}'>"
            f"<figcaption>{html.escape(cap)}</figcaption></figure>"
        )
    return "<div class='plots'>" + "".join(out) + "</div>"


def to_html(
    res: EvaluationResult,
    title: str = "vfbench evaluation report",
    plots: bool = True,
    images: dict[str, bytes] | None = None,
) -> str:
    """The whole report as one HTML string. ``images``: the PNG of each plot group
    (:func:`~vfbench.report.plots.plot_groups` name -> bytes) when already rendered for
    ``plots/*.png``, so the figures are not drawn again; a group it lacks is rendered here."""
    title = res.summary.get("title") or title
    used: set[str] = set()
    sections: list[tuple[str, str, str]] = []  # (id, heading, body)

    def section(heading: str, body: str) -> None:
        sections.append((_slug(heading, used), heading, body))

    # 1. headline (+ reading of the main figure)
    head = headline_table(res)
    tables = [t for t in extra_tables(res) if t is not head]
    if head is not None:
        body = ""
        if head.get("note"):
            body += f"<p class='note'>{html.escape(str(head['note']))}</p>"
        body += _table(
            [str(h) for h in head["headers"]],
            [[str(c) for c in r] for r in head["rows"]],
            cls="headline",
        )
        r = reading(res)
        if r is not None:
            body += f"<p class='reading{'' if r[1] else ' bad'}'>{html.escape(r[0])}</p>"
        body += f"<p class='note'>{html.escape(anchors_note(res)).replace(chr(10), '<br>')}</p>"
        section("Headline", body)
    # 2. key plots
    if plots and res.curves:
        section("Key plots", _figures(res, images))
    # 3. the producer's detailed tables
    for t in tables:
        body = f"<p class='note'>{html.escape(str(t['note']))}</p>" if t.get("note") else ""
        body += _table([str(h) for h in t["headers"]], [[str(c) for c in r] for r in t["rows"]])
        section(str(t.get("title", "Table")), body)
    # 4. every row
    main_rows = [m for m in sorted_rows(res) if m.task != "repeated"]
    if main_rows:
        section(
            "All results",
            "<p class='note'>Every figure of every task and direction, in %.</p>"
            + _table(HEADER, [row_cells(m) for m in main_rows]),
        )
    sub = [m for m in sorted_rows(res, groups=True) if m.group != "all"]
    if sub:
        section("By query attribute", _table(HEADER, [row_cells(m) for m in sub]))
    rep = [m for m in sorted_rows(res) if m.task == "repeated"]
    if rep:
        section(
            "Repeated random test sets (paper Fig. 4b)",
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
            ),
        )
    if res.warnings:
        section(
            "Warnings",
            "<ul>"
            + "".join(f"<li class='warn'>{html.escape(w)}</li>" for w in res.warnings)
            + "</ul>",
        )
    section("Provenance", f"<pre id='provenance'>{html.escape(provenance_text(res))}</pre>")

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if is_smoke(res):
        parts.append(f"<p class='smoke' id='smoke'>{html.escape(SMOKE_TEXT)}</p>")
    s = res.summary
    if s:
        parts.append(
            "<p>"
            + html.escape(
                f"{s.get('n_identities', '?')} identities, {s.get('n_voices', '?')} voices, "
                f"{s.get('n_faces', '?')} faces; scorer {s.get('scorer', '?')}; "
                f"gender known: {'yes' if s.get('gender_known') else 'no'}."
            )
            + "</p>"
        )
    parts.append("<nav class='toc' id='toc'><strong>Contents</strong><ol>")
    parts.extend(f"<li><a href='#{sid}'>{html.escape(h)}</a></li>" for sid, h, _ in sections)
    parts.append("</ol></nav>")
    for sid, h, body in sections:
        parts.append(f"<section id='{sid}'><h2>{html.escape(h)}</h2>{body}</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def write_html(
    res: EvaluationResult,
    path: str | Path,
    title: str = "vfbench evaluation report",
    images: dict[str, bytes] | None = None,
) -> Path:
    """Write the self-contained report atomically; returns its path. ``images``: as in
    :func:`to_html`."""
    p = Path(path)
    atomic_write_text(p, to_html(res, title, images=images))
    return p
