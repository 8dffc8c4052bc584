"""Text renderings of an :class:`~vfbench.evaluate.results.EvaluationResult`.

Terminal (rich), Markdown, CSV and LaTeX. All figures in [0, 1] are shown in percent with
two decimals; the interval column is the preferred one of each row (identity bootstrap
where available, else t / Wilson / binomial), and the paper's binomial interval is shown
beside it for matching rows so the reader sees how much too narrow it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from vfbench.evaluate.results import EvaluationResult, Metric

TASK_ORDER = ("match", "verify", "retrieve", "joint_match", "joint_retrieve", "repeated")
TERMINAL_METRICS = {"accuracy", "auc", "eer", "mAP", "p@1", "p@10", "R-precision"}


def pct(x: float | None, digits: int = 2) -> str:
    if x is None or x != x:  # None or NaN
        return "-"
    return f"{100.0 * x:.{digits}f}"


def interval_str(m: Metric, method: str | None = None) -> str:
    iv = m.interval(method)
    if iv is None or iv.low != iv.low:
        return "-"
    return f"[{pct(iv.low)}, {pct(iv.high)}]"


def sorted_rows(
    res: EvaluationResult, groups: bool = False, names: set[str] | None = None
) -> list[Metric]:
    """Rows in report order (task, direction, then as computed)."""
    rows = [
        m
        for m in res.metrics
        if (groups or m.group == "all") and (names is None or m.name in names)
    ]
    order = {t: i for i, t in enumerate(TASK_ORDER)}
    dirs = {"v2f": 0, "f2v": 1}
    ranked = sorted(
        enumerate(rows),
        key=lambda im: (order.get(im[1].task, 99), dirs.get(im[1].direction, 2), im[0]),
    )
    return [m for _, m in ranked]


HEADER = [
    "task",
    "dir",
    "setting",
    "group",
    "metric",
    "value (%)",
    "95% CI (%)",
    "CI method",
    "binomial CI (%)",
    "chance (%)",
    "gender-only (%)",
    "n",
    "ids",
]


def row_cells(m: Metric) -> list[str]:
    iv = m.interval()
    binom = (
        interval_str(m, "binomial")
        if "binomial" in m.intervals and iv and iv.method != "binomial"
        else ""
    )
    return [
        m.task,
        m.direction,
        m.setting,
        m.group,
        m.name,
        pct(m.value),
        interval_str(m),
        iv.method if iv else "-",
        binom,
        pct(m.chance),
        pct(m.gender_baseline),
        str(m.n),
        str(m.n_identities),
    ]


def anchors_note(res: EvaluationResult) -> str:
    tie = res.protocol.get("tie_rule", "half")
    lines = [
        f"Ties: {'half credit (1/k among k tied maxima)' if tie == 'half' else 'counted as correct (peer rule)'}; "
        f"AP: {res.protocol.get('ap', 'sklearn')}; EER: {res.protocol.get('eer', 'interp')}.",
        "chance = a random scorer; gender-only = a scorer that knows only gender "
        "(1 if same gender else 0), scored on the same trials with the same tie rule.",
    ]
    return "\n".join(lines)


def extra_tables(res: EvaluationResult) -> list[dict[str, Any]]:
    """Pre-rendered tables a producer stored in ``summary["tables"]`` (e.g. ``vfbench demo``'s
    paper-style tables): dicts with ``title``, ``note``, ``headers`` and ``rows`` (strings).
    Rendered after the header, so ``vfbench report`` reproduces them from results.json."""
    out = []
    for t in res.summary.get("tables") or []:
        if (
            isinstance(t, dict)
            and isinstance(t.get("headers"), list)
            and isinstance(t.get("rows"), list)
        ):
            out.append(t)
    return out


SMOKE_TEXT = (
    "Smoke run: a reduced protocol and/or a tiny training budget meant to check that the "
    "pipeline runs, not to measure a model. Do not quote these figures."
)


def is_smoke(res: EvaluationResult) -> bool:
    """True for quick/smoke runs: their producer (``vfbench demo --quick``, ``evaluate
    --quick``) sets ``summary["smoke"]``."""
    return bool(res.summary.get("smoke"))


def _find_one(
    res: EvaluationResult, task: str, direction: str, setting: str, name: str
) -> Metric | None:
    for m in res.metrics:
        if (
            m.group == "all"
            and m.task == task
            and m.direction == direction
            and m.setting == setting
            and m.name == name
        ):
            return m
    return None


HEADLINE_HEADERS = ["figure", "value", "95% CI", "chance", "gender-only"]


def headline_table(res: EvaluationResult) -> dict[str, Any] | None:
    """The first-screen table: the producer's ``Headline`` table when it stored one (the
    demo adds the oracle ceiling), else the key figure of each task and direction."""
    for t in extra_tables(res):
        if str(t.get("title", "")).lower().startswith("headline"):
            return t
    rows: list[list[str]] = []
    label = {"v2f": "voice→face", "f2v": "face→voice"}
    for d in ("v2f", "f2v"):
        ns = sorted(
            {
                int(m.params.get("n", 0))
                for m in res.metrics
                if m.task == "match" and m.direction == d and m.params.get("constraint") == "U"
            }
        )
        wanted = [("match", "1:2 U", "accuracy", "1:2 matching, any distractor")]
        wanted.append(("match", "1:2 G", "accuracy", "1:2 matching, same-gender distractor"))
        if ns and ns[-1] > 2:
            wanted.append(("match", f"1:{ns[-1]} U", "accuracy", f"1:{ns[-1]} matching"))
        wanted.append(("verify", "pairs U", "auc", "verification AUC"))
        wanted.append(("verify", "pairs U", "eer", "verification EER (lower is better)"))
        paper = [
            m.setting
            for m in res.metrics
            if m.task == "retrieve" and m.direction == d and m.name == "mAP"
        ]
        if paper:
            wanted.append(("retrieve", paper[0], "mAP", f"retrieval mAP ({paper[0]})"))
        for task, setting, name, text in wanted:
            m = _find_one(res, task, d, setting, name)
            if m is None:
                continue
            rows.append(
                [
                    f"{text}, {label[d]}",
                    pct(m.value),
                    interval_str(m),
                    pct(m.chance),
                    pct(m.gender_baseline),
                ]
            )
    if not rows:
        return None
    return {
        "title": "Headline",
        "note": "value and 95% interval in %; the interval is the row's preferred one "
        "(identity-level bootstrap where available).",
        "headers": HEADLINE_HEADERS,
        "rows": rows,
    }


def to_markdown(res: EvaluationResult, groups: bool = True) -> str:
    """A Markdown report: headline table, subgroup table, repeated sets, warnings, provenance."""
    out = io.StringIO()
    prov = res.provenance
    out.write(f"# {res.summary.get('title') or 'vfbench evaluation report'}\n\n")
    out.write(
        f"vfbench {prov.get('vfbench_version', '?')} - seed {prov.get('seed')} - "
        f"trials `{res.trials_hash[:16]}` - created {prov.get('created_utc', '')}\n\n"
    )
    s = res.summary
    if s:
        out.write(
            f"{s.get('n_identities', '?')} identities, {s.get('n_voices', '?')} voices, "
            f"{s.get('n_faces', '?')} faces; scorer {s.get('scorer', '?')}; gender known: "
            f"{s.get('gender_known', False)}.\n\n"
        )
    if is_smoke(res):
        out.write(f"> **{SMOKE_TEXT}**\n\n")
    out.write(anchors_note(res).replace("\n", "  \n") + "\n\n")
    for t in extra_tables(res):
        out.write(f"## {t.get('title', '')}\n\n" + (f"{t['note']}\n\n" if t.get("note") else ""))
        out.write("| " + " | ".join(str(h) for h in t["headers"]) + " |\n")
        out.write("|" + "---|" * len(t["headers"]) + "\n")
        for r in t["rows"]:
            out.write("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |\n")
        out.write("\n")

    def table(rows: Iterable[Metric]) -> None:
        out.write("| " + " | ".join(HEADER) + " |\n")
        out.write("|" + "---|" * len(HEADER) + "\n")
        for m in rows:
            cells = [c.replace("|", "\\|") for c in row_cells(m)]
            out.write("| " + " | ".join(cells) + " |\n")
        out.write("\n")

    main = [m for m in sorted_rows(res) if m.task != "repeated"]
    out.write("## Results\n\n")
    table(main)
    rep = [m for m in sorted_rows(res) if m.task == "repeated"]
    if rep:
        out.write("## Repeated random test sets (paper Fig. 4b)\n\n")
        out.write(
            "| dir | task | identities | sets | mean (%) | std (%) | t-interval (%) | min-max (%) |\n"
        )
        out.write("|---|---|---|---|---|---|---|---|\n")
        for m in rep:
            p = m.params
            out.write(
                f"| {m.direction} | {p.get('of_task')} {m.name} | {p.get('size')} | {m.n} | {pct(m.value)} | "
                f"{pct(p.get('std'))} | {interval_str(m, 't')} | {pct(p.get('min'))}-{pct(p.get('max'))} |\n"
            )
        out.write("\n")
    if groups:
        sub = [m for m in sorted_rows(res, groups=True) if m.group != "all"]
        if sub:
            out.write("## By query attribute\n\n")
            table(sub)
    if res.warnings:
        out.write("## Warnings\n\n" + "".join(f"- {w}\n" for w in res.warnings) + "\n")
    out.write("## Provenance\n\n```\n" + provenance_text(res) + "\n```\n")
    return out.getvalue()


def provenance_text(res: EvaluationResult) -> str:
    p = res.provenance
    lines = [
        f"vfbench_version: {p.get('vfbench_version', '')}",
        f"python: {p.get('python', '')}  platform: {p.get('platform', '')}",
        f"created_utc: {p.get('created_utc', '')}",
        f"command: {p.get('command', '')}",
        f"seed: {p.get('seed')}",
        f"trials sha256: {res.trials_hash}",
    ]
    for k, v in (p.get("inputs") or {}).items():
        lines.append(f"input {k}: {v}")
    return "\n".join(lines)


def to_csv(res: EvaluationResult) -> str:
    """Every row (all groups) with every interval as columns; raw fractions, not percent."""
    methods = sorted({k for m in res.metrics for k in m.intervals})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = [
        "task",
        "direction",
        "setting",
        "group",
        "metric",
        "value",
        "n",
        "n_identities",
        "chance",
        "gender_baseline",
    ]
    for k in methods:
        head += [f"{k}_low", f"{k}_high"]
    head.append("params")
    w.writerow(head)
    for m in res.metrics:
        row: list[Any] = [
            m.task,
            m.direction,
            m.setting,
            m.group,
            m.name,
            m.value,
            m.n,
            m.n_identities,
            m.chance,
            m.gender_baseline,
        ]
        for k in methods:
            iv = m.intervals.get(k)
            row += [iv.low, iv.high] if iv else ["", ""]
        row.append(";".join(f"{k}={v}" for k, v in m.params.items() if k != "values"))
        w.writerow(["" if x is None else x for x in row])
    return buf.getvalue()


def to_latex(res: EvaluationResult) -> str:
    """A booktabs table of the headline rows (value +- half-width of the preferred CI)."""
    lines = [
        r"\begin{tabular}{lllrrrr}",
        r"\toprule",
        r"Task & Dir & Setting & Metric & Value (\%) & Chance (\%) & Gender-only (\%) \\",
        r"\midrule",
    ]
    for m in sorted_rows(res, names=TERMINAL_METRICS):
        iv = m.interval()
        val = pct(m.value) + (f" $\\pm$ {pct(iv.half_width)}" if iv and iv.low == iv.low else "")
        cells = [
            m.task.replace("_", r"\_"),
            m.direction,
            m.setting.replace("_", r"\_"),
            m.name.replace("@", "@"),
            val,
            pct(m.chance),
            pct(m.gender_baseline),
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def print_table(
    res: EvaluationResult, console: Any = None, all_metrics: bool = False, groups: bool = False
) -> None:
    """The terminal summary table (rich); ``groups``: also the ``--by`` breakdown rows."""

    con = console or Console()
    t = Table(title="vfbench evaluation", show_lines=False)
    heads = ["task", "dir", "setting", *(["group"] if groups else []), "metric", "value %"]
    heads += ["95% CI %", "method", "chance %", "gender-only %", "n"]
    for h in heads:
        t.add_column(
            h, justify="right" if h in ("value %", "chance %", "gender-only %", "n") else "left"
        )
    for m in sorted_rows(res, groups, None if all_metrics else TERMINAL_METRICS):
        iv = m.interval()
        t.add_row(
            m.task,
            m.direction,
            *([m.setting, m.group] if groups else [m.setting]),
            m.name,
            pct(m.value),
            interval_str(m),
            iv.method if iv else "-",
            pct(m.chance),
            pct(m.gender_baseline),
            str(m.n),
        )
    con.print(t)
    con.print(anchors_note(res))
    for w in res.warnings:
        con.print(f"[yellow]warning:[/yellow] {w}")
