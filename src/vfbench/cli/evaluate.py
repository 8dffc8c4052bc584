"""``vfbench evaluate``: every task, both directions, with test confidence -> a run folder.

Thin: loads embeddings / manifest / protocol, calls :func:`vfbench.evaluate.api.evaluate`,
writes the report with :func:`vfbench.report.write_report` and prints the terminal table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def evaluate_cmd(
    voices: Path = typer.Option(..., "--voices", help="Voice embeddings (.npz, vfbench format)."),
    faces: Path = typer.Option(..., "--faces", help="Face embeddings (.npz, vfbench format)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write results into."),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="Manifest folder (gender / nationality / language, splits)."
    ),
    protocol: Path | None = typer.Option(None, "--protocol", help="Protocol YAML file."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Protocol override key=value, e.g. matching.n_trials=5000 (repeatable)."
    ),
    trials: Path | None = typer.Option(
        None, "--trials", help="Score on this trial file (from another run) instead of generating."
    ),
    by: list[str] = typer.Option(
        [],
        "--by",
        help="Break matching down by an identity column: gender, nationality, language or "
        "any manifest column such as source (repeatable; rows also in the terminal table).",
    ),
    quick: bool = typer.Option(False, "--quick", help="Small protocol (seconds) for smoke tests."),
    formats: str = typer.Option(
        "json,md,csv,html,png,svg",
        "--formats",
        help="Comma-separated: json,md,csv,tex,html,png,svg.",
    ),
    all_metrics: bool = typer.Option(False, "--all", help="Print every metric in the terminal."),
) -> None:
    """Evaluate embeddings on all tasks (1:n, U/G/N/GN, verification, retrieval, joint, repeated)."""
    from rich.console import Console

    from vfbench.config import apply_overrides, from_dict, read_yaml, to_dict
    from vfbench.data.manifest import load_manifest
    from vfbench.evaluate.api import apply_split, evaluate, make_trials
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.protocol import Protocol
    from vfbench.evaluate.trials import TrialSet
    from vfbench.report import write_report
    from vfbench.report.render import print_table

    con = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    base = to_dict(Protocol.quick() if quick else Protocol())
    data = read_yaml(protocol) if protocol is not None else {}
    merged = _deep_merge(base, data)
    extra = list(overrides)
    if by:
        extra.append("by=[" + ",".join(by) + "]")
    proto = from_dict(Protocol, apply_overrides(merged, extra), str(protocol or "protocol"))
    v = Embeddings.load(voices)
    f = Embeddings.load(faces)
    man = load_manifest(manifest) if manifest is not None else None
    v, f = apply_split(v, f, man, proto.split)
    ts = TrialSet.load(trials) if trials is not None else make_trials(v, f, man, proto)
    res = evaluate(
        v,
        f,
        man,
        proto,
        trials=ts,
        log=lambda msg: con.print(f"[dim]{msg}[/dim]"),
        command="vfbench " + " ".join(sys.argv[1:]),
    )
    ts.save(out / "trials.npz")
    fm = tuple(x.strip() for x in formats.split(",") if x.strip())
    paths = write_report(res, out, fm)
    print_table(res, con, all_metrics, groups=bool(by))
    con.print(f"wrote {len(paths)} files to {out} (report: {out / 'report.html'})")


def trials_make(
    voices: Path = typer.Option(..., "--voices", help="Voice embeddings (ids + identities)."),
    faces: Path = typer.Option(..., "--faces", help="Face embeddings (ids + identities)."),
    out: Path = typer.Option(..., "--out", "-o", help="Trial file (.npz) to write."),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="Manifest (gender, nationality)."
    ),
    protocol: Path | None = typer.Option(None, "--protocol", help="Protocol YAML file."),
    overrides: list[str] = typer.Option([], "--set", help="Protocol override key=value."),
) -> None:
    """Generate the protocol's trials once, so several systems are scored on the same ones."""
    from vfbench.config import load_config
    from vfbench.data.manifest import load_manifest
    from vfbench.evaluate.api import make_trials
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.protocol import Protocol

    proto = load_config(Protocol, protocol, overrides)
    ts = make_trials(
        Embeddings.load(voices),
        Embeddings.load(faces),
        load_manifest(manifest) if manifest else None,
        proto,
    )
    digest = ts.save(out)
    typer.echo(f"wrote {out}: {len(ts.keys())} trial groups, sha256 {digest[:16]}")


def trials_import(
    fmt: str = typer.Argument(
        ..., help="cmpc-matching | cmpc-veriflist | ssnet-verify | ssnet-retrieval | cmpc-retrieval"
    ),
    paths: list[Path] = typer.Argument(
        ..., help="List file(s); cmpc-retrieval: wav_20k.csv jpg_20k.csv."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Trial file (.npz) to write."),
    voices: Path | None = typer.Option(
        None, "--voices", help="Voice embeddings to map paths onto."
    ),
    faces: Path | None = typer.Option(None, "--faces", help="Face embeddings to map paths onto."),
    meta: Path | None = typer.Option(None, "--vox1-meta", help="vox1_meta.csv (names <-> ids)."),
    drop_unmapped: bool = typer.Option(
        False, "--drop-unmapped", help="Drop trials whose items are not in the embeddings."
    ),
) -> None:
    """Convert a published trial list into a vfbench trial file over your embeddings."""
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.importers import import_list

    v = Embeddings.load(voices) if voices else None
    f = Embeddings.load(faces) if faces else None
    ts, report = import_list(fmt, paths, v, f, vox1_meta=meta, drop_unmapped=drop_unmapped)
    digest = ts.save(out)
    typer.echo(report.summary())
    typer.echo(f"wrote {out}: {len(ts.keys())} trial groups, sha256 {digest[:16]}")


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` and the ``trials`` group (make, import) to the main CLI."""
    app.command("evaluate")(evaluate_cmd)
    trials_app = typer.Typer(
        name="trials",
        help="Trial files: make (seeded), import (published lists).",
        no_args_is_help=True,
    )
    trials_app.command("make")(trials_make)
    trials_app.command("import")(trials_import)
    app.add_typer(trials_app, name="trials")
