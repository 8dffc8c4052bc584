"""The demo's paper-style tables, headline summary and report files.

Everything here *reads* saved results (``eval/results.json``, ``eval/oracle/results.json``)
and the stage records; nothing is recomputed. The tables are stored as plain data in the
run's ``results.json`` (``summary["tables"]``: title, note, headers, rows), so
``vfbench report RUN_DIR`` renders the same report again from the saved file.

Tables (paper numbering):

* 1:2 matching, U and G negatives, with Male/Female query rows (Table 2 / Table 5 columns);
* 1:n matching, n = 2..10 (Fig. 4a);
* retrieval mAP / p@1, paper protocol and full gallery (Table 2);
* joint matching / joint retrieval over m_v, m_f (Table 3, Fig. 5);
* verification AUC / EER / TAR@FAR (ROC);
* stage timing.

Each figure shows the paper's binomial interval beside the identity-level bootstrap
interval, chance, the gender-only baseline on the same trials and the synthetic oracle
(Bayes-optimal) on the same trials; "of ceiling" is (value - chance) / (oracle - chance).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vfbench.config import to_dict
from vfbench.evaluate.results import EvaluationResult, Metric
from vfbench.experiments.grid import Cell, ceiling_fraction
from vfbench.experiments.stages import StageRecord
from vfbench.report import DEFAULT_FORMATS, write_report
from vfbench.utils.provenance import Provenance

RowKey = tuple[str, str, str, str, str]


def _key(m: Metric) -> RowKey:
    return (m.task, m.direction, m.setting, m.group, m.name)


def pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or x != x else f"{100.0 * x:.{digits}f}"


def ci(m: Metric | None, method: str | None = None) -> str:
    if m is None:
        return "-"
    iv = m.interval(method)
    if iv is None or iv.low != iv.low:
        return "-"
    return f"[{pct(iv.low)}, {pct(iv.high)}]"


class _Index:
    """Rows of a result by (task, direction, setting, group, name), plus lookups."""

    def __init__(self, res: EvaluationResult | None) -> None:
        self.rows: dict[RowKey, Metric] = {}
        if res is not None:
            for m in res.metrics:
                self.rows.setdefault(_key(m), m)

    def get(self, m: Metric | None) -> Metric | None:
        return None if m is None else self.rows.get(_key(m))


def _one(res: EvaluationResult, **where: Any) -> Metric | None:
    rows = res.find(**where)
    return rows[0] if rows else None


def _gender_label(group: str) -> str:
    return {"all": "all", "gender=m": "Male", "gender=f": "Female"}.get(group, group)


def _anchor_cells(m: Metric, o: Metric | None) -> list[str]:
    ov = o.value if o is not None else None
    frac = ceiling_fraction(m.value, m.chance, ov)
    return [pct(m.chance), pct(m.gender_baseline), pct(ov), pct(frac, 1)]


ANCHORS = ["chance", "gender-only", "oracle", "of ceiling (%)"]


def table_1to2(res: EvaluationResult, ora: _Index) -> dict[str, Any]:
    rows = []
    for d in ("v2f", "f2v"):
        for c in ("U", "G"):
            for g in ("all", "gender=m", "gender=f"):
                m = _one(
                    res, task="match", direction=d, n=2, constraint=c, group=g, name="accuracy"
                )
                if m is None:
                    continue
                rows.append(
                    [
                        d,
                        c,
                        _gender_label(g),
                        pct(m.value),
                        ci(m, "binomial"),
                        ci(m, "bootstrap-identity"),
                    ]
                    + _anchor_cells(m, ora.get(m))
                    + [str(m.n), str(m.n_identities)]
                )
    return {
        "title": "1:2 matching (paper Table 2; Male/Female rows as Table 5)",
        "note": "U: any other identity as the negative; G: a negative of the query's gender. "
        "Accuracy in %; binomial = the paper's normal-approximation interval over trials, "
        "bootstrap = identity-level (honest when trials share identities).",
        "headers": [
            "dir",
            "neg",
            "query",
            "acc",
            "binomial 95% CI",
            "bootstrap 95% CI",
            *ANCHORS,
            "trials",
            "ids",
        ],
        "rows": rows,
    }


def table_1ton(res: EvaluationResult, ora: _Index) -> dict[str, Any]:
    ns = sorted({int(m.params["n"]) for m in res.find(task="match", constraint="U", group="all")})
    rows = []
    for n in ns:
        cells = [f"1:{n}", pct(1.0 / n)]
        for d in ("v2f", "f2v"):
            m = _one(res, task="match", direction=d, n=n, constraint="U", group="all")
            o = ora.get(m)
            cells += [pct(m.value) if m else "-", ci(m), pct(o.value if o else None)]
        rows.append(cells)
    return {
        "title": "1:n matching (paper Fig. 4a)",
        "note": "Accuracy in % with the identity-bootstrap 95% interval; chance = 1/n.",
        "headers": [
            "task",
            "chance",
            "v2f acc",
            "v2f 95% CI",
            "v2f oracle",
            "f2v acc",
            "f2v 95% CI",
            "f2v oracle",
        ],
        "rows": rows,
    }


def table_retrieval(res: EvaluationResult, ora: _Index) -> dict[str, Any]:
    rows = []
    for d in ("v2f", "f2v"):
        for m in res.find(task="retrieve", direction=d, group="all"):
            if m.name not in ("mAP", "p@1"):
                continue
            rows.append(
                [d, m.setting, m.name, pct(m.value), ci(m, "normal"), ci(m, "bootstrap-identity")]
                + _anchor_cells(m, ora.get(m))
                + [str(m.params.get("n_queries", m.n)), str(m.params.get("n_gallery", ""))]
            )
    return {
        "title": "Retrieval (paper Table 2: mAP; p@1)",
        "note": "Per-query mean with its normal and identity-bootstrap 95% intervals; "
        "chance = a random ranking.",
        "headers": [
            "dir",
            "gallery",
            "metric",
            "value",
            "normal 95% CI",
            "bootstrap 95% CI",
            *ANCHORS,
            "queries",
            "gallery size",
        ],
        "rows": rows,
    }


def table_joint(res: EvaluationResult, ora: _Index) -> dict[str, Any]:
    rows = []
    seen: list[tuple[int, int]] = []
    for m in res.find(task="joint_match", group="all"):
        mm = (int(m.params["m_v"]), int(m.params["m_f"]))
        if mm not in seen:
            seen.append(mm)
    for mv, mf in sorted(seen):
        cells = ["1:2 match", str(mv), str(mf)]
        for d in ("v2f", "f2v"):
            jm = _one(res, task="joint_match", direction=d, m_v=mv, m_f=mf, group="all")
            o = ora.get(jm)
            cells += [pct(jm.value) if jm else "-", ci(jm), pct(o.value if o else None)]
        rows.append(cells)
    for m in res.find(task="joint_retrieve", group="all", name="mAP"):
        if m.direction != "v2f":
            continue
        mv, mf = int(m.params["m_v"]), int(m.params["m_f"])
        f2v = _one(res, task="joint_retrieve", direction="f2v", m_v=mv, m_f=mf, name="mAP")
        cells = [
            "retrieval mAP",
            str(mv),
            str(mf),
            pct(m.value),
            ci(m),
            pct(getattr(ora.get(m), "value", None)),
        ]
        cells += [
            pct(f2v.value) if f2v else "-",
            ci(f2v),
            pct(getattr(ora.get(f2v), "value", None)),
        ]
        rows.append(cells)
    return {
        "title": "Joint matching and retrieval on mean embeddings (paper Table 3, Fig. 5)",
        "note": "m_v voices and m_f faces averaged per identity; 1:2 accuracy or mAP in % "
        "with the identity-bootstrap 95% interval.",
        "headers": [
            "task",
            "m_v",
            "m_f",
            "v2f",
            "v2f 95% CI",
            "v2f oracle",
            "f2v",
            "f2v 95% CI",
            "f2v oracle",
        ],
        "rows": rows,
    }


def table_verification(res: EvaluationResult, ora: _Index) -> dict[str, Any]:
    rows = []
    for m in res.find(task="verify", group="all"):
        o = ora.get(m)
        rows.append(
            [
                m.direction,
                m.setting,
                m.name,
                pct(m.value),
                ci(m),
                pct(m.chance),
                pct(m.gender_baseline),
                pct(o.value if o else None),
                str(m.n),
            ]
        )
    return {
        "title": "Verification (ROC)",
        "note": "Same person or not, half positive pairs; EER lower is better; "
        "identity-bootstrap 95% intervals.",
        "headers": [
            "dir",
            "pairs",
            "metric",
            "value",
            "bootstrap 95% CI",
            "chance",
            "gender-only",
            "oracle",
            "pairs n",
        ],
        "rows": rows,
    }


def table_timing(stages: Iterable[StageRecord]) -> dict[str, Any]:
    rows = [[r.name, f"{r.compute_seconds:.1f}", r.finished_utc, r.key[:12]] for r in stages]
    total = sum(r.compute_seconds for r in stages)
    rows.append(["total", f"{total:.1f}", "", ""])
    return {
        "title": "Stages (wall time when computed)",
        "note": "A stage is recomputed only when its config or an upstream output changes.",
        "headers": ["stage", "seconds", "finished (UTC)", "key"],
        "rows": rows,
    }


#: The headline figures of the terminal summary: (label, find-kwargs).
HEADLINE = (
    ("1:2 v2f U", {"task": "match", "direction": "v2f", "n": 2, "constraint": "U", "group": "all"}),
    ("1:2 v2f G", {"task": "match", "direction": "v2f", "n": 2, "constraint": "G", "group": "all"}),
    ("1:2 f2v U", {"task": "match", "direction": "f2v", "n": 2, "constraint": "U", "group": "all"}),
    ("1:2 f2v G", {"task": "match", "direction": "f2v", "n": 2, "constraint": "G", "group": "all"}),
    (
        "1:10 v2f U",
        {"task": "match", "direction": "v2f", "n": 10, "constraint": "U", "group": "all"},
    ),
    ("mAP v2f", {"task": "retrieve", "direction": "v2f", "variant": "paper", "name": "mAP"}),
    ("mAP f2v", {"task": "retrieve", "direction": "f2v", "variant": "paper", "name": "mAP"}),
    ("AUC v2f", {"task": "verify", "direction": "v2f", "name": "auc"}),
    ("EER v2f", {"task": "verify", "direction": "v2f", "name": "eer"}),
)


def headline(res: EvaluationResult, oracle: EvaluationResult | None) -> list[dict[str, Any]]:
    """The headline figures as grid-table cells (:class:`vfbench.experiments.grid.Cell`:
    value, interval, chance, gender-only, oracle and ceiling share) with their label."""
    ora = _Index(oracle)
    out = []
    for label, where in HEADLINE:
        m = _one(res, **where)
        if m is None:
            continue
        cell = Cell.of(m, ora.get(m))
        if m.name == "eer":  # lower is better: no share of the headroom
            cell.ceiling_fraction = None
        out.append(
            {
                "label": label,
                **asdict(cell),
                "binomial": (
                    [m.intervals["binomial"].low, m.intervals["binomial"].high]
                    if "binomial" in m.intervals
                    else None
                ),
            }
        )
    return out


def headline_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": "Headline",
        "note": "value and 95% interval in %; of ceiling = (value - chance) / (oracle - chance).",
        "headers": [
            "figure",
            "value",
            "95% CI",
            "chance",
            "gender-only",
            "oracle",
            "of ceiling (%)",
        ],
        "rows": [
            [
                r["label"],
                pct(r["value"]),
                f"[{pct(r['low'])}, {pct(r['high'])}]",
                pct(r["chance"]),
                pct(r["gender_baseline"]),
                pct(r["oracle"]),
                pct(r["ceiling_fraction"], 1),
            ]
            for r in rows
        ],
    }


def paper_tables(res: EvaluationResult, oracle: EvaluationResult | None) -> list[dict[str, Any]]:
    """Every paper-style table of a result (rows as strings, ready to render)."""
    ora = _Index(oracle)
    tables = [
        table_1to2(res, ora),
        table_1ton(res, ora),
        table_retrieval(res, ora),
        table_joint(res, ora),
        table_verification(res, ora),
    ]
    return [t for t in tables if t["rows"]]


# ---------------------------------------------------------------------------- rendering
def tables_markdown(tables: Iterable[dict[str, Any]]) -> str:
    """Tables as Markdown sections."""
    out = []
    for t in tables:
        out.append(f"## {t['title']}\n")
        if t.get("note"):
            out.append(f"{t['note']}\n")
        out.append("| " + " | ".join(t["headers"]) + " |")
        out.append("|" + "---|" * len(t["headers"]))
        for r in t["rows"]:
            out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
        out.append("")
    return "\n".join(out) + "\n"


def print_summary(
    rows: list[dict[str, Any]], timing: list[dict[str, Any]], console: Any = None, title: str = ""
) -> None:
    """The end-of-run rich tables: headline figures and stage-by-stage timing."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console(highlight=False)
    t = Table(title=title or "vfbench demo: headline figures, % (test split)")
    for h in ("figure", "value [95% CI]", "chance", "gender", "oracle", "of ceil."):
        t.add_column(h, justify="left" if h == "figure" else "right", no_wrap=True)
    for r in rows:
        t.add_row(
            r["label"],
            f"{pct(r['value'], 1)} [{pct(r['low'], 1)}, {pct(r['high'], 1)}]",
            pct(r["chance"], 1),
            pct(r["gender_baseline"], 1),
            pct(r["oracle"], 1),
            "-" if r["ceiling_fraction"] is None else f"{100 * r['ceiling_fraction']:.0f}%",
        )
    con.print(t)
    s = Table(title="stages")
    for h in ("stage", "status", "this run s", "computed in s"):
        s.add_column(h, justify="left" if h in ("stage", "status") else "right")
    for r in timing:
        s.add_row(r["stage"], r["status"], f"{r['seconds']:.1f}", f"{r['compute_seconds']:.1f}")
    con.print(s)


# ---------------------------------------------------------------------------- report
def build_report(
    directory: Path,
    cfg: Any,
    eval_dir: Path,
    stages: list[StageRecord],
    data_hashes: dict[str, str],
    corpus: Path,
    command: str = "",
    formats: tuple[str, ...] | None = None,
) -> list[str]:
    """Write the run's results.json (+ outcomes.npz) and report files into ``directory``.

    Returns the written file names relative to ``directory``.
    """
    res = EvaluationResult.load(eval_dir, with_outcomes=True)
    oracle_dir = eval_dir / "oracle"
    oracle = EvaluationResult.load(oracle_dir) if (oracle_dir / "results.json").is_file() else None
    inputs = dict(res.provenance.get("inputs") or {})
    inputs.update({f"data.{k}": v for k, v in data_hashes.items()})
    for r in stages:
        for k, v in r.outputs.items():
            inputs.setdefault(f"{r.name}.{k}", v)
    seed = getattr(cfg, "seed", None)
    res.provenance = Provenance(
        command=command, seed=seed, config=to_dict(cfg), inputs=inputs
    ).to_dict()
    heads = headline(res, oracle)
    tables = [headline_table(heads), *paper_tables(res, oracle), table_timing(stages)]
    res.summary = {
        **res.summary,
        "title": "vfbench demo: TriNet on the synthetic voice-face corpus",
        "smoke": bool(getattr(cfg, "smoke", False)),
        "tables": tables,
        "demo": {
            "headline": heads,
            "stages": [r.to_dict() for r in stages],
            "corpus": str(corpus),
            "data_hashes": dict(data_hashes),
            "oracle": "eval/oracle/results.json" if oracle is not None else None,
        },
    }
    if oracle is not None and oracle.warnings:
        res.warnings.extend(f"oracle: {w}" for w in oracle.warnings if w not in res.warnings)
    fm = formats or tuple(f for f in DEFAULT_FORMATS if f != "svg")
    paths = write_report(res, directory, fm)
    return sorted(
        {str(Path(p).relative_to(directory)) for p in paths if Path(p).parent == directory}
    )
