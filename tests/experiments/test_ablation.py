"""Ablation grids: validation of the grid file, and the Table-5-style comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vfbench.errors import ConfigError
from vfbench.evaluate.api import evaluate, make_trials
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.protocol import Protocol
from vfbench.experiments.ablation import COLUMNS, Grid, GridRow, comparison_table, load_grid
from vfbench.experiments.config import packaged_config
from vfbench.experiments.grid import GridTable
from vfbench.report.experiments import grid_markdown


def grid_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "grid.yaml"
    p.write_text(text)
    return p


def test_packaged_grid_loads_with_baseline_first() -> None:
    g = load_grid(packaged_config("ablations/grid_cpu.yaml"))
    assert g.baseline == "trinet" and g.rows[0].name == "trinet"
    names = [r.name for r in g.rows]
    assert len(names) == len(set(names)) >= 5
    base = g.config(g.rows[0])
    no_l2 = g.config(next(r for r in g.rows if r.name == "no_l2"))
    assert base.train.head.l2 and not no_l2.train.head.l2
    assert base.protocol == no_l2.protocol and base.synth == no_l2.synth


@pytest.mark.parametrize(
    "text, culprit",
    [
        ("rows: []\n", "'rows' must be a non-empty list"),
        ("rows: [{name: a}]\nbogus: 1\n", "unknown key 'bogus'"),
        ("rows: [{name: a}, {name: a}]\n", "row name 'a' is used twice"),
        ("rows: [{name: 'a b'}]\n", "row name 'a b' must be"),
        ("rows: [{name: a, sett: []}]\n", r"rows\[0\]: unknown key 'sett'"),
        ("rows: [{name: a}]\nbaseline: z\n", "baseline 'z' is not one of the rows"),
        (
            "rows: [{name: a}, {name: b, set: [train.head.bogus=1]}]\n",
            r"row 'b'.*train\.head\.bogus",
        ),
        ("rows: [{name: a}, {name: b, set: [synth.identities=50]}]\n", "row 'b' changes 'synth'"),
        ("rows: [{name: a}, {name: b, set: [protocol.seed=4]}]\n", "row 'b' changes 'protocol'"),
        ("rows: [{name: a, set: oops}]\n", "expected a list of 'key=value' strings"),
        ("base: missing.yaml\nrows: [{name: a}]\n", r"missing\.yaml.*not found"),
    ],
)
def test_bad_grids_name_the_culprit(tmp_path: Path, text: str, culprit: str) -> None:
    with pytest.raises(ConfigError, match=culprit):
        load_grid(grid_file(tmp_path, text))


def test_only_unknown_row_is_an_error(tmp_path: Path) -> None:
    from vfbench.experiments.ablation import _ordered

    g = load_grid(grid_file(tmp_path, "rows: [{name: a}, {name: b}]\nbaseline: b\n"))
    assert [r.name for r in _ordered(g, [])] == ["b", "a"]  # baseline first: it makes the trials
    assert [r.name for r in _ordered(g, ["a"])] == ["b", "a"]
    with pytest.raises(ConfigError, match="no row named 'c'"):
        _ordered(g, ["c"])


def _system(
    ids: np.ndarray, idents: np.ndarray, signal: float, seed: int
) -> tuple[Embeddings, Embeddings]:
    """Embeddings where each identity has a prototype; ``signal`` scales it against noise."""
    rng = np.random.default_rng(seed)
    names = np.unique(idents)
    protos = np.random.default_rng(0).normal(size=(names.size, 16))  # shared by every system
    proto = dict(zip(names, protos, strict=True))
    pv = np.stack([proto[i] for i in idents])
    v = signal * pv + rng.normal(size=pv.shape)
    f = signal * pv + rng.normal(size=pv.shape)
    return Embeddings(ids, idents, v, "voice"), Embeddings(ids, idents, f, "face")


def test_comparison_table_pairs_rows_on_the_same_trials(tmp_path: Path) -> None:
    idents = np.repeat([f"p{i:02d}" for i in range(30)], 4)
    ids = np.array([f"{x}/{k}" for x, k in zip(idents, np.tile(np.arange(4), 30), strict=True)])
    genders = {f"p{i:02d}": "mf"[i % 2] for i in range(30)}
    p = Protocol(tasks=["match", "verify", "retrieve"], n_boot=100)
    p.matching.n_values, p.matching.constraints, p.matching.n_trials = [2, 3], ["G"], 3000
    p.verification.n_pairs = 2000
    p.retrieval.n_identities, p.retrieval.gallery_per_identity, p.retrieval.queries_per_identity = (
        30,
        2,
        2,
    )
    p.retrieval.full = False
    systems = {"base": _system(ids, idents, 1.0, 1), "better": _system(ids, idents, 3.0, 2),
               "same": _system(ids, idents, 1.0, 1)}  # fmt: skip
    trials = make_trials(*systems["base"], genders, p)
    evals = {}
    for name, (v, f) in systems.items():
        evaluate(v, f, genders, p, trials=trials).save(tmp_path / name)
        evals[name] = tmp_path / name
    grid = Grid(tmp_path / "g.yaml", tmp_path / "demo.yaml", [],
                [GridRow("base", []), GridRow("better", ["x=1"], "stronger"), GridRow("same", [])], "base")  # fmt: skip
    table = comparison_table(grid, evals).to_dict()
    rows = table["rows"]
    by = {r["name"]: r["cells"] for r in rows}
    assert len({r["trials_sha256"] for r in rows}) == 1
    assert by["base"]["1:2 v2f"]["diff"] is None  # the baseline is not tested against itself
    better = by["better"]["1:2 v2f"]
    assert better["value"] > by["base"]["1:2 v2f"]["value"]
    assert better["diff"]["value"] == pytest.approx(
        better["value"] - by["base"]["1:2 v2f"]["value"]
    )
    assert better["diff"]["low"] > 0 and better["p_mcnemar"] < 0.001
    same = by["same"]["1:2 v2f"]
    assert same["diff"]["value"] == 0 and same["p_mcnemar"] == 1.0
    assert (
        by["better"]["AUC v2f"]["p_mcnemar"] is None
        and by["better"]["AUC v2f"]["p_bootstrap"] < 0.01
    )
    for cells in by.values():
        for c in cells.values():
            assert c["low"] <= c["value"] <= c["high"]
    md = grid_markdown(table)
    assert md.count("\n| ") >= 4 and "**base**" in md and "stronger" in md
    header = next(line for line in md.splitlines() if line.startswith("| row"))
    assert all(c.label in header for c in COLUMNS)
    assert GridTable.from_dict(table).to_dict() == table  # the saved schema round-trips


def test_changing_rows_reuses_finished_ones(tmp_path: Path) -> None:
    """Resumability is the stage runner's: a row's stages are keyed by its config only."""
    from vfbench.experiments.demo import _train_key_config

    g = load_grid(grid_file(tmp_path, "rows: [{name: a}, {name: b, set: [train.steps=5]}]\n"))
    a1 = _train_key_config(g.config(g.rows[0]))
    g2 = load_grid(grid_file(tmp_path, "rows: [{name: a}, {name: c, set: [train.steps=9]}]\n"))
    assert _train_key_config(g2.config(g2.rows[0])) == a1
    assert _train_key_config(g.config(g.rows[1])) != a1


def test_change_column_says_baseline_only_for_the_baseline_row() -> None:
    """A methods grid's rows differ by method, not by a setting: only the baseline row reads
    "baseline" in the change column."""
    from vfbench.experiments.grid import Cell, TableRow

    rows = [
        TableRow(name=n, cells={"acc": Cell(0.8, 0.7, 0.9, n=10)}, trials_sha256="0" * 64)
        for n in ("TriNet", "SVHF")
    ]
    t = GridTable(kind="methods", name="m", baseline="TriNet", trials_sha256="0" * 64,
                  columns=["acc"], rows=rows)  # fmt: skip
    md = grid_markdown(t.to_dict())
    lines = md.splitlines()
    base = next(x for x in lines if x.startswith("| **TriNet**"))
    other = next(x for x in lines if x.startswith("| SVHF"))
    assert base.endswith("| baseline |") and other.endswith("| - |")
