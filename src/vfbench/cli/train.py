"""``vfbench train CONFIG [--set k=v] [--resume|--force] [--device cpu|cuda] [--out DIR] [--ddp N]``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    from vfbench.cli import crossval

    crossval.register(app)  # ``vfbench crossval``: train + embed + evaluate per fold

    @app.command("train")
    def train_cmd(
        config: Path = typer.Argument(
            ..., help="Training config YAML (configs/trinet_cpu.yaml ...)."
        ),
        set_: list[str] = typer.Option([], "--set", help="Override a config key: --set steps=500."),
        out: Path = typer.Option(
            None, "--out", "-o", help="Output folder.", show_default="runs/<config name>"
        ),
        resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last.pt."),
        force: bool = typer.Option(
            False, "--force", help="Replace a previous run in OUT (its checkpoints and logs)."
        ),
        device: str = typer.Option(
            None, "--device", help="cpu or cuda[:N].", show_default="the config's device, cpu"
        ),
        quick: bool = typer.Option(False, "--quick", help="Tiny run (smoke test, < 20 s)."),
        ddp: int = typer.Option(0, "--ddp", help="Run N data-parallel processes (torchrun)."),
    ) -> None:
        """Train a voice-face model (TriNet by default); see docs/trinet.md."""
        import logging

        from vfbench.train.config import load_train_config

        overrides = list(set_)
        if device:
            overrides.append(f"device={device}")
        if quick:
            overrides = [*QUICK, *overrides]
        cfg = load_train_config(str(config), overrides)
        out_dir = out or Path("runs") / cfg.name
        if ddp > 1:
            import subprocess
            import sys

            cmd = [
                sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={ddp}",
                "-m", "vfbench.cli.ddp", str(config), "--out", str(out_dir),
            ]  # fmt: skip
            for o in overrides:
                cmd += ["--set", o]
            if resume:
                cmd.append("--resume")
            if force:
                cmd.append("--force")
            raise typer.Exit(subprocess.call(cmd))
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        from vfbench.methods import get_method
        from vfbench.train.loop import train

        res = train(cfg, out_dir, get_method(cfg.method), resume=resume, force=force)
        typer.echo(f"checkpoints: {res.last_checkpoint}  best: {res.best_checkpoint}")
        if res.validations:
            v = res.validations[-1]
            typer.echo(
                f"final validation 1:2 accuracy {v['acc']:.4f} "
                f"[{v['low']:.4f}, {v['high']:.4f}] (n={v['n']}); best {res.best_value:.4f}"
            )


# --quick: a tiny version of any config (smoke test)
QUICK = [
    "steps=60",
    "val.every=0",
    "val.n_trials=2000",
    "checkpoint_every=60",
    "pretrain.steps=30",
    "sampler.P=16",
    "pretrain.batch_size=32",
    "data.max_train_identities=48",
    "data.val_max_identities=20",
    "optim.milestones=[40]",
]
