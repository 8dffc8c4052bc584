"""``vfbench crossval CONFIG MANIFEST --cache CACHE --out DIR [--folds K] [--set k=v]``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("crossval")
    def crossval_cmd(
        config: Path = typer.Argument(
            ..., help="Training config (configs/trinet_pretrained.yaml)."
        ),
        manifest: Path = typer.Argument(..., help="Manifest folder (all identities are used)."),
        cache: Path = typer.Option(..., "--cache", help="Preprocessing cache folder."),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Output folder (folds/, pooled/, crossval.json)."
        ),
        folds: int = typer.Option(5, "--folds", help="Number of identity-disjoint folds K."),
        seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment."),
        val_fraction: float = typer.Option(
            0.1,
            "--val-fraction",
            help="Val share of each training set (0: validate on the training people).",
        ),
        set_: list[str] = typer.Option([], "--set", help="Override a training config key."),
        checkpoint: str = typer.Option("best", "--checkpoint", help="best or last."),
        quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress output."),
    ) -> None:
        """K-fold cross-validation: train on K-1 folds, score the held-out fold, pool the
        trials of all folds into one result with one identity-level interval."""
        import logging

        from vfbench.experiments.crossval import run_crossval
        from vfbench.utils.progress import make_console

        if not quiet:
            logging.basicConfig(level=logging.INFO, format="%(message)s")
        res = run_crossval(
            config, manifest, cache, out, folds, seed, val_fraction, list(set_),
            checkpoint=checkpoint, progress=not quiet, log=None if quiet else typer.echo,
        )  # fmt: skip
        from rich.table import Table

        con = make_console()
        t = Table(title=f"{folds}-fold cross-validation: 1:2 voice->face matching")
        for col in ("fold", "test identities", "accuracy", "run"):
            t.add_column(col)
        for f in res.folds:
            acc = "-" if f.acc_v2f_1to2 is None else f"{f.acc_v2f_1to2:.4f}"
            t.add_row(str(f.fold), str(f.identities), acc, f.status)
        con.print(t)
        rows = res.result.find(task="match", direction="v2f", n=2, constraint="U", group="all")
        if rows:
            m = rows[0]
            iv = m.interval()
            ci = "" if iv is None else f" [{iv.low:.4f}, {iv.high:.4f}] ({iv.method})"
            con.print(
                f"pooled 1:2 v2f accuracy {m.value:.4f}{ci} on {m.n} trials of "
                f"{m.n_identities} identities; results: {res.out_dir / 'pooled'}"
            )
        for w in res.warnings:
            con.print(f"warning: {w}")
