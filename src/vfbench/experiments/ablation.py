"""``vfbench ablate GRID.yaml``: a grid of demo configs on the same trials (paper Table 5).

A grid file::

    base: demo.yaml            # the demo config every row starts from (name or path)
    set: [train.steps=1500]    # overrides for every row
    baseline: trinet           # the row the others are tested against (default: first)
    rows:
      - name: trinet
      - name: no_l2
        set: [train.head.l2=false]
        note: "L2 normalisation off (Table 5)"

Every row is a full :class:`~vfbench.experiments.config.DemoConfig`. Rows must share the corpus
(``synth``), the evaluated ``split`` and the ``protocol``, so they are scored on exactly
the same trials: the baseline row generates the trial file and every other row is
evaluated on it. Preprocessing caches are shared between rows with equal preprocessing
configs. Each row's stages are reused when unchanged, so an interrupted grid resumes and
a finished row is never rerun (adding a row to the grid only runs that row).

Layout of OUT::

    corpus/                    the shared synthetic corpus
    cache/<hash>/              one preprocessing cache per distinct preprocess config
    rows/<name>/{train,embeddings,eval}/
    ablation.md, ablation.json the Table-5-style comparison
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfbench.config import read_yaml, to_dict
from vfbench.errors import ConfigError
from vfbench.evaluate.results import EvaluationResult, Metric
from vfbench.experiments.config import DemoConfig, load_demo_config, resolve_config_path
from vfbench.experiments.demo import (
    stage_embed,
    stage_evaluate,
    stage_preprocess,
    stage_synth,
    stage_train,
)
from vfbench.experiments.stages import StageRunner
from vfbench.experiments.summary import ceiling_fraction, pct
from vfbench.utils.io import atomic_write_json, atomic_write_text, stable_hash
from vfbench.utils.provenance import Provenance

Log = Callable[[str], None]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: The comparison's columns: (label, find-kwargs of the metric row).
COLUMNS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("1:2 v2f", {"task": "match", "direction": "v2f", "n": 2, "constraint": "U", "group": "all"}),
    ("1:3 v2f", {"task": "match", "direction": "v2f", "n": 3, "constraint": "U", "group": "all"}),
    ("Male", {"task": "match", "direction": "v2f", "n": 2, "constraint": "U", "group": "gender=m"}),
    (
        "Female",
        {"task": "match", "direction": "v2f", "n": 2, "constraint": "U", "group": "gender=f"},
    ),
    ("1:2 G v2f", {"task": "match", "direction": "v2f", "n": 2, "constraint": "G", "group": "all"}),
    ("1:2 f2v", {"task": "match", "direction": "f2v", "n": 2, "constraint": "U", "group": "all"}),
    ("mAP v2f", {"task": "retrieve", "direction": "v2f", "variant": "paper", "name": "mAP"}),
    ("AUC v2f", {"task": "verify", "direction": "v2f", "name": "auc"}),
)


@dataclass
class GridRow:
    name: str
    overrides: list[str]
    note: str = ""


@dataclass
class Grid:
    """A parsed grid file: base config, shared overrides, rows, baseline name."""

    path: Path
    base: Path
    overrides: list[str]
    rows: list[GridRow]
    baseline: str

    def config(self, row: GridRow) -> DemoConfig:
        return load_demo_config(self.base, [*self.overrides, *row.overrides])


@dataclass
class AblationResult:
    out: Path
    rows: list[dict[str, Any]]
    markdown_path: Path
    json_path: Path
    seconds: float
    timing: list[dict[str, Any]] = field(default_factory=list)


def _str_list(v: Any, where: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where}: expected a list of 'key=value' strings, got {v!r}")
    return list(v)


def load_grid(path: str | Path, overrides: Iterable[str] = ()) -> Grid:
    """Parse and validate a grid file (every row's config is loaded, so a bad key in any
    row fails here, naming the row), plus ``overrides`` applied to every row."""
    p = resolve_config_path(path)
    data = read_yaml(p)
    known = {"base", "set", "baseline", "rows", "description"}
    unknown = [k for k in data if k not in known]
    if unknown:
        raise ConfigError(
            f"{p}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
        )
    base = resolve_config_path(str(data.get("base", "demo.yaml")), p.parent)
    rows_raw = data.get("rows")
    if not isinstance(rows_raw, list) or not rows_raw:
        raise ConfigError(f"{p}: 'rows' must be a non-empty list of {{name, set}} mappings")
    rows: list[GridRow] = []
    for i, r in enumerate(rows_raw):
        where = f"{p}: rows[{i}]"
        if not isinstance(r, dict) or "name" not in r:
            raise ConfigError(f"{where}: each row needs a 'name'")
        bad = [k for k in r if k not in ("name", "set", "note")]
        if bad:
            raise ConfigError(f"{where}: unknown key {bad[0]!r}; known keys: name, note, set")
        name = str(r["name"])
        if not _NAME.match(name):
            raise ConfigError(f"{where}: row name {name!r} must be a short file-name-safe word")
        if any(x.name == name for x in rows):
            raise ConfigError(f"{where}: row name {name!r} is used twice")
        rows.append(
            GridRow(name, _str_list(r.get("set"), f"{where} ({name})"), str(r.get("note", "")))
        )
    baseline = str(data.get("baseline", rows[0].name))
    if baseline not in {r.name for r in rows}:
        raise ConfigError(f"{p}: baseline {baseline!r} is not one of the rows")
    grid = Grid(p, base, [*_str_list(data.get("set"), f"{p}: set"), *overrides], rows, baseline)
    ref: DemoConfig | None = None
    for r in grid.rows:
        try:
            cfg = grid.config(r)
        except ConfigError as exc:
            raise ConfigError(f"{p}: row {r.name!r}: {exc}") from None
        if ref is None:
            ref = cfg
            continue
        for what in ("synth", "protocol", "split", "corpus"):
            if to_dict(getattr(cfg, what)) != to_dict(getattr(ref, what)):
                raise ConfigError(
                    f"{p}: row {r.name!r} changes {what!r}; all rows must be scored on the "
                    "same corpus, split and trials (put such changes in the grid's 'set')"
                )
    return grid


def _ordered(grid: Grid, only: Iterable[str]) -> list[GridRow]:
    want = list(only)
    names = {r.name for r in grid.rows}
    bad = [w for w in want if w not in names]
    if bad:
        raise ConfigError(
            f"{grid.path}: no row named {bad[0]!r} (rows: {', '.join(sorted(names))})"
        )
    rows = [r for r in grid.rows if not want or r.name in want or r.name == grid.baseline]
    return sorted(
        rows, key=lambda r: r.name != grid.baseline
    )  # baseline first: it makes the trials


def run_ablation(
    grid: Grid,
    out: str | Path,
    *,
    progress: bool = True,
    log: Log | None = None,
    only: Iterable[str] = (),
    command: str = "",
) -> AblationResult:
    """Run every row (reusing finished stages) and write the comparison table."""
    t0 = time.perf_counter()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    say = log or (lambda _m: None)
    runner = StageRunner(root, say)
    base_row = next(r for r in grid.rows if r.name == grid.baseline)
    base_cfg = grid.config(base_row)
    data = stage_synth(runner, base_cfg, root / "corpus", progress, command)
    trials: Path | None = None
    evals: dict[str, Path] = {}
    timing: list[dict[str, Any]] = []
    for row in _ordered(grid, only):
        cfg = grid.config(row)
        if row.name != grid.baseline:
            cfg.oracle = False  # same trials: the baseline row's oracle is every row's
        say(f"== row {row.name} ==")
        n0 = len(runner.records)
        cache_dir = root / "cache" / stable_hash(to_dict(cfg.preprocess), length=12)
        pre = stage_preprocess(runner, cfg, data, cache_dir, progress, command)
        rdir = root / "rows" / row.name
        tr = stage_train(
            runner, cfg, data, cache_dir, pre.outputs["cache"], rdir / "train", progress
        )
        em = stage_embed(
            runner, cfg, data, cache_dir, pre.outputs["cache"], tr, rdir / "embeddings"
        )
        stage_evaluate(runner, cfg, data, em, rdir / "eval", trials, command)
        if trials is None:
            trials = rdir / "eval" / "trials.npz"
        evals[row.name] = rdir / "eval"
        for r in runner.records[n0:]:
            timing.append({"row": row.name, "stage": r.name, "status": r.status,
                           "seconds": r.seconds, "compute_seconds": r.compute_seconds})  # fmt: skip
    rows = comparison_rows(grid, evals)
    md = ablation_markdown(rows, grid)
    md_path, json_path = root / "ablation.md", root / "ablation.json"
    atomic_write_text(md_path, md)
    atomic_write_json(
        json_path,
        {
            "grid": str(grid.path),
            "baseline": grid.baseline,
            "columns": [c for c, _ in COLUMNS],
            "rows": rows,
            "timing": timing,
            "provenance": Provenance(
                command=command,
                seed=base_cfg.seed,
                config={"base": str(grid.base), "set": grid.overrides,
                        "rows": [{"name": r.name, "set": r.overrides} for r in grid.rows]},
                inputs={f"data.{k}": v for k, v in data.hashes.items()},
            ).to_dict(),
        },
    )  # fmt: skip
    return AblationResult(root, rows, md_path, json_path, time.perf_counter() - t0, timing)


def _find(res: EvaluationResult, where: dict[str, Any]) -> Metric | None:
    rows = res.find(**where)
    return rows[0] if rows else None


def comparison_rows(grid: Grid, evals: dict[str, Path]) -> list[dict[str, Any]]:
    """Per row and column: value, interval, and the paired test against the baseline."""
    from vfbench.report.compare import compare_results

    base = EvaluationResult.load(evals[grid.baseline], with_outcomes=True)
    oracle_dir = evals[grid.baseline] / "oracle"
    oracle = EvaluationResult.load(oracle_dir) if (oracle_dir / "results.json").is_file() else None
    out = []
    for row in grid.rows:
        if row.name not in evals:
            continue
        res = EvaluationResult.load(evals[row.name], with_outcomes=True)
        tests: dict[str, Any] = {}
        if row.name != grid.baseline:
            keys = {m.key for _, w in COLUMNS if (m := _find(res, w)) is not None and m.key}
            sub_a = EvaluationResult(
                trials_hash=res.trials_hash,
                outcomes={k: v for k, v in res.outcomes.items() if k in keys},
            )
            sub_b = EvaluationResult(
                trials_hash=base.trials_hash,
                outcomes={k: v for k, v in base.outcomes.items() if k in keys},
            )
            tests = {c.key: c for c in compare_results(sub_a, sub_b, n_boot=1000)} if keys else {}
        cells: dict[str, Any] = {}
        for label, where in COLUMNS:
            m = _find(res, where)
            if m is None:
                continue
            iv = m.interval()
            t = tests.get(m.key) if m.key else None
            o = _find(oracle, where) if oracle is not None else None
            cells[label] = {
                "value": m.value,
                "low": iv.low if iv else None,
                "high": iv.high if iv else None,
                "method": iv.method if iv else "",
                "chance": m.chance,
                "gender_only": m.gender_baseline,
                "oracle": o.value if o is not None else None,
                "ceiling_fraction": ceiling_fraction(m.value, m.chance, o.value if o else None),
                "diff": None if t is None else t.diff.to_dict(),
                "p_bootstrap": None if t is None else t.p_bootstrap,
                "p_mcnemar": None if t is None else t.p_mcnemar,
            }
        out.append({"name": row.name, "note": row.note, "set": row.overrides,
                    "eval": str(evals[row.name]), "trials_sha256": res.trials_hash, "cells": cells})  # fmt: skip
    return out


def _cell(c: dict[str, Any] | None, baseline: bool) -> str:
    if c is None:
        return "-"
    s = f"{pct(c['value'])} [{pct(c['low'])}, {pct(c['high'])}]"
    if not baseline and c.get("diff") is not None:
        s += f" ({100 * c['diff']['value']:+.2f}, p={c['p_bootstrap']:.2g}"
        s += f"; McN {c['p_mcnemar']:.2g})" if c.get("p_mcnemar") is not None else ")"
    return s


def ablation_markdown(rows: list[dict[str, Any]], grid: Grid) -> str:
    """The Table-5-style comparison as Markdown."""
    cols = [c for c, _ in COLUMNS]
    out = [
        "# Ablation (paper Table 5 style)",
        "",
        f"Grid `{grid.path.name}`, base `{grid.base.name}`; every row scored on the same trials "
        f"(`{rows[0]['trials_sha256'][:16] if rows else ''}`). Cells: value % [95% interval]; other rows add "
        f"(difference to **{grid.baseline}** in points, p) with p from the paired identity-level "
        "bootstrap and, for matching, McNemar's exact test (McN) beside it: McNemar treats "
        "trials as independent, so with trials sharing identities it is far too confident; "
        "read the bootstrap p. Male/Female: query gender subsets (no paired test).",
        "",
        "| row | " + " | ".join(cols) + " | change |",
        "|---|" + "---|" * len(cols) + "---|",
    ]
    for r in rows:
        is_base = r["name"] == grid.baseline
        cells = [_cell(r["cells"].get(c), is_base) for c in cols]
        change = r["note"] or (", ".join(r["set"]) if r["set"] else "baseline")
        name = f"**{r['name']}**" if is_base else r["name"]
        out.append(f"| {name} | " + " | ".join(cells) + f" | {change.replace('|', '/')} |")
    if rows:
        b = (
            rows[[r["name"] for r in rows].index(grid.baseline)]
            if any(r["name"] == grid.baseline for r in rows)
            else rows[0]
        )
        anchors = []
        for c in cols:
            cell = b["cells"].get(c)
            if cell:
                anchors.append(
                    f"{c}: chance {pct(cell['chance'])}, gender-only {pct(cell['gender_only'])}, oracle {pct(cell['oracle'])}"
                )
        out += ["", "Anchors (same trials): " + "; ".join(anchors) + "."]
    return "\n".join(out) + "\n"


def print_ablation(res: AblationResult, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    con = console or Console(highlight=False)
    t = Table(title=f"ablation ({res.out})")
    t.add_column("row")
    cols = [c for c, _ in COLUMNS if c in ("1:2 v2f", "1:2 G v2f", "1:2 f2v", "mAP v2f", "AUC v2f")]
    for c in cols:
        t.add_column(c, justify="right")
    for r in res.rows:
        vals = []
        for c in cols:
            cell = r["cells"].get(c)
            if cell is None:
                vals.append("-")
                continue
            s = pct(cell["value"])
            if cell.get("diff") is not None:
                s += f" ({100 * cell['diff']['value']:+.1f}, p={cell['p_bootstrap']:.2g})"
            vals.append(s)
        t.add_row(r["name"], *vals)
    con.print(t)
