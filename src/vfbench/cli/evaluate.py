"""``vfbench evaluate``: every task, both directions, with test confidence -> a run folder.

Thin: loads embeddings / manifest / protocol, calls :func:`vfbench.evaluate.api.evaluate`,
writes the report with :func:`vfbench.report.write_report` and prints the terminal table.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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
    trials: list[Path] = typer.Option(
        [],
        "--trials",
        help="Score on these trials instead of generating: a trial file (.npz) or published "
        "list(s) of one format (imported on the fly, parsed lists cached by hash). Runs the "
        "tasks they hold unless --set tasks=[...] says otherwise.",
    ),
    list_format: str | None = typer.Option(
        None,
        "--list-format",
        help="Format of --trials lists.",
        show_default="detected from the file",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Do not read or write the parsed-list cache."
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
    from vfbench.evaluate.importers import (
        default_cache_dir,
        file_sha256,
        load_trials,
        prefetch_for_lists,
    )

    prefetch_for_lists(trials)  # a 1M-trial list: numba loads while the inputs are read
    from vfbench.config import apply_overrides, from_dict, read_yaml, to_dict
    from vfbench.evaluate.api import apply_split, evaluate, make_trials
    from vfbench.evaluate.embeddings import Embeddings, check_against_manifest
    from vfbench.evaluate.protocol import Protocol, protocol_for_trials
    from vfbench.report import write_report
    from vfbench.report.render import print_table
    from vfbench.utils.progress import make_console

    con = make_console()
    base = to_dict(Protocol.quick() if quick else Protocol())
    data = read_yaml(protocol) if protocol is not None else {}
    merged = _deep_merge(base, data)
    extra = list(overrides)
    if by:
        extra.append("by=[" + ",".join(by) + "]")
    proto = from_dict(Protocol, apply_overrides(merged, extra), str(protocol or "protocol"))
    explicit_tasks = "tasks" in data or any(o.split("=", 1)[0].strip() == "tasks" for o in extra)
    fm = tuple(x.strip() for x in formats.split(",") if x.strip())
    v = Embeddings.load(voices)
    f = Embeddings.load(faces)
    man = None
    if manifest is not None:
        from vfbench.data.manifest import load_manifest

        man = load_manifest(manifest)
        check_against_manifest(v, man, str(voices))
        check_against_manifest(f, man, str(faces))
    v, f = apply_split(v, f, man, proto.split)
    source = None
    if trials:
        ts, source = load_trials(
            trials, v, f, list_format, cache_dir=None if no_cache else default_cache_dir()
        )
        if source.report is not None:
            con.print(f"[dim]{source.report.summary()}[/dim]")
        ts.check_identities(v, f, ", ".join(str(t) for t in trials))
        proto, ts = protocol_for_trials(proto, ts, explicit_tasks)
    else:
        ts = make_trials(v, f, man, proto)
    res = evaluate(
        v,
        f,
        man,
        proto,
        trials=ts,
        log=lambda msg: con.print(f"[dim]{msg}[/dim]"),
        command="vfbench " + " ".join(sys.argv[1:]),
    )
    if quick:  # the report says so: a reduced protocol is not a measurement
        res.summary["smoke"] = True
    if source is not None:  # referenced by path + hash, not copied into the run folder
        res.provenance["trials_source"] = source.to_dict()
    else:
        ts.save(out / "trials.npz")
        res.provenance["trials_source"] = {
            "paths": [str((out / "trials.npz").resolve())],
            "sha256": [file_sha256(out / "trials.npz")],
            "format": "vfbench-trials",
        }
    paths = write_report(res, out, fm)
    print_table(res, con, all_metrics, groups=bool(by))
    where = f" (report: {out / 'report.html'})" if "html" in fm else ""
    con.print(f"wrote {len(paths)} files to {out}{where}")


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
        ...,
        help="matching (= cmpc-matching, ssnet-matching) | cmpc-veriflist | ssnet-verify | "
        "ssnet-retrieval | cmpc-retrieval",
    ),
    paths: list[Path] = typer.Argument(
        ..., help="List file(s), one trial group each; cmpc-retrieval: wav_20k.csv jpg_20k.csv."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Trial file (.npz) to write."),
    voices: Path | None = typer.Option(
        None, "--voices", help="Voice embeddings to map paths onto."
    ),
    faces: Path | None = typer.Option(None, "--faces", help="Face embeddings to map paths onto."),
    meta: Path | None = typer.Option(
        None, "--vox1-meta", help="vox1_meta.csv (names <-> ids); default: the packaged copy."
    ),
    direction: str | None = typer.Option(
        None, "--direction", help="v2f | f2v, where neither the columns nor the file name say."
    ),
    constraint: str | None = typer.Option(
        None,
        "--constraint",
        help="U | G | N | GN (A, GNA for veriflists) when the name does not say.",
    ),
    drop_unmapped: bool = typer.Option(
        False, "--drop-unmapped", help="Drop trials whose items are not in the embeddings."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Do not read or write the parsed-list cache."
    ),
) -> None:
    """Convert published trial list(s) into a vfbench trial file over your embeddings."""
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.importers import default_cache_dir, import_list
    from vfbench.utils.progress import make_console

    v = Embeddings.load(voices) if voices else None
    f = Embeddings.load(faces) if faces else None
    ts, report = import_list(
        fmt,
        paths,
        v,
        f,
        vox1_meta=meta,
        drop_unmapped=drop_unmapped,
        direction=direction,
        constraint=constraint,
        cache_dir=None if no_cache else default_cache_dir(),
    )
    digest = ts.save(out)
    con = make_console()
    con.print(report.summary())
    _print_groups(con, ts, report.groups)
    for w in report.warnings:
        con.print(f"warning: {w}")
    con.print(f"wrote {out}: {len(ts.keys())} trial groups, sha256 {digest[:16]}")


def _print_groups(con: Any, ts: Any, counts: dict[str, int]) -> None:
    from rich.table import Table

    tab = Table("group", "task", "direction", "constraint", "trials", "list", box=None)
    for key in ts.keys():
        m = ts.meta(key)
        tab.add_row(
            key,
            str(m.get("task", "")),
            str(m.get("direction", "")),
            str(m.get("constraint", "")),
            str(counts.get(key, "")),
            str(m.get("list", "")),
        )
    con.print(tab)


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
