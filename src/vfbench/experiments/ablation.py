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
from vfbench.evaluate.results import EvaluationResult
from vfbench.experiments.config import DemoConfig, load_demo_config, resolve_config_path
from vfbench.experiments.demo import (
    stage_embed,
    stage_evaluate,
    stage_preprocess,
    stage_synth,
    stage_train,
)
from vfbench.experiments.grid import Column, GridTable, TableRow, cells_of
from vfbench.experiments.stages import StageRunner
from vfbench.report.compare import compare_results
from vfbench.report.experiments import grid_markdown, print_grid
from vfbench.utils.io import atomic_write_json, atomic_write_text, stable_hash
from vfbench.utils.provenance import Provenance

Log = Callable[[str], None]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: The comparison's columns: (label, find-kwargs of the metric row).
_COLUMNS: tuple[tuple[str, dict[str, Any]], ...] = (
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
COLUMNS: list[Column] = [Column(label, where) for label, where in _COLUMNS]


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
    table: GridTable
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
    table = comparison_table(grid, evals, {r.name: grid.config(r) for r in grid.rows})
    table.extra = {
        "grid": str(grid.path),
        "timing": timing,
        "provenance": Provenance(
            command=command,
            seed=base_cfg.seed,
            config={"base": str(grid.base), "set": grid.overrides,
                    "rows": [{"name": r.name, "set": r.overrides} for r in grid.rows]},
            inputs={f"data.{k}": v for k, v in data.hashes.items()},
        ).to_dict(),
    }  # fmt: skip
    md_path, json_path = root / "ablation.md", root / "ablation.json"
    saved = table.to_dict()
    atomic_write_text(md_path, grid_markdown(saved))
    atomic_write_json(json_path, saved)
    return AblationResult(root, table, md_path, json_path, time.perf_counter() - t0, timing)


def comparison_table(
    grid: Grid,
    evals: dict[str, Path],
    configs: dict[str, DemoConfig] | None = None,
) -> GridTable:
    """Per row and column: value, interval, the anchors (chance, gender-only, the baseline
    row's oracle on the same trials) and the paired test against the baseline.
    ``configs``: the rows' resolved configs (for their method and split), when known."""
    configs = configs or {}
    base = EvaluationResult.load(evals[grid.baseline], with_outcomes=True)
    oracle_dir = evals[grid.baseline] / "oracle"
    oracle = EvaluationResult.load(oracle_dir) if (oracle_dir / "results.json").is_file() else None
    rows = []
    for row in grid.rows:
        if row.name not in evals:
            continue
        res = EvaluationResult.load(evals[row.name], with_outcomes=True)
        tests = {}
        if row.name != grid.baseline:
            keys = {m.key for c in COLUMNS if (m := c.metric(res)) is not None and m.key}
            sub_a = EvaluationResult(
                trials_hash=res.trials_hash,
                outcomes={k: v for k, v in res.outcomes.items() if k in keys},
            )
            sub_b = EvaluationResult(
                trials_hash=base.trials_hash,
                outcomes={k: v for k, v in base.outcomes.items() if k in keys},
            )
            tests = {c.key: c for c in compare_results(sub_a, sub_b, n_boot=1000)} if keys else {}
        rows.append(
            TableRow(
                name=row.name,
                cells=cells_of(res, COLUMNS, tests, oracle),
                trials_sha256=res.trials_hash,
                result=str(evals[row.name]),
                note=row.note,
                settings=list(row.overrides),
                method=configs[row.name].train.method if row.name in configs else "",
            )
        )
    return GridTable(
        kind="ablation",
        name=grid.path.name,
        baseline=grid.baseline,
        trials_sha256=base.trials_hash,
        columns=[c.label for c in COLUMNS],
        rows=rows,
        split=configs[grid.baseline].split if grid.baseline in configs else "test",
        description=f"Grid `{grid.path.name}`, base `{grid.base.name}`. Male/Female: query "
        "gender subsets (no paired test).",
    )


#: The columns ``vfbench ablate`` prints in the terminal.
PRINTED = ["1:2 v2f", "1:2 G v2f", "1:2 f2v", "mAP v2f", "AUC v2f"]


def print_ablation(res: AblationResult, console: Any = None) -> None:
    print_grid(res.table.to_dict(), PRINTED, console)
