"""``run_demo``: the whole benchmark end to end, each stage reused when unchanged.

Stages (each a function of the previous stages' output hashes and its own config)::

    synth       OUT/corpus/       synthetic corpus + manifest + traits (vfbench.data.synthetic)
    preprocess  OUT/cache/        spectrograms + aligned faces (vfbench.preprocess)
    train       OUT/train/        pretraining + voice-anchored TriNet (vfbench.train)
    embed       OUT/embeddings/   voices.npz + faces.npz of the test split (vfbench.train.embed)
    evaluate    OUT/eval/         trials.npz, results.json, outcomes.npz; oracle/ on the same
                                  trials (vfbench.evaluate)
    report      OUT/              results.json (+ demo summary, provenance, hashes),
                                  outcomes.npz, report.md, report.html, results.csv, plots/

The stage functions (``stage_*``) take explicit folders so :mod:`vfbench.experiments.ablation` can
share a corpus, caches and one trial file between the rows of an ablation grid.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vfbench.config import to_dict
from vfbench.data.manifest import load_manifest
from vfbench.data.synthetic import generate_corpus
from vfbench.errors import DataError
from vfbench.evaluate.api import embeddings_hash, evaluate, make_trials
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.results import FIGURES_VERSION, EvaluationResult
from vfbench.evaluate.trials import TrialSet
from vfbench.experiments.config import DemoConfig
from vfbench.experiments.oracle import oracle_embeddings
from vfbench.experiments.stages import StageOutput, StageRecord, StageRunner
from vfbench.experiments.summary import build_report
from vfbench.methods import get_method
from vfbench.preprocess.run import preprocess
from vfbench.train.embed import embed_manifest
from vfbench.train.loop import train
from vfbench.utils.io import sha256_file, stable_hash

Log = Callable[[str], None]

#: Bump a stage's number when its code changes what it writes (forces a recompute).
#: preprocess 2: records list every cache file (a cache of an older version is rebuilt once,
#: with the same content hash, so nothing downstream reruns); report 2: headline rows are
#: grid-table cells.
# evaluate = the evaluation code's FIGURES_VERSION (its records carry a hash of the figures
# so that the report follows them)
STAGE_VERSIONS = {
    "synth": 1,
    "preprocess": 2,
    "train": 1,
    "embed": 1,
    "evaluate": FIGURES_VERSION,
    "report": 2,
}


@dataclass
class DataRef:
    """Where the corpus lives and its content hashes (the inputs of later stages)."""

    corpus: Path
    manifest: Path
    hashes: dict[str, str]


@dataclass
class DemoResult:
    """What :func:`run_demo` produced: the run folder, stage records, results, timing."""

    out: Path
    config: DemoConfig
    records: list[StageRecord]
    result: EvaluationResult
    oracle: EvaluationResult | None
    wall_seconds: float
    summary: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- helpers
def manifest_hash(manifest_dir: str | Path) -> str:
    """sha256 over the manifest's record files (not manifest.json: it holds absolute roots)."""
    d = Path(manifest_dir)
    h = hashlib.sha256()
    for name in ("identities.csv", "voices.csv", "faces.csv"):
        p = d / name
        if not p.is_file():
            raise DataError(f"{p}: manifest file missing (not a vfbench manifest folder?)")
        h.update(name.encode() + b"\0" + sha256_file(p).encode())
    return h.hexdigest()


def _train_config(cfg: DemoConfig, manifest: Path, cache: Path) -> Any:
    tc = cfg.train
    return replace(tc, data=replace(tc.data, manifest=str(manifest), cache=str(cache)))


def _train_key_config(cfg: DemoConfig) -> dict[str, Any]:
    """The training config as hashed: data paths blanked (their contents are inputs)."""
    d: dict[str, Any] = to_dict(cfg.train)
    d["data"] = {**d["data"], "manifest": "", "cache": ""}
    d.pop("log", None)  # progress/logging never changes the weights
    return d


# ---------------------------------------------------------------------------- stages
def stage_synth(
    runner: StageRunner, cfg: DemoConfig, directory: Path, progress: bool, command: str = ""
) -> DataRef:
    """Generate the synthetic corpus into ``directory`` (or use ``cfg.corpus`` as is)."""
    if cfg.corpus:
        corpus = Path(cfg.corpus)
        manifest = corpus / "manifest"
        if not (manifest / "manifest.json").is_file():
            raise DataError(f"{corpus}: no manifest/ inside (generate it with `vfbench synth`)")
        hashes = {"manifest": manifest_hash(manifest)}
        synth_json = corpus / "synth.json"
        if synth_json.is_file():
            hashes["corpus"] = str(json.loads(synth_json.read_text()).get("corpus_sha256", ""))
        runner.log(f"[synth] using the existing corpus {corpus}")
        return DataRef(corpus, manifest, hashes)

    def fn(d: Path, resume: bool) -> StageOutput:
        res = generate_corpus(
            d, cfg.synth, workers=cfg.workers, progress=progress, overwrite=True, command=command
        )
        info: dict[str, Any] = {
            "identities": res.identities,
            "voices": res.voices,
            "faces": res.faces,
            "audio_hours": round(res.audio_seconds / 3600, 3),
            "megabytes": round(res.bytes / 1e6, 1),
        }
        return StageOutput(
            outputs={"corpus": res.corpus_sha256, "manifest": manifest_hash(d / "manifest")},
            files=["manifest/manifest.json", "traits.csv", "synth.json", "SHA256SUMS"],
            info=info,
        )

    rec = runner.run("synth", directory, to_dict(cfg.synth), {}, fn, STAGE_VERSIONS["synth"])
    return DataRef(directory, directory / "manifest", dict(rec.outputs))


def stage_preprocess(
    runner: StageRunner,
    cfg: DemoConfig,
    data: DataRef,
    directory: Path,
    progress: bool,
    command: str = "",
) -> StageRecord:
    """Spectrograms and aligned faces of every corpus item into the cache ``directory``."""
    conf = to_dict(cfg.preprocess)
    inputs = {"manifest": data.hashes["manifest"]}

    def fn(d: Path, resume: bool) -> StageOutput:
        s = preprocess(
            data.manifest,
            d,
            cfg.preprocess,
            workers=cfg.workers,
            progress=progress,
            command=command,
        )
        info = {
            mod: {"items": m.items, "failed": m.failed, "failed_by_code": m.failed_by_code}
            for mod, m in s.modalities.items()
        }
        # preprocessing is deterministic: the cache's content is a function of this key
        return StageOutput(
            outputs={"cache": stable_hash({"inputs": inputs, "config": conf}, length=32)},
            files=["cache.json"],
            info=info,
        )

    rec = runner.run("preprocess", directory, conf, inputs, fn, STAGE_VERSIONS["preprocess"])
    failed = sum(int(v.get("failed", 0)) for v in rec.info.values() if isinstance(v, dict))
    if failed:
        runner.log(
            f"[preprocess] warning: {failed} items failed preprocessing (see {directory}/qc.md)"
        )
    return rec


def stage_train(
    runner: StageRunner,
    cfg: DemoConfig,
    data: DataRef,
    cache_dir: Path,
    cache_hash: str,
    directory: Path,
    progress: bool,
) -> StageRecord:
    """Pretraining + TriNet training (``cfg.train``) on the corpus' train split."""
    inputs = {"manifest": data.hashes["manifest"], "cache": cache_hash}

    def fn(d: Path, resume: bool) -> StageOutput:
        tc = _train_config(cfg, data.manifest, cache_dir)
        res = train(tc, d, get_method(tc.method), resume=resume, progress=progress)
        ckpt = d / "best.pt" if cfg.checkpoint == "best" and res.best_checkpoint else d / "last.pt"
        last = res.validations[-1] if res.validations else None
        return StageOutput(
            outputs={"checkpoint": sha256_file(ckpt)},
            files=[ckpt.name, "summary.json", "config.yaml"],
            info={
                "checkpoint": ckpt.name,
                "steps": res.steps,
                "best_val_acc": res.best_value,
                "last_val": last,
                "validations": res.validations,
            },
        )

    return runner.run(
        "train", directory, _train_key_config(cfg), inputs, fn, STAGE_VERSIONS["train"]
    )


def stage_embed(
    runner: StageRunner,
    cfg: DemoConfig,
    data: DataRef,
    cache_dir: Path,
    cache_hash: str,
    train_rec: StageRecord,
    directory: Path,
) -> StageRecord:
    """Embeddings of every ``cfg.split`` voice and face (``voices.npz``, ``faces.npz``)."""
    inputs = {
        "checkpoint": train_rec.outputs["checkpoint"],
        "cache": cache_hash,
        "manifest": data.hashes["manifest"],
    }
    ckpt = Path(train_rec.directory) / str(train_rec.info["checkpoint"])

    def fn(d: Path, resume: bool) -> StageOutput:
        v, f = embed_manifest(
            ckpt, data.manifest, cache_dir, cfg.split, cfg.train.device, methods=get_method
        )
        v.save(d / "voices.npz")
        f.save(d / "faces.npz")
        return StageOutput(
            outputs={"voices": embeddings_hash(v), "faces": embeddings_hash(f)},
            files=["voices.npz", "faces.npz"],
            info={"voices": len(v), "faces": len(f), "dim": v.dim, "split": cfg.split},
        )

    return runner.run("embed", directory, {"split": cfg.split}, inputs, fn, STAGE_VERSIONS["embed"])


def stage_evaluate(
    runner: StageRunner,
    cfg: DemoConfig,
    data: DataRef,
    embed_rec: StageRecord,
    directory: Path,
    trials_file: Path | None = None,
    command: str = "",
) -> StageRecord:
    """Every task of ``cfg.protocol`` in both directions; the oracle on the same trials.

    ``trials_file``: score on this saved trial set (an ablation grid's shared trials)
    instead of generating trials from the protocol's seed.
    """
    conf = {"protocol": to_dict(cfg.protocol), "oracle": cfg.oracle}
    inputs = {
        "voices": embed_rec.outputs["voices"],
        "faces": embed_rec.outputs["faces"],
        "manifest": data.hashes["manifest"],
    }
    if trials_file is not None:
        inputs["trials"] = TrialSet.load(trials_file).sha256
    emb_dir = Path(embed_rec.directory)

    def fn(d: Path, resume: bool) -> StageOutput:
        v = Embeddings.load(emb_dir / "voices.npz")
        f = Embeddings.load(emb_dir / "faces.npz")
        man = load_manifest(data.manifest)
        p = cfg.protocol
        if trials_file is not None:
            trials = TrialSet.load(trials_file)
            runner.log(f"[evaluate] scoring the shared trials {trials_file}")
        else:
            trials = make_trials(v, f, man, p)
        trials.save(d / "trials.npz")

        def say(msg: str) -> None:
            runner.log(f"[evaluate] {msg}")

        res = evaluate(v, f, man, p, trials=trials, log=say, command=command)
        res.save(d)
        files = ["results.json", "outcomes.npz", "trials.npz"]
        info: dict[str, Any] = {"metrics": len(res.metrics), "trials_sha256": res.trials_hash}
        traits = data.corpus / "traits.csv"
        if cfg.oracle and traits.is_file():
            say("synthetic oracle (Bayes-optimal PMI) on the same trials")
            ov, of, scorer = oracle_embeddings(traits, v, f)
            op = replace(p, tasks=[t for t in p.tasks if t != "repeated"])
            ores = evaluate(ov, of, man, op, trials=trials, scorer=scorer, command=command)
            ores.save(d / "oracle")
            files.append("oracle/results.json")
        elif cfg.oracle:
            info["oracle"] = f"skipped: {traits} not found"
        # the figures themselves (not their timestamps): the report stage is keyed by them,
        # so it never shows figures of an older evaluation
        figures = [m.to_dict() for m in res.metrics]
        if cfg.oracle and traits.is_file():
            figures.append({"oracle": [m.to_dict() for m in ores.metrics]})
        outputs = {"trials": res.trials_hash, "results": stable_hash(figures, length=32), **inputs}
        return StageOutput(outputs=outputs, files=files, info=info)

    return runner.run("evaluate", directory, conf, inputs, fn, STAGE_VERSIONS["evaluate"])


def stage_report(
    runner: StageRunner,
    cfg: DemoConfig,
    data: DataRef,
    eval_rec: StageRecord,
    directory: Path,
    command: str = "",
) -> StageRecord:
    """results.json with the demo summary and provenance, report.md/.html, csv, plots."""
    inputs = {**data.hashes, **{k: v for k, v in eval_rec.outputs.items()}}
    stages = [r for r in runner.records if r.name != "report"]
    conf = {
        "config": to_dict(cfg),
        # computed figures of upstream stages (not their wall time of this run)
        "stages": [[r.name, r.key] for r in stages],
    }

    def fn(d: Path, resume: bool) -> StageOutput:
        files = build_report(
            d,
            cfg,
            eval_dir=Path(eval_rec.directory),
            stages=stages,
            data_hashes=data.hashes,
            corpus=data.corpus,
            command=command,
        )
        return StageOutput(outputs={"report": eval_rec.outputs["trials"]}, files=files)

    return runner.run("report", directory, conf, inputs, fn, STAGE_VERSIONS["report"])


def timing_line(records: list[StageRecord], wall_seconds: float) -> str:
    """One line on what this run did: its real wall time (never rounded to "0.0 s") and
    which stages were reused, with the time they took when they were computed."""
    w = f"{wall_seconds:.2f}" if wall_seconds < 10 else f"{wall_seconds:.1f}"
    reused = [r for r in records if r.status == "reused"]
    if not reused:
        return f"wall time {w} s (every stage computed)"
    names = ", ".join(r.name for r in reused)
    saved = sum(r.compute_seconds for r in reused)
    what = "all" if len(reused) == len(records) else f"{len(reused)} of"
    return (
        f"wall time {w} s; reused {what} {len(records)} stages ({names}: computed earlier "
        f"in {saved:.1f} s; --force STAGE recomputes one)"
    )


# ---------------------------------------------------------------------------- driver
def run_demo(
    out: str | Path,
    config: DemoConfig,
    *,
    progress: bool = True,
    log: Log | None = None,
    force: Iterable[str] = (),
    command: str = "",
    trials_file: Path | None = None,
) -> DemoResult:
    """Run the whole benchmark into ``out``; unchanged stages are reused.

    ``force``: stage names to recompute anyway; ``trials_file``: evaluate on these trials.
    """
    t0 = time.perf_counter()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    runner = StageRunner(root, log, force)
    data = stage_synth(runner, config, root / "corpus", progress, command)
    pre = stage_preprocess(runner, config, data, root / "cache", progress, command)
    cache_hash = pre.outputs["cache"]
    tr = stage_train(runner, config, data, root / "cache", cache_hash, root / "train", progress)
    em = stage_embed(runner, config, data, root / "cache", cache_hash, tr, root / "embeddings")
    ev = stage_evaluate(runner, config, data, em, root / "eval", trials_file, command)
    stage_report(runner, config, data, ev, root, command)
    res = EvaluationResult.load(root)
    oracle_dir = root / "eval" / "oracle"
    oracle = EvaluationResult.load(oracle_dir) if (oracle_dir / "results.json").is_file() else None
    return DemoResult(
        out=root,
        config=config,
        records=list(runner.records),
        result=res,
        oracle=oracle,
        wall_seconds=time.perf_counter() - t0,
        summary=dict(res.summary.get("demo", {})),
    )
