"""What the report formats add to ``vfbench evaluate`` on the demo split (issue 20.3, case 3).

    .venv/bin/python benchmarks/bench_report.py [--quick] [--keep DIR]

1. End to end, as a user waits: one ``python -m vfbench evaluate`` process on the demo's
   full protocol (``configs/demo.yaml``) over a demo-sized test split (80 identities x 8
   voices x 8 faces, 128-d; the inputs of ``bench_evaluate_e2e.py`` case 3), with
   ``--formats json`` and with the default formats (json, md, csv, html, png, svg).
   Target <= 5 s for the default formats.
2. The report alone, in one fresh process on that run's ``results.json``: the matplotlib
   import, then each figure's layout and its PNG and SVG saves, then ``write_report`` with
   the default formats against the old way of the same work (every figure laid out and
   drawn three times: for the PNG embedded in report.html, for plots/*.png, for
   plots/*.svg), wall and CPU seconds.

The machine's load average is printed beside the figures: read the CPU column when the
machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_evaluate_e2e import ROOT, _env, make_demo_split, run_cli

FORMATS_ALL = "json,md,csv,html,png,svg"

BREAKDOWN = """
import io, shutil, sys, time
run, out = sys.argv[1], sys.argv[2]
rows = []
def timed(name, fn):
    w, c = time.perf_counter(), time.process_time()
    r = fn()
    rows.append((name, time.perf_counter() - w, time.process_time() - c))
    return r
from vfbench.evaluate.results import EvaluationResult
from vfbench.report import write_report
from vfbench.report.html import write_html
from vfbench.report.plots import _figure, plot_groups, write_plots
res = EvaluationResult.load(run)
def imp():
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401
timed("import matplotlib (Figure, Agg canvas; font list from its cache)", imp)
groups = plot_groups(res)
lay = png = svg = 0.0
for name, curves in groups.items():
    t = time.process_time()
    fig = _figure(curves[0].kind, curves)
    lay += time.process_time() - t
    for fmt in ("png", "svg"):
        t = time.process_time()
        fig.savefig(io.BytesIO(), format=fmt)
        dt = time.process_time() - t
        png, svg = (png + dt, svg) if fmt == "png" else (png, svg + dt)
n = len(groups)
rows.append((f"{n} figures: build + tight layout (CPU only)", float("nan"), lay))
rows.append((f"{n} figures: draw + encode PNG (CPU only)", float("nan"), png))
rows.append((f"{n} figures: draw + encode SVG (CPU only)", float("nan"), svg))
fm = ("md", "csv", "html", "png", "svg")
def old():
    write_html(res, out + "/old/report.html")  # renders its own PNGs
    write_plots(res, out + "/old/plots", ("png",))
    write_plots(res, out + "/old/plots", ("svg",))
for k in range(2):
    shutil.rmtree(out, ignore_errors=True)
    timed(f"old way: {3 * n} figure builds (html png, plots png, plots svg), try {k + 1}", old)
    timed(f"write_report md,csv,html,png,svg: {n} builds, try {k + 1}", lambda: write_report(res, out, fm))
w = max(len(r[0]) for r in rows)
print(f"{'step':<{w}}  {'wall':>7}  {'CPU':>7}")
for name, wall, cpu in rows:
    ws = "" if wall != wall else f"{wall:6.2f}s"
    print(f"{name:<{w}}  {ws:>7}  {cpu:6.2f}s")
"""


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller split (smoke test)")
    ap.add_argument("--keep", type=Path, help="generate the inputs here and keep them")
    ap.add_argument("--repeat", type=int, default=2, help="end-to-end runs per format set")
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="vfbench-report-")
    work = a.keep or Path(tmp.name)
    cache = work / "cache"
    n_ids = 24 if a.quick else 80
    dm = make_demo_split(work / "demo", n_ids, 8)
    print(f"load average before: {os.getloadavg()[0]:.2f} (2-core machine expected)")
    rows = []
    for fm in ("json", FORMATS_ALL):
        best = (float("inf"), 0.0, 0.0)
        for _ in range(max(1, a.repeat)):
            before = _children_cpu()
            w, rss = run_cli(
                ["evaluate", *dm, "--formats", fm, "-o", str(work / "demo" / "run")], cache
            )
            best = min(best, (w, _children_cpu() - before, rss))
        rows.append((f"demo full protocol, {n_ids} ids x 8 x 8, --formats {fm}", *best))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    width = max(len(r[0]) for r in rows)
    head = f"end to end (best of {a.repeat})"
    print(f"{head:<{width}}  {'wall':>8}  {'CPU':>8}  {'peak RSS':>9}")
    for name, w, cpu, rss in rows:
        print(f"{name:<{width}}  {w:7.2f}s  {cpu:7.2f}s  {rss:6.0f} MiB")
    print(
        f"the default formats add {rows[1][1] - rows[0][1]:.2f} s wall, "
        f"{rows[1][2] - rows[0][2]:.2f} s CPU (target: all <= 5 s wall)"
    )
    print(f"\nthe report alone, one fresh process (load average {os.getloadavg()[0]:.2f}):")
    subprocess.run(
        [sys.executable, "-c", BREAKDOWN, str(work / "demo" / "run"), str(work / "report")],
        env=_env(cache),
        check=True,
        cwd=ROOT,
    )


if __name__ == "__main__":
    main()
