"""``vfbench fame ...`` (the FAME / MAV-Celeb protocol) and ``vfbench data import-features``.

Thin: parses arguments, calls :mod:`vfbench.data.features`,
:mod:`vfbench.data.recipes.mav_celeb` and :mod:`vfbench.evaluate.fame`, prints tables.
See docs/fame.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vfbench.errors import ConfigError

fame_app = typer.Typer(
    name="fame",
    help="FAME challenge protocol on MAV-Celeb or any corpus with languages: prepare, "
    "subset, lists, evaluate (per-condition EER with intervals, submission files).",
    no_args_is_help=True,
)


def _pairs(items: list[str], flag: str) -> dict[str, Path]:
    """``LANG=PATH`` options -> {LANG: PATH} (each language once)."""
    out: dict[str, Path] = {}
    for it in items:
        lang, sep, path = it.partition("=")
        if not sep or not lang.strip() or not path.strip():
            raise ConfigError(f"{flag} {it!r}: expected LANGUAGE=PATH")
        if lang.strip() in out:
            raise ConfigError(f"{flag}: language {lang.strip()!r} given twice")
        out[lang.strip()] = Path(path.strip())
    return out


def import_features_cmd(
    voice: Path = typer.Option(..., "--voice", help="Voice features (.npz/.npy/.csv/.pt)."),
    face: Path = typer.Option(..., "--face", help="Face features (.npz/.npy/.csv/.pt)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (manifest/, features/)."),
    voice_list: Path | None = typer.Option(
        None, "--voice-list", help="Sidecar 'id identity [language]' per voice row."
    ),
    face_list: Path | None = typer.Option(
        None, "--face-list", help="Sidecar 'id identity [language]' per face row."
    ),
    meta: Path | None = typer.Option(
        None, "--meta", help="meta.csv: identity[,gender][,nationality][,language][,split]."
    ),
    ratios: str = typer.Option("0.8,0.1,0.1", "--ratios", help="train,val,test split ratios."),
    seed: int = typer.Option(0, "--seed", help="Seed of the identity split."),
    keep_unpaired: bool = typer.Option(
        False, "--keep-unpaired", help="Keep identities with only voices or only faces."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing import."),
) -> None:
    """Import pre-extracted voice and face features as a manifest + feature store."""
    from vfbench.data.features import import_features

    try:
        r = tuple(float(x) for x in ratios.split(","))
    except ValueError:
        raise ConfigError(f"--ratios {ratios!r}: expected three numbers like 0.8,0.1,0.1") from None
    if len(r) != 3:
        raise ConfigError(f"--ratios {ratios!r}: expected three numbers (train,val,test)")
    res = import_features(
        voice, face, out, voice_list=voice_list, face_list=face_list, meta=meta, ratios=r,
        seed=seed, keep_unpaired=keep_unpaired, overwrite=overwrite,
    )  # fmt: skip
    typer.echo(res.summary())
    typer.echo(f"train:     vfbench train {out / 'train.yaml'} --out runs/features_trinet")
    typer.echo(
        f"benchmark: vfbench methods benchmark --grid {out / 'benchmark.yaml'} --out runs/features_methods"
    )


@fame_app.command("prepare")
def prepare_cmd(
    root: Path = typer.Option(..., "--root", help="MAV-Celeb folder with voices/ and faces/."),
    out: Path = typer.Option(..., "--out", "-o", help="Manifest folder to write."),
    version: str = typer.Option(
        "", "--version", help="v1 (English/Urdu), v2 (Hindi), v3 (German)."
    ),
    languages: list[str] = typer.Option([], "--language", help="Keep only these (repeatable)."),
    meta: Path | None = typer.Option(
        None, "--meta", help="meta.csv.", show_default="ROOT/meta.csv"
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the identity split."),
    no_probe: bool = typer.Option(False, "--no-probe", help="Do not read media headers."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Scan a MAV-Celeb tree (voices/<id>/<Language>/..., faces/...) into a manifest."""
    from vfbench.data.recipes.mav_celeb import languages_of, prepare_mav_celeb

    m = prepare_mav_celeb(
        root, version=version, languages=languages or None, meta=meta, split_seed=seed,
        probe=not no_probe, progress=not quiet,
    )  # fmt: skip
    m.save(out)
    splits = {s: sum(i.split == s for i in m.identities) for s in m.splits()}
    typer.echo(
        f"{len(m.identities)} identities {splits}, {len(m.voices)} voices, {len(m.faces)} "
        f"faces, languages {languages_of(m)} -> {out}"
    )


@fame_app.command("test-manifest")
def test_manifest_cmd(
    root: Path = typer.Option(..., "--root", help="Folder with the test voices/ and faces/."),
    list_: list[str] = typer.Option(..., "--list", help="A FAME test list (repeatable)."),
    out: Path = typer.Option(..., "--out", "-o", help="Manifest folder to write."),
    no_probe: bool = typer.Option(False, "--no-probe", help="Do not read media headers."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Manifest of the media named by FAME test lists (official test set: unknown people)."""
    from vfbench.data.recipes.mav_celeb import prepare_test_lists
    from vfbench.evaluate.fame import read_fame_list

    pairs = []
    for p in list_:
        lst = read_fame_list(p)
        pairs += list(zip(lst.voice_paths.tolist(), lst.face_paths.tolist(), strict=True))
    m = prepare_test_lists(root, pairs, probe=not no_probe, progress=not quiet)
    m.save(out)
    typer.echo(f"{len(m.voices)} voices, {len(m.faces)} faces (split test) -> {out}")


@fame_app.command("subset")
def subset_cmd(
    manifest: Path = typer.Option(..., "--manifest", help="Manifest folder."),
    language: str = typer.Option(..., "--language", help="Training language to keep."),
    out: Path = typer.Option(..., "--out", "-o", help="Manifest folder to write."),
) -> None:
    """Keep one language on the training side (train/val); test keeps every language."""
    from vfbench.data.manifest import load_manifest
    from vfbench.data.recipes.mav_celeb import language_subset

    sub = language_subset(load_manifest(manifest), language)
    sub.save(out)
    n = sum(i.split in ("train", "val") for i in sub.identities)
    typer.echo(f"{n} train/val identities in {language}, {len(sub.voices)} voices -> {out}")


@fame_app.command("lists")
def lists_cmd(
    manifest: Path = typer.Option(..., "--manifest", help="Manifest folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for lists/ and truth/."),
    split: str = typer.Option("test", "--split", help="Identities to draw trials from."),
    languages: list[str] = typer.Option(
        [], "--language", help="Languages (repeatable).", show_default="all"
    ),
    n_trials: int = typer.Option(2000, "--trials", help="Trials per language (half positive)."),
    seed: int = typer.Option(0, "--seed", help="Seed (keyed by language)."),
) -> None:
    """Write FAME test lists (lists/<Lang>_test.txt) and ground truth (truth/<Lang>_test.txt)."""
    from vfbench.data.manifest import load_manifest
    from vfbench.evaluate.fame import build_fame_lists, write_fame_list, write_truth

    built = build_fame_lists(load_manifest(manifest), split, languages or None, n_trials, seed)
    for lang, (lst, y) in built.items():
        write_fame_list(out / "lists" / f"{lang}_test.txt", lst)
        write_truth(out / "truth" / f"{lang}_test.txt", lst.ids.tolist(), y.tolist())
        typer.echo(f"{lang}: {len(lst)} trials ({int(y.sum())} same-person) -> {out}/lists, truth")


@fame_app.command("import-test")
def import_test_cmd(
    list_: list[str] = typer.Option(..., "--list", help="LANG=FILE: the test list (repeatable)."),
    voice: list[str] = typer.Option(
        ..., "--voice", help="LANG=FILE: voice features, row i = line i."
    ),
    face: list[str] = typer.Option(..., "--face", help="LANG=FILE: face features, row i = line i."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (manifest/, features/)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing import."),
) -> None:
    """Import test features aligned with FAME lists (the baseline's <Lang>_voices_test.csv)."""
    from vfbench.data.features import import_trial_features
    from vfbench.evaluate.fame import read_fame_list

    lists = _pairs(list_, "--list")
    vs, fs = _pairs(voice, "--voice"), _pairs(face, "--face")
    if set(vs) != set(lists) or set(fs) != set(lists):
        raise ConfigError(
            f"--list, --voice and --face must name the same languages: {sorted(lists)}, "
            f"{sorted(vs)}, {sorted(fs)}"
        )
    trials = {
        lang: (read_fame_list(p).ids.tolist(), vs[lang], fs[lang]) for lang, p in lists.items()
    }
    res = import_trial_features(trials, out, overwrite=overwrite)
    typer.echo(res.summary())
    typer.echo(
        f"next: vfbench embed CHECKPOINT {out / 'manifest'} --cache {out / 'features'} --out EMB"
    )


@fame_app.command("evaluate")
def evaluate_cmd(
    model: list[str] = typer.Option(
        ...,
        "--model",
        help="TRAIN_LANG=DIR with voices.npz + faces.npz (vfbench embed) (repeatable).",
    ),
    list_: list[str] = typer.Option(
        ..., "--list", help="TEST_LANG=FILE: a test list 'id voice_path face_path' (repeatable)."
    ),
    truth: list[str] = typer.Option(
        [], "--truth", help="TEST_LANG=FILE: ground truth 'id label' (repeatable)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write fame.json and fame.md here."),
    submission: Path | None = typer.Option(
        None, "--submission", help="Write sub_score_<ver>_<Lang>_{heard,unheard}.txt here."
    ),
    version: str = typer.Option("v1", "--version", help="Version tag in submission names."),
    raw: bool = typer.Option(
        False, "--raw", help="L2 on raw embeddings instead of unit-normalised ones."
    ),
    n_boot: int = typer.Option(1000, "--boot", help="Identity-bootstrap replicates."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
) -> None:
    """Score FAME lists (L2 distance): per-condition EER/AUC with intervals, the mean EER,
    heard-vs-unheard gaps, and/or the challenge's submission files."""
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.fame import read_fame_list, read_truth, run_fame
    from vfbench.utils.io import atomic_write_json, atomic_write_text

    models = {
        lang: (Embeddings.load(d / "voices.npz"), Embeddings.load(d / "faces.npz"))
        for lang, d in _pairs(model, "--model").items()
    }
    lists = {lang: read_fame_list(p) for lang, p in _pairs(list_, "--list").items()}
    truths = {lang: read_truth(p) for lang, p in _pairs(truth, "--truth").items()} or None
    if truths is None and submission is None:
        raise ConfigError("nothing to do: give --truth files (evaluate) and/or --submission DIR")
    run = run_fame(models, lists, truths, version=version, submission_dir=submission,
                   normalize=not raw, n_boot=n_boot, seed=seed)  # fmt: skip
    for p in run.submissions:
        typer.echo(f"wrote {p}")
    if run.result is not None:
        md = run.result.table_markdown()
        typer.echo(md)
        if out is not None:
            atomic_write_json(out / "fame.json", run.result.to_dict())
            atomic_write_text(out / "fame.md", md)
            typer.echo(f"wrote {out / 'fame.json'} and {out / 'fame.md'}")
    elif out is not None:
        atomic_write_text(
            out / "fame.json", json.dumps({"submissions": [str(p) for p in run.submissions]})
        )


def register(app: typer.Typer) -> None:
    app.add_typer(fame_app, name="fame")
