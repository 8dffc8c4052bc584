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
    if res.manifest_dir is not None:
        _write_ceiling(out)


def _write_ceiling(out: Path) -> None:
    """OUT/oracle.json: the ceiling of the test split through evaluate (skipped with a
    note when the split is too small)."""
    from vfbench.errors import VfbenchError
    from vfbench.experiments.oracle import synthetic_ceiling
    from vfbench.utils.io import atomic_write_json

    try:
        rep = synthetic_ceiling(out, "test", command=" ".join(["vfbench", *sys.argv[1:]]))
    except VfbenchError as exc:
        typer.echo(f"ceiling not computed: {exc}")
        return
    atomic_write_json(out / "oracle.json", rep.to_dict())
    by = {r["label"]: r for r in rep.rows()}
    u, g = by.get("1:2 v2f U"), by.get("1:2 v2f G")
    if u and g:
        typer.echo(
            f"ceiling (1:2 v->f, test): oracle U {100 * u['value']:.1f}% / G "
            f"{100 * g['value']:.1f}%; gender-only U {100 * u['gender_baseline']:.1f}% / G "
            f"{100 * g['gender_baseline']:.1f}% ({out / 'oracle.json'})"
        )


@synth_app.command("oracle")
def oracle(
    corpus: Path = typer.Argument(..., help="Corpus folder (with traits.csv and manifest/)."),
    split: str = typer.Option("test", "--split", help="Identities to use; 'all' for every split."),
    trials: int = typer.Option(10000, "--trials", help="1:2 trials per group (make_trials)."),
    seed: int = typer.Option(0, "--seed", help="Trial sampling and bootstrap seed."),
    population: int = typer.Option(
        0, "--population", help="Also the model's own ceiling on N fresh identities (0 = skip)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Best achievable and gender-only 1:2 accuracy (and AUC) from the saved traits, scored
    by the evaluation framework on its own trials (same statistics as any model)."""
    from vfbench.experiments.oracle import ceiling_protocol, synthetic_ceiling

    rep = synthetic_ceiling(
        corpus,
        split=None if split == "all" else split,
        protocol=ceiling_protocol(trials, seed),
        population=population,
        command=" ".join(["vfbench", *sys.argv[1:]]),
    )
    typer.echo(json.dumps(rep.to_dict(), indent=2) if as_json else rep.table())


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")
