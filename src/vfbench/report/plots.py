"""Plots of an evaluation (matplotlib, Agg backend; PNG and/or SVG).

* ``1ton``: 1:n matching accuracy vs n with intervals and the chance curve (paper Fig. 4a);
* ``ci_vs_ids``: repeated random test sets, mean and t-interval vs number of identities
  (paper Fig. 4b);
* ``joint``: joint matching accuracy vs m (paper Table 3 as curves);
* ``roc``: verification ROC per direction.

matplotlib is imported inside the functions so importing :mod:`vfbench.report` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfbench.evaluate.results import Curve, EvaluationResult
from vfbench.utils.io import atomic_write_bytes

PLOT_KINDS = ("1ton", "ci_vs_ids", "joint", "roc")
TITLES = {
    "1ton": "1:n matching (paper Fig. 4a)",
    "ci_vs_ids": "Repeated test sets (Fig. 4b): mean, t-interval (band), one set +-1.96 sd",
    "joint": "Joint 1:2 matching on mean embeddings (paper Table 3)",
    "roc": "Verification ROC",
}


def _figure(kind: str, curves: list[Curve]) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for c in curves:
        label = c.name
        if kind == "roc":
            label = f"{c.params.get('direction', '')} AUC={100 * c.params.get('auc', float('nan')):.2f}%"
        (line,) = ax.plot(c.x, c.y, marker="o" if kind != "roc" else None, ms=3, label=label)
        if c.low is not None and c.high is not None:
            ax.fill_between(c.x, c.low, c.high, alpha=0.2, color=line.get_color())
        if kind == "ci_vs_ids" and c.params.get("std"):
            sd = c.params["std"]
            for sign in (-1, 1):
                ax.plot(
                    c.x,
                    [y + sign * 1.96 * s for y, s in zip(c.y, sd, strict=True)],
                    ls="--",
                    lw=0.8,
                    color=line.get_color(),
                )
        if kind == "1ton" and "chance" in c.params:
            ax.plot(c.x, c.params["chance"], ls=":", color="grey")
    if kind == "roc":
        ax.plot([0, 1], [0, 1], ls=":", color="grey", label="chance")
    if kind == "1ton":
        ax.plot([], [], ls=":", color="grey", label="chance 1/n")
    if kind == "ci_vs_ids":
        ax.set_xscale("log")
        ticks = sorted({x for c in curves for x in c.x})
        ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
        ax.minorticks_off()
        ax.plot([], [], ls="--", color="grey", label="one test set: mean +- 1.96 sd")
    ax.set_xlabel(curves[0].x_label)
    ax.set_ylabel(curves[0].y_label)
    ax.set_title(TITLES.get(kind, kind), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def render_plot(kind: str, curves: list[Curve], fmt: str = "png") -> bytes:
    """One figure of all ``curves`` of ``kind`` as PNG or SVG bytes."""
    import io

    import matplotlib.pyplot as plt

    fig = _figure(kind, curves)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()


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
    res: EvaluationResult, directory: str | Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Write every plot of ``res`` into ``directory``; returns the paths written."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, curves in plot_groups(res).items():
        kind = curves[0].kind
        for fmt in formats:
            p = d / f"{name}.{fmt}"
            atomic_write_bytes(p, render_plot(kind, curves, fmt))
            paths.append(p)
    return paths
