"""The one renderer of grid experiments (ablations, method benchmarks): a saved grid table
(``ablation.json`` / ``benchmark.json``, schema ``vfbench.grid/1`` =
``vfbench.experiments.grid.GridTable.to_dict()``) as Markdown or a terminal table.

It only renders: every number (values, intervals, paired tests, anchors) is already in the
table, so a saved table re-renders without rerunning anything. Cells read
``value % [95% interval]``; rows other than the baseline add ``(difference in points, p)``.
"""

from __future__ import annotations

from typing import Any

from vfbench.errors import DataError
from vfbench.utils.progress import make_console

SCHEMA = "vfbench.grid/1"

Table = dict[str, Any]
"""A grid table as saved (see the module docstring)."""


def pct(x: float | None, digits: int = 2) -> str:
    """A fraction as percent with ``digits`` decimals; "-" for None/NaN."""
    return "-" if x is None or x != x else f"{100.0 * x:.{digits}f}"


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"


def cell_text(c: dict[str, Any] | None, baseline: bool, digits: int = 2) -> str:
    """``value [low, high]`` plus ``(+diff, p=..; McN ..)`` against the baseline."""
    if c is None:
        return "-"
    s = f"{pct(c['value'], digits)} [{pct(c['low'], digits)}, {pct(c['high'], digits)}]"
    if not baseline and c.get("diff") is not None:
        s += f" ({100 * c['diff']['value']:+.2f}, p={_p(c['p_bootstrap'])}"
        s += f"; McN {_p(c['p_mcnemar'])})" if c.get("p_mcnemar") is not None else ")"
    return s


def _check(t: Table) -> None:
    if t.get("schema") != SCHEMA:
        raise DataError(f"not a grid table (schema {t.get('schema')!r}, want {SCHEMA!r})")


TITLES = {
    "ablation": "Ablation (paper Table 5 style)",
    "methods": "Method comparison (paper Table 2 style)",
}


def grid_markdown(t: Table) -> str:
    """The whole comparison as Markdown: the table, the anchors on the same trials, the 1:n
    curve and how each row was trained (when known), the trials and any warnings."""
    _check(t)
    rows, cols, baseline = t["rows"], t["columns"], t["baseline"]
    base = next((r for r in rows if r["name"] == baseline), rows[0] if rows else None)
    out = [
        f"# {TITLES.get(t['kind'], 'Grid comparison')}: {t['name']} ({t['split']} split)",
        "",
        *([t["description"], ""] if t.get("description") else []),
        f"Every row scored on the same trials (`{t['trials_sha256'][:16]}`). Cells: value % "
        f"[95% interval]; other rows add (difference to **{baseline}** in points, p) with p "
        "from the paired identity-level bootstrap and, for matching, McNemar's exact test "
        "(McN) beside it: McNemar treats trials as independent, so with trials sharing "
        "identities it is far too confident; read the bootstrap p.",
        "",
        "| row | " + " | ".join(cols) + " | change |",
        "|---|" + "---|" * len(cols) + "---|",
    ]
    for r in rows:
        is_base = r["name"] == baseline
        cells = [cell_text(r["cells"].get(c), is_base) for c in cols]
        # the row's own change; "baseline" only for the baseline row (a methods grid's rows
        # differ by method, not by a setting)
        change = r["note"] or (
            ", ".join(r["settings"]) if r["settings"] else ("baseline" if is_base else "-")
        )
        name = f"**{r['name']}**" if is_base else r["name"]
        out.append(f"| {name} | " + " | ".join(cells) + f" | {change.replace('|', '/')} |")
    if base is not None:
        anchors = []
        for c in cols:
            cell = base["cells"].get(c)
            if cell is not None:
                a = f"{c}: chance {pct(cell['chance'])}, gender-only {pct(cell['gender_baseline'])}"
                o = cell.get("oracle")
                anchors.append(a + (f", oracle {pct(o)}" if o is not None else ""))
        out += ["", "Anchors (same trials): " + "; ".join(anchors) + "."]
    out += _curve(rows)
    out += _runs(rows)
    if t.get("warnings"):
        out += ["", "Warnings:", *[f"- {w}" for w in t["warnings"]]]
    return "\n".join(out) + "\n"


def _curve(rows: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for d, title in (("v2f", "voice -> face"), ("f2v", "face -> voice")):
        ns = sorted({p["n"] for r in rows for p in r["curve"].get(d, [])})
        if not ns:
            continue
        lines += [
            "",
            f"## 1:n matching, {title} (accuracy %, Fig. 4a)",
            "",
            "| row | " + " | ".join(f"n={n}" for n in ns) + " |",
            "|---|" + "---|" * len(ns),
        ]
        for r in rows:
            by_n = {p["n"]: p for p in r["curve"].get(d, [])}
            lines.append(
                f"| {r['name']} | "
                + " | ".join(pct(by_n[n]["value"]) if n in by_n else "-" for n in ns)
                + " |"
            )
    return lines


def _runs(rows: list[dict[str, Any]]) -> list[str]:
    if not any(r["method"] for r in rows):
        return []
    lines = [
        "",
        "| row | method | loss | scorer | steps | train s | eval s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['method']} | {r['loss'] or '-'} | {r['scorer'] or '-'} | "
            f"{r['steps'] or '-'} | {r['train_s']:.0f} | {r['eval_s']:.0f} |"
        )
    return lines


def print_grid(t: Table, columns: list[str] | None = None, console: Any = None) -> None:
    """A terminal table of ``columns`` (default: all): value and, for the other rows,
    (difference, bootstrap p) against the baseline."""
    from rich.table import Table as RichTable

    _check(t)
    con = console or make_console()
    tab = RichTable(title=f"{t['kind']}: {t['name']}")
    tab.add_column("row")
    cols = [c for c in t["columns"] if columns is None or c in columns]
    for c in cols:
        tab.add_column(c, justify="right")
    for r in t["rows"]:
        vals = []
        for c in cols:
            cell = r["cells"].get(c)
            if cell is None:
                vals.append("-")
                continue
            s = pct(cell["value"])
            if cell.get("diff") is not None:
                s += f" ({100 * cell['diff']['value']:+.1f}, p={_p(cell['p_bootstrap'])})"
            vals.append(s)
        tab.add_row(r["name"], *vals)
    con.print(tab)
