"""Demo speed: a fresh run from an empty folder, then a second run with nothing changed.

    .venv/bin/python benchmarks/bench_demo.py            # the default demo (budget 5 min)
    .venv/bin/python benchmarks/bench_demo.py --quick    # demo --quick (budget 1 min)

Prints stage-by-stage wall time of the fresh run, the second (all stages reused) run's
wall time measured around the whole ``vfbench demo`` process (imports included), and the
headline figures. Targets (2 idle cores): full <= 300 s, second run <= 20 s, quick < 60 s.
The machine is often shared: compare the ratio second/first, which is robust to load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(out: Path, quick: bool, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "vfbench", "demo", "--quiet", "--out", str(out)]
    cmd += ["--quick"] if quick else []
    cmd += extra
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="benchmark demo --quick")
    ap.add_argument("--out", type=Path, default=None, help="run folder (default: a temp dir)")
    ap.add_argument("--set", action="append", default=[], help="demo override (repeatable)")
    args = ap.parse_args()
    extra = [x for kv in args.set for x in ("--set", kv)]
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        out = args.out or Path(tmp) / "run"
        first = _run(out, args.quick, extra)
        second = _run(out, args.quick, extra)
        res = json.loads((out / "results.json").read_text())
        stages = res["summary"]["demo"]["stages"]
        head = res["summary"]["demo"]["headline"]
    budget = 60.0 if args.quick else 300.0
    print(f"vfbench demo{' --quick' if args.quick else ''}: {os.cpu_count()} CPUs visible, "
          f"load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    print(f"{'stage':<12}{'seconds':>10}")
    for s in stages:
        print(f"{s['name']:<12}{s['compute_seconds']:>10.1f}")
    print(f"{'fresh run':<12}{first:>10.1f}   (budget {budget:.0f} s, whole process)")
    print(
        f"{'second run':<12}{second:>10.1f}   (budget 20 s; {second / first:.1%} of the fresh run)"
    )
    print(
        f"{'figure':<14}{'value %':>8}  {'95% CI %':>15}{'gender %':>10}{'oracle %':>10}{'of ceiling':>12}"
    )
    for h in head:
        frac = "-" if h["ceiling_fraction"] is None else f"{100 * h['ceiling_fraction']:.0f}%"
        go = "-" if h["gender_only"] is None else f"{100 * h['gender_only']:.1f}"
        orc = "-" if h["oracle"] is None else f"{100 * h['oracle']:.1f}"
        print(f"{h['label']:<14}{100 * h['value']:>8.2f}  [{100 * h['low']:6.2f}, {100 * h['high']:6.2f}]"
              f"{go:>10}{orc:>10}{frac:>12}")  # fmt: skip


if __name__ == "__main__":
    main()
