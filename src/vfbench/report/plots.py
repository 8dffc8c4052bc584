"""Plots of an evaluation (matplotlib, Agg backend; PNG and/or SVG). Every axis that
holds a rate (accuracy, AUC, mAP, TPR/FPR) is in percent, as in the tables.

* ``1ton``: 1:n matching accuracy vs n with intervals and the chance curve (paper Fig. 4a);
* ``ci_vs_ids``: repeated random test sets, mean and t-interval vs number of identities
  (paper Fig. 4b);
* ``joint``: joint matching accuracy vs m (paper Table 3 as curves), intervals as
  error bars side by side (overlapping bands would hide each other);
* ``roc``: verification ROC per direction.

Each figure is laid out and drawn once per format from one :class:`~matplotlib.figure.Figure`
(:func:`render_figure`); ``report.html`` embeds the same PNG bytes that ``plots/*.png``
gets (:func:`render_all`), so a default report renders every figure once, not three times.
matplotlib is imported inside the functions (the Agg canvas directly, never ``pyplot``: no
backend selection, no global figure registry), so importing :mod:`vfbench.report` stays cheap.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from vfbench.errors import EvaluationError
from vfbench.evaluate.results import Curve, EvaluationResult
from vfbench.utils.io import atomic_write_bytes

PLOT_KINDS = ("1ton", "ci_vs_ids", "joint", "roc")
TITLES = {
    "1ton": "1:n matching (paper Fig. 4a)",
    "ci_vs_ids": "Repeated test sets (paper Fig. 4b)",
    "joint": "Joint 1:2 matching on mean embeddings (paper Table 3)",
    "roc": "Verification ROC",
}
DIRECTIONS = {"v2f": "voice→face", "f2v": "face→voice"}
_DIR_ASCII = {"v2f": "voice->face", "f2v": "face->voice"}


def caption(name: str, curves: list[Curve]) -> str:
    """A reader's caption for one plot group (no internal names)."""
    kind = curves[0].kind
    order = {"v2f": 0, "f2v": 1}
    dirs = sorted(
        {str(c.params.get("direction", "")) for c in curves} - {""},
        key=lambda d: (order.get(d, 2), d),
    )
    where = ", ".join(DIRECTIONS.get(d, d) for d in dirs)
    if kind == "1ton":
        return f"1:n matching accuracy vs number of candidates n, {where}; bands: 95% interval; dotted: chance 1/n (paper Fig. 4a)."
    if kind == "roc":
        return f"Verification ROC, {where}; AUC in the legend; dotted: chance."
    if kind == "joint":
        return (
            f"Joint 1:2 matching, {where}: accuracy vs the number m of voices and/or faces "
            "averaged per identity; bars: 95% interval (paper Table 3)."
        )
    if kind == "ci_vs_ids":
        task = str(curves[0].params.get("task", "")) or name
        return (
            f"Repeated random test sets, {task}: mean over sets vs test identities per set; "
            "band: t-interval of the mean; dashed: one set's spread (mean ± 1.96 sd) (paper Fig. 4b)."
        )
    return TITLES.get(kind, name)


def _pct(v: Any) -> list[float]:
    return [100.0 * float(x) for x in v]


def _figure(kind: str, curves: list[Curve]) -> Any:
    """The laid-out :class:`~matplotlib.figure.Figure` of ``curves`` (on an Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    n_series = len(curves)
    for k, c in enumerate(curves):
        d = str(c.params.get("direction", ""))
        label = c.name
        if kind == "roc":
            label = f"{_DIR_ASCII.get(d, d)}  AUC {100 * c.params.get('auc', float('nan')):.1f}%"
        elif kind == "1ton":
            label = _DIR_ASCII.get(d, d) or c.name
        elif kind == "joint":
            label = str(c.params.get("series", c.name))
        elif kind == "ci_vs_ids":
            label = _DIR_ASCII.get(d, d) or c.name
        x = list(c.x) if kind != "roc" else _pct(c.x)
        y = _pct(c.y)
        if kind == "joint":
            # dodge the series so their error bars do not overlap
            off = (k - (n_series - 1) / 2) * 0.06
            xs = [v + off for v in x]
            if c.low is not None and c.high is not None:
                lo, hi = _pct(c.low), _pct(c.high)
                err = [
                    [yy - a for yy, a in zip(y, lo, strict=True)],
                    [b - yy for yy, b in zip(y, hi, strict=True)],
                ]
                ax.errorbar(xs, y, yerr=err, marker="o", ms=3, capsize=3, lw=1.2, label=label)
            else:
                ax.plot(xs, y, marker="o", ms=3, label=label)
            continue
        (line,) = ax.plot(x, y, marker="o" if kind != "roc" else None, ms=3, label=label)
        if c.low is not None and c.high is not None:
            ax.fill_between(x, _pct(c.low), _pct(c.high), alpha=0.18, color=line.get_color())
        if kind == "ci_vs_ids" and c.params.get("std"):
            sd = c.params["std"]
            for sign in (-1, 1):
                ax.plot(
                    x,
                    [yy + sign * 196.0 * s for yy, s in zip(y, sd, strict=True)],
                    ls="--",
                    lw=0.8,
                    color=line.get_color(),
                )
        if kind == "1ton" and "chance" in c.params:
            ax.plot(x, _pct(c.params["chance"]), ls=":", color="grey")
    if kind == "roc":
        ax.plot([0, 100], [0, 100], ls=":", color="grey", label="chance")
    if kind == "1ton":
        ax.plot([], [], ls=":", color="grey", label="chance 1/n")
        ax.set_xticks(sorted({int(v) for c in curves for v in c.x}))
    if kind == "joint":
        ax.set_xticks(sorted({int(v) for c in curves for v in c.x}))
    if kind == "ci_vs_ids":
        ax.set_xscale("log")
        ticks = sorted({x for c in curves for x in c.x})
        ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
        ax.minorticks_off()
        ax.plot([], [], ls="--", color="grey", label="one test set: mean ± 1.96 sd")
    ax.set_xlabel(curves[0].x_label + (" (%)" if kind == "roc" else ""))
    ax.set_ylabel(curves[0].y_label + " (%)")
    title = TITLES.get(kind, kind)
    if kind == "ci_vs_ids" and curves[0].params.get("task"):
        title = f"{title}: {curves[0].params['task']}"
    if kind == "joint" and curves[0].params.get("direction"):
        d = str(curves[0].params["direction"])
        title = f"Joint 1:2 matching, {_DIR_ASCII.get(d, d)}"
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


PLOT_FORMATS = ("png", "svg")


def render_figure(kind: str, curves: list[Curve], formats: tuple[str, ...]) -> dict[str, bytes]:
    """One figure of all ``curves`` of ``kind``, built and laid out once, saved in each of
    ``formats`` (``png``, ``svg``); returns ``{format: bytes}``."""
    bad = [f for f in formats if f not in PLOT_FORMATS]
    if bad:
        raise EvaluationError(f"unknown plot format {bad[0]!r}; known: {list(PLOT_FORMATS)}")
    fig = _figure(kind, curves)
    out = {}
    for fmt in dict.fromkeys(formats):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
        out[fmt] = buf.getvalue()
    return out


def render_plot(kind: str, curves: list[Curve], fmt: str = "png") -> bytes:
    """One figure of all ``curves`` of ``kind`` as PNG or SVG bytes."""
    return render_figure(kind, curves, (fmt,))[fmt]


def render_all(res: EvaluationResult, formats: tuple[str, ...]) -> dict[str, dict[str, bytes]]:
    """Every plot group of ``res`` (:func:`plot_groups`) in each of ``formats``:
    ``{group name: {format: bytes}}``; each figure is built once."""
    return {
        name: render_figure(curves[0].kind, curves, formats)
        for name, curves in plot_groups(res).items()
    }


def plot_groups(res: EvaluationResult) -> dict[str, list[Curve]]:
    """Curves grouped by plot kind (ci_vs_ids and joint are split further per task/direction)."""
    out: dict[str, list[Curve]] = {}
    for c in res.curves:
        if c.kind == "ci_vs_ids":
            name = f"ci_vs_ids_{c.params.get('task', '')}"
        elif c.kind == "joint":
            name = f"joint_{c.params.get('direction', '')}"
        else:
            name = c.kind
        out.setdefault(name, []).append(c)
    return out


def write_plots(
    res: EvaluationResult,
    directory: str | Path,
    formats: tuple[str, ...] = PLOT_FORMATS,
    rendered: dict[str, dict[str, bytes]] | None = None,
) -> list[Path]:
    """Write every plot of ``res`` into ``directory``; returns the paths written.
    ``rendered``: the figures already drawn by :func:`render_all` in (at least) ``formats``."""
    figs = rendered if rendered is not None else render_all(res, formats)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, by_fmt in figs.items():
        for fmt in formats:
            p = d / f"{name}.{fmt}"
            atomic_write_bytes(p, by_fmt[fmt])
            paths.append(p)
    return paths
