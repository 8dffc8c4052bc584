"""``vfbench synth``: generate the synthetic voice-face corpus; ``synth oracle``: its ceiling.

Thin: parses arguments into a validated :class:`SynthConfig` (defaults < ``--config``
YAML < flags < ``--set key=value``) and calls :mod:`vfbench.data.synthetic`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from vfbench.errors import ConfigError

synth_app = typer.Typer(
    name="synth",
    help="Synthetic voice-face corpus with a known ceiling: generate (default) or oracle.",
    invoke_without_command=True,
)


@synth_app.callback()
def generate(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", "-o", help="Corpus folder to write."),
    identities: int | None = typer.Option(None, "--identities", help="Number of people (400)."),
    faces_per_id: int | None = typer.Option(None, "--faces-per-id", help="Images each (8)."),
    voices_per_id: int | None = typer.Option(None, "--voices-per-id", help="Utterances each (8)."),
    seed: int | None = typer.Option(None, "--seed", help="Master seed (0)."),
    shared_strength: float | None = typer.Option(
        None,
        "--shared-strength",
        help="How strongly shared traits drive each modality, (0, 1] (0.7).",
    ),
    face_nuisance: float | None = typer.Option(
        None, "--face-nuisance", help="Scale of pose/lighting/occlusion/JPEG nuisance (1.0)."
    ),
    voice_nuisance: float | None = typer.Option(
        None, "--voice-nuisance", help="Scale of noise/SNR/channel/silence nuisance (1.0)."
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML file of SynthConfig keys."),
    overrides: list[str] = typer.Option(
        [], "--set", help="key=value override of any SynthConfig key (repeatable)."
    ),
    workers: int = typer.Option(
        1, "--workers", "-j", help="Processes (output does not depend on it)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing corpus of another config in --out."
    ),
    no_manifest: bool = typer.Option(
        False, "--no-manifest", help="Do not run the folder recipe / save out/manifest."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Generate the corpus: ``vfbench synth --out DIR [--identities N ...]``."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise ConfigError(
            "vfbench synth: --out DIR is required (or use 'vfbench synth oracle DIR')"
        )
    from vfbench.data.synthetic import generate_corpus, load_synth_config

    flags = {
        "identities": identities,
        "faces_per_id": faces_per_id,
        "voices_per_id": voices_per_id,
        "seed": seed,
        "shared_strength": shared_strength,
        "face_nuisance": face_nuisance,
        "voice_nuisance": voice_nuisance,
    }
    sets = [f"{k}={v}" for k, v in flags.items() if v is not None] + list(overrides)
    cfg = load_synth_config(config, sets)
    res = generate_corpus(
        out,
        cfg,
        workers=workers,
        progress=not quiet,
        overwrite=overwrite,
        prepare=not no_manifest,
        command=" ".join(["vfbench", *sys.argv[1:]]),
    )
    typer.echo(res.summary())


@synth_app.command("oracle")
def oracle(
    corpus: Path = typer.Argument(..., help="Corpus folder (or its traits.csv)."),
    split: str = typer.Option("test", "--split", help="Identities to use; 'all' for every split."),
    trials: int | None = typer.Option(
        None, "--trials", help="Sampled trials per protocol.", show_default="every ordered pair"
    ),
    seed: int = typer.Option(0, "--seed", help="Trial sampling seed."),
    population: int = typer.Option(
        20000, "--population", help="Fresh identities for the model's own ceiling (0 = skip)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Best achievable and gender-only 1:2 voice->face accuracy from the saved traits."""
    from vfbench.data.synthetic import oracle_report

    rep = oracle_report(
        corpus,
        split=None if split == "all" else split,
        n_trials=trials,
        seed=seed,
        population=population,
    )
    typer.echo(json.dumps(rep.to_dict(), indent=2) if as_json else rep.table())


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")
