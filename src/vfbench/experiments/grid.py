"""The one schema of a grid experiment's result: :class:`GridTable` of :class:`TableRow`
of :class:`Cell` (issue 19.1).

An ablation grid (``vfbench ablate``: rows = demo configs) and a method benchmark
(``vfbench methods benchmark``: rows = methods) both produce one: every row scored on the
same trials, each cell a metric with its interval, the chance / gender-only / oracle
anchors on those trials, and the paired test against the baseline row. One renderer
(:mod:`vfbench.report.experiments`) draws both; ``ablation.json`` and ``benchmark.json``
are :meth:`GridTable.to_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vfbench.evaluate.results import EvaluationResult, Metric
from vfbench.report.compare import ComparisonRow

SCHEMA = "vfbench.grid/1"


def ceiling_fraction(value: float, chance: float | None, oracle: float | None) -> float | None:
    """(value - chance) / (oracle - chance): the share of the learnable headroom reached."""
    if chance is None or oracle is None or oracle - chance <= 1e-12:
        return None
    return (value - chance) / (oracle - chance)


@dataclass
class Cell:
    """One metric of one row: value in [0, 1] with its 95% interval (``interval`` names the
    method: bootstrap-identity, wilson, ...), the anchors on the same trials (``chance``,
    ``gender_baseline``: the gender-only rule, ``oracle``: the synthetic ceiling) and, for
    rows other than the baseline, the paired difference to it (``diff``: value, low, high)
    with the identity-bootstrap p and, for matching, McNemar's exact p."""

    value: float
    low: float | None = None
    high: float | None = None
    interval: str = ""
    n: int | None = None
    chance: float | None = None
    gender_baseline: float | None = None
    oracle: float | None = None
    ceiling_fraction: float | None = None
    diff: dict[str, Any] | None = None
    p_bootstrap: float | None = None
    p_mcnemar: float | None = None

    @classmethod
    def of(cls, m: Metric, oracle: Metric | None = None, test: ComparisonRow | None = None) -> Cell:
        iv = m.interval()
        o = oracle.value if oracle is not None else None
        return cls(
            value=m.value,
            low=iv.low if iv else None,
            high=iv.high if iv else None,
            interval=iv.method if iv else "",
            n=m.n,
            chance=m.chance,
            gender_baseline=m.gender_baseline,
            oracle=o,
            ceiling_fraction=ceiling_fraction(m.value, m.chance, o),
            diff=None if test is None else test.diff.to_dict(),
            p_bootstrap=None if test is None else test.p_bootstrap,
            p_mcnemar=None if test is None else test.p_mcnemar,
        )


@dataclass
class Column:
    """A table column: its label and how to find its metric in a result
    (:meth:`EvaluationResult.find` keywords)."""

    label: str
    where: dict[str, Any]

    def metric(self, res: EvaluationResult | None) -> Metric | None:
        if res is None:
            return None
        rows = res.find(**self.where)
        return rows[0] if rows else None


@dataclass
class TableRow:
    """One row: ``settings`` (its overrides or config), where its result lies, the trials
    it was scored on, its cells by column label; ``method``..``eval_s`` describe how it was
    trained when known; ``curve`` maps a direction to the 1:n cells (n = 2..)."""

    name: str
    cells: dict[str, Cell]
    trials_sha256: str
    result: str = ""
    note: str = ""
    settings: list[str] = field(default_factory=list)
    method: str = ""
    loss: str = ""
    scorer: str = ""
    steps: int = 0
    train_s: float = 0.0
    eval_s: float = 0.0
    curve: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class GridTable:
    """A grid's comparison: ``kind`` "ablation" or "methods"; rows in order, the baseline
    among them; every row on the trials ``trials_sha256``."""

    kind: str
    name: str
    baseline: str
    trials_sha256: str
    columns: list[str]
    rows: list[TableRow]
    split: str = "test"
    description: str = ""
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # provenance, protocol, timing ...

    def row(self, name: str) -> TableRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        return {"schema": SCHEMA, **d, **extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GridTable:
        known = {f.name for f in fields(cls)}
        rows = [
            TableRow(
                **{
                    **r,
                    "cells": {k: Cell(**c) for k, c in r["cells"].items()},
                }
            )
            for r in d["rows"]
        ]
        base = {k: v for k, v in d.items() if k in known and k not in ("rows", "extra")}
        extra = {k: v for k, v in d.items() if k not in known and k != "schema"}
        return cls(**base, rows=rows, extra=extra)


def cells_of(
    res: EvaluationResult,
    columns: list[Column],
    tests: dict[str, ComparisonRow] | None = None,
    oracle: EvaluationResult | None = None,
) -> dict[str, Cell]:
    """Every column's cell of ``res`` (columns the result has no metric for are left out),
    with the paired test of its metric key from ``tests`` and the oracle on the same trials."""
    out: dict[str, Cell] = {}
    for col in columns:
        m = col.metric(res)
        if m is None:
            continue
        t = (tests or {}).get(m.key) if m.key else None
        out[col.label] = Cell.of(m, col.metric(oracle), t)
    return out
