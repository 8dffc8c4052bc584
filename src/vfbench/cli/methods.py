"""``vfbench methods list``, ``vfbench methods benchmark [--grid GRID.yaml] --out DIR`` and
``vfbench methods evaluate CHECKPOINT --manifest M --cache C --out DIR``.

Thin: the work is :func:`vfbench.experiments.benchmark.run_benchmark`.
"""

from __future__ import annotations

from pathlib import Path

import typer

methods_app = typer.Typer(
    name="methods",
    help="The compared systems (SVHF, DIMNet, PINs, Kim, Horiguchi) next to TriNet.",
    no_args_is_help=True,
)

# --quick: a small version of the benchmark (smoke test, ~1-2 min on 2 cores)
QUICK = [
    "steps=200",
    "set=[pretrain.steps=60, val.n_trials=2000]",
    "protocol.matching.n_trials=2000",
    "protocol.verification.n_pairs=2000",
    "protocol.n_boot=200",
    "n_boot=200",
]


@methods_app.command("list")
def list_cmd() -> None:
    """Registered methods with their objective and packaged configs."""
    from vfbench.experiments.benchmark import CONFIG_DIR
    from vfbench.methods import get_method, method_names

    for name in method_names():
        m = get_method(name)
        cfgs = sorted(p.name for p in (CONFIG_DIR / "methods").glob(f"{name}_*.yaml"))
        loss = getattr(m, "loss_name", "") or "trinet_triplet"
        typer.echo(f"{name:10s} loss={loss:22s} {m.description}")
        if cfgs:
            typer.echo(f"{'':10s} configs: " + ", ".join(f"methods/{c}" for c in cfgs))


@methods_app.command("benchmark")
def benchmark_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (resumable)."),
    grid: Path = typer.Option(
        None,
        "--grid",
        help="Grid YAML (rows = method configs).",
        show_default="every CPU method config",
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a grid key, e.g. --set steps=500 (repeatable)."
    ),
    manifest: Path = typer.Option(
        None, "--manifest", help="Manifest folder.", show_default="the synthetic corpus"
    ),
    cache: Path = typer.Option(None, "--cache", help="Preprocessing cache of the manifest."),
    quick: bool = typer.Option(False, "--quick", help="Short training + small protocol."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Train every method on the same data, evaluate on the same trials, compare with TriNet."""
    import logging
    import sys

    from vfbench.experiments.benchmark import load_grid, run_benchmark

    overrides = [*(QUICK if quick else []), *set_]
    if manifest is not None:
        overrides.append(f"manifest={manifest}")
    if cache is not None:
        overrides.append(f"cache={cache}")
    g = load_grid(str(grid) if grid else None, overrides)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = run_benchmark(
        g,
        out,
        grid_dir=grid.parent if grid else None,
        progress=not quiet,
        command=" ".join(["vfbench", *sys.argv[1:]]),
        say=typer.echo,
    )
    typer.echo("")
    typer.echo((out / "benchmark.md").read_text(encoding="utf-8"))
    typer.echo(
        f"written: {out / 'benchmark.md'}, {out / 'benchmark.json'} ({len(table.rows)} rows)"
    )


@methods_app.command("evaluate")
def evaluate_cmd(
    checkpoint: Path = typer.Argument(..., help="Training checkpoint (best.pt / last.pt)."),
    manifest: Path = typer.Option(..., "--manifest", help="Manifest folder."),
    cache: Path = typer.Option(..., "--cache", help="Preprocessing cache of the manifest."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write results into."),
    split: str = typer.Option("test", "--split", help="Split to evaluate."),
    trials: Path | None = typer.Option(None, "--trials", help="Score on this trial file."),
    overrides: list[str] = typer.Option([], "--set", help="Protocol override key=value."),
    quick: bool = typer.Option(False, "--quick", help="Small protocol (smoke tests)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda[:N]."),
) -> None:
    """Evaluate a checkpoint with its method's own scorer (needed for SVHF / Horiguchi)."""
    import sys

    from vfbench.config import apply_overrides, from_dict, to_dict
    from vfbench.data.manifest import load_manifest
    from vfbench.evaluate.protocol import Protocol
    from vfbench.evaluate.trials import TrialSet
    from vfbench.experiments.benchmark import evaluate_checkpoint
    from vfbench.report import write_report
    from vfbench.train.data import load_split

    base = to_dict(Protocol.quick() if quick else Protocol())
    proto = from_dict(Protocol, apply_overrides(base, overrides), "protocol")
    data = load_split(str(manifest), str(cache), split, augment=False)
    res, ts = evaluate_checkpoint(
        checkpoint,
        data,
        load_manifest(manifest),
        proto,
        TrialSet.load(trials) if trials is not None else None,
        device,
        command=" ".join(["vfbench", *sys.argv[1:]]),
    )
    out.mkdir(parents=True, exist_ok=True)
    ts.save(out / "trials.npz")
    paths = write_report(res, out)
    m = res.find(task="match", direction="v2f", n=2, constraint="U", group="all")
    if m:
        typer.echo(f"1:2 v2f accuracy {m[0].value:.4f} (scorer {res.summary.get('scorer')})")
    typer.echo(f"wrote {len(paths)} files to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(methods_app, name="methods")
