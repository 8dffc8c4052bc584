"""``run_benchmark(grid, out)``: every compared method trained on the same data, evaluated on
the SAME trials, and tabulated against TriNet like the paper's Table 2 / Fig. 4a.

Steps (each resumable; a finished row is never rerun):

1. **Data**: a manifest + preprocessing cache (train / val / test splits), or in-memory
   splits (:class:`BenchData`, tests).
2. **Shared backbones** (``shared_backbones: true``, the default): the backbones of the
   baseline row's config are built once (pretrained by its ``pretrain`` stage when enabled)
   and saved to ``OUT/backbones/{voice,face}.pt``; every row loads them frozen and trains
   in feature mode on ONE shared feature cache (``OUT/features``). Rows then differ only in
   head, objective and sampling - the comparison the issue asks for.
3. **Train** each row with the shared loop (``OUT/rows/<row>/``; ``resume`` after a crash).
4. **Embed** the test split with the row's best checkpoint (validation 1:2), and
   **evaluate** with :func:`vfbench.evaluate.api.evaluate` on one trial set
   (``OUT/trials/<hash>.npz``, generated once per protocol), scoring with the method's pair scorer when it has
   one (SVHF, Horiguchi et al.) or its embedding distance.
5. **Compare** every row with the baseline on the same trials
   (:func:`vfbench.report.compare.compare_results`: McNemar's exact test + paired identity
   bootstrap for matching, paired bootstrap for mAP and AUC), and write
   ``benchmark.md`` / ``benchmark.json`` / ``one_to_n.png``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vfbench.config import dump_yaml, from_dict, load_config, to_dict
from vfbench.data.manifest import Manifest, load_manifest
from vfbench.data.synthetic import generate_corpus, load_synth_config
from vfbench.errors import ConfigError
from vfbench.evaluate.api import evaluate, make_trials
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import FIGURES_VERSION, EvaluationResult
from vfbench.evaluate.trials import TrialSet
from vfbench.experiments.config import CONFIG_DIR as PACKAGED_CONFIGS
from vfbench.experiments.grid import Cell, Column, GridTable, TableRow, cells_of
from vfbench.methods import get_method
from vfbench.models.encoders import create_encoder, packaged_info
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.preprocess.config import PreprocessConfig
from vfbench.preprocess.run import preprocess
from vfbench.report.compare import compare_results
from vfbench.report.experiments import grid_markdown
from vfbench.train.config import TrainConfig, load_train_config
from vfbench.train.data import SplitData, load_split
from vfbench.train.embed import embed_data, load_trained
from vfbench.train.features import cached_features
from vfbench.train.loop import build_backbone, pretrain_backbone, seed_everything, train
from vfbench.train.protocol import Method, PairScorer
from vfbench.utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text, stable_hash
from vfbench.utils.provenance import Provenance

log = logging.getLogger("vfbench.methods")

CONFIG_DIR = PACKAGED_CONFIGS


def _match(d: str, n: int, c: str = "U") -> dict[str, Any]:
    return {"task": "match", "direction": d, "n": n, "constraint": c, "group": "all",
            "name": "accuracy"}  # fmt: skip


#: Table columns, per direction: "v2f 1:2 U", ..., "f2v AUC".
COLUMNS: list[Column] = [
    col
    for d in ("v2f", "f2v")
    for col in (
        Column(f"{d} 1:2 U", _match(d, 2)),
        Column(f"{d} 1:2 G", _match(d, 2, "G")),
        Column(f"{d} 1:3 U", _match(d, 3)),
        Column(f"{d} 1:5 U", _match(d, 5)),
        Column(f"{d} 1:10 U", _match(d, 10)),
        Column(
            f"{d} mAP",
            {"task": "retrieve", "direction": d, "variant": "paper", "name": "mAP", "group": "all"},
        ),  # fmt: skip
        Column(f"{d} AUC", {"task": "verify", "direction": d, "name": "auc", "group": "all"}),
    )
]


@dataclass
class RowSpec:
    """One row: a label, a training config (a path, or a name under ``configs/``) and
    ``--set`` style overrides."""

    name: str = ""
    config: str = ""
    set: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if not self.name or not self.config:
            raise ValueError("every row needs a name and a config")
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", self.name):
            raise ValueError(f"row name {self.name!r} may hold only letters, digits, _ . + -")


def _default_rows() -> list[RowSpec]:
    return [
        RowSpec("TriNet", "methods/trinet_cpu.yaml"),
        RowSpec("SVHF", "methods/svhf_cpu.yaml"),
        RowSpec("DIMNet-IG", "methods/dimnet_cpu.yaml"),
        RowSpec("PINs", "methods/pins_cpu.yaml"),
        RowSpec("Kim", "methods/kim_cpu.yaml"),
        RowSpec("Horiguchi", "methods/horiguchi_cpu.yaml"),
        RowSpec("FOP", "methods/fop_cpu.yaml"),
        RowSpec("CMPC", "methods/cmpc_cpu.yaml"),
        RowSpec("SSNet", "methods/ssnet_cpu.yaml"),
        RowSpec("FV-CME", "methods/fv_cme_cpu.yaml"),
        RowSpec("LAFV", "methods/lafv_cpu.yaml"),
        RowSpec("Self-Lifting", "methods/self_lifting_cpu.yaml"),
        RowSpec("CAE", "methods/cae_cpu.yaml"),
        RowSpec("BarlowTwins", "methods/barlow_twins_cpu.yaml"),
    ]


@dataclass
class BenchmarkGrid:
    """The validated schema of ``vfbench methods benchmark --grid GRID.yaml``."""

    name: str = "methods"
    manifest: str = ""  # manifest folder; empty: the synthetic corpus under OUT/synth
    cache: str = ""  # preprocessing cache of the manifest
    synth_identities: int = 0  # > 0: size of the generated synthetic corpus (default 400)
    split: str = "test"  # evaluation split
    baseline: str = "TriNet"  # the row every other row is tested against
    shared_backbones: bool = True  # one set of frozen backbones + one feature cache for all
    steps: int = 0  # > 0: every row trains this many steps (its schedule is kept in ratio)
    set: list[str] = field(default_factory=list)  # overrides applied to every row
    rows: list[RowSpec] = field(default_factory=_default_rows)
    checkpoint: str = "best"  # "best" (validation 1:2) or "last"
    protocol: dict[str, Any] = field(default_factory=dict)  # Protocol keys (evaluate)
    n_boot: int = 2000  # paired-bootstrap replicates

    def validate(self) -> None:
        names = [r.name for r in self.rows]
        if not names:
            raise ValueError("rows: at least one row is needed")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rows: row name {dup[0]!r} is used twice")
        if self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not a row name ({', '.join(names)})")
        if self.checkpoint not in ("best", "last"):
            raise ValueError(f"checkpoint must be 'best' or 'last', got {self.checkpoint!r}")
        if self.steps < 0 or self.n_boot < 10 or self.synth_identities < 0:
            raise ValueError("steps and synth_identities must be >= 0 and n_boot >= 10")


def load_grid(
    path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()
) -> BenchmarkGrid:
    """Grid YAML (default: every method's CPU config) + ``key=value`` overrides."""
    return load_config(BenchmarkGrid, path, overrides)


def default_protocol_dict() -> dict[str, Any]:
    """The benchmark's evaluation: 1:2..1:10 (U), 1:2 G, verification, paper retrieval,
    both directions (joint tasks and repeated test sets are left to ``vfbench evaluate``)."""
    return {
        "tasks": ["match", "verify", "retrieve"],
        "matching": {"n_values": list(range(2, 11)), "constraints": ["U", "G"]},
        "retrieval": {"full": False},
    }


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = (
            _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def resolve_config_path(ref: str, base: Path | None = None) -> Path:
    """A row's config: an existing path (relative to the grid file's folder or the working
    directory) or a name under the packaged ``configs/`` folder."""
    cands = [Path(ref)]
    if base is not None:
        cands.insert(0, base / ref)
    cands.append(CONFIG_DIR / ref)
    for c in cands:
        if c.is_file():
            return c
    raise ConfigError(
        f"row config {ref!r} not found (looked in {', '.join(str(c.parent) for c in cands)})"
    )


# ------------------------------------------------------------------------------- data
@dataclass
class BenchData:
    """Splits for the benchmark. ``identities``: identity -> attributes for evaluation
    (a Manifest or a dict, see :func:`vfbench.evaluate.api.identity_attributes`)."""

    train: SplitData
    val: SplitData | None
    test: SplitData
    identities: Manifest | dict[str, Any] | None = None
    manifest: str = ""
    cache: str = ""


def load_bench_data(
    manifest: str, cache: str, split: str, train_cfg: TrainConfig
) -> BenchData:  # pragma: no cover - exercised by the slow end-to-end test
    d = train_cfg.data
    tr = load_split(manifest, cache, d.train_split, d.crop_seconds, train_cfg.seed,
                    d.max_train_identities, augment=d.face_augment)  # fmt: skip
    va = load_split(manifest, cache, d.val_split, d.crop_seconds, train_cfg.seed,
                    d.val_max_identities)  # fmt: skip
    te = load_split(manifest, cache, split, seed=train_cfg.seed, augment=False)
    return BenchData(tr, va, te, load_manifest(manifest), manifest, cache)


def ensure_synthetic(
    out: Path, progress: bool = True, workers: int = 1, identities: int = 0
) -> tuple[str, str]:  # pragma: no cover - slow (minutes); run by the documented command
    """Generate the default synthetic corpus into ``out/synth`` and preprocess it into
    ``out/synth/cache`` (as the demo does: no face detector on the rendered faces). Both
    steps resume / skip when already done."""
    root = out / "synth"
    corpus = root / "corpus"
    if not (corpus / "manifest" / "manifest.json").is_file():
        sets = [f"identities={identities}"] if identities else []
        generate_corpus(corpus, load_synth_config(None, sets), workers=workers,
                        progress=progress)  # fmt: skip
    cache = root / "cache"
    pcfg = load_config(PreprocessConfig, None, ["face.detector=none"])
    preprocess(corpus / "manifest", cache, pcfg, workers=workers, progress=progress)
    return str(corpus / "manifest"), str(cache)


# ------------------------------------------------------------------------------ rows
def row_config(
    grid: BenchmarkGrid, row: RowSpec, base: Path | None, manifest: str = "", cache: str = ""
) -> TrainConfig:
    """The resolved TrainConfig of ``row`` (grid-wide overrides, then the row's; the data
    paths when the rows train from a manifest)."""
    path = resolve_config_path(row.config, base)
    sets = list(grid.set)
    if manifest:
        sets += [f"data.manifest={manifest}", f"data.cache={cache}"]
    cfg = load_train_config(str(path), [*sets, *row.set])
    if grid.steps:
        ratio = grid.steps / cfg.steps
        cfg.optim.milestones = [max(1, int(m * ratio)) for m in cfg.optim.milestones]
        cfg.val.every = int(cfg.val.every * ratio)
        cfg.checkpoint_every = max(1, int(cfg.checkpoint_every * ratio))
        cfg.steps = grid.steps
    cfg.name = row.name
    cfg.log.tensorboard = False
    return cfg


def shared_backbones(
    cfg: TrainConfig, data: BenchData, out: Path, progress: bool
) -> dict[str, str]:
    """Backbone weights shared by every row: the baseline config's backbones, pretrained
    by its ``pretrain`` stage if enabled, else its initial weights (seeded)."""
    paths = {}
    for mod in ("voice", "face"):
        enc = cfg.voice if mod == "voice" else cfg.face
        if packaged_info(create_encoder(enc.name, mod, **enc.kwargs)) is not None:
            paths[mod] = ""  # packaged frozen encoder: rebuilt from its package, no file
            continue
        p = out / "backbones" / f"{mod}.pt"
        paths[mod] = str(p)
        if p.is_file():
            continue
        if cfg.pretrain.enabled and mod in cfg.pretrain.modalities:
            pretrain_backbone(cfg, mod, data.train, p, cfg.device, progress)
            continue
        seed_everything(cfg.seed + (1 if mod == "voice" else 2))
        enc = cfg.voice if mod == "voice" else cfg.face
        bb = build_backbone(enc, mod, enc.weights)
        buf = io.BytesIO()
        torch.save(bb.state_dict(), buf)
        atomic_write_bytes(p, buf.getvalue())
    return paths


def _link_features(row_dir: Path, shared: Path) -> None:
    """Point the row's feature cache at the shared one (features are keyed by backbone
    hash and item id, so sharing is safe)."""
    shared.mkdir(parents=True, exist_ok=True)
    link = row_dir / "features"
    if link.is_symlink() or link.exists():
        return
    row_dir.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(shared.resolve(), link, target_is_directory=True)
    except OSError:  # no symlinks (some file systems): each row keeps its own cache
        pass


def embed_split_features(
    method: Method,
    model: VoiceFaceModel,
    cfg: TrainConfig,
    data: SplitData,
    directory: Path,
    device: str,
) -> tuple[np.ndarray, np.ndarray]:
    """(voice, face) test embeddings; frozen backbones go through the feature cache."""
    out = []
    feat_mods = cfg.feature_modalities()
    for mod, enc in (("voice", cfg.voice), ("face", cfg.face)):
        if mod not in feat_mods:
            out.append(embed_data(method, model, data, mod, device))
            continue
        feats = cached_features(model.backbone(mod), enc.name, enc.kwargs, data, mod,
                                directory, device)  # fmt: skip
        model.eval()
        parts = []
        with torch.no_grad():
            for s in range(0, feats.shape[0], 1024):
                x = feats[s : s + 1024].to(device)
                parts.append(method.embed(model, mod, x, True).float().cpu().numpy())
        out.append(np.concatenate(parts).astype(np.float32))
    return out[0], out[1]


def _scorer_of(method: Method, model: VoiceFaceModel) -> PairScorer | str:
    sc = method.scorer(model)
    return sc if sc is not None else str(getattr(method, "distance", "cosine"))


# ------------------------------------------------------------------- one checkpoint
def evaluate_checkpoint(
    checkpoint: str | Path,
    data: SplitData,
    identities: Manifest | dict[str, Any] | None = None,
    protocol: Protocol | None = None,
    trials: TrialSet | None = None,
    device: str = "cpu",
    command: str = "",
) -> tuple[EvaluationResult, TrialSet]:
    """Evaluate a trained checkpoint of ANY method on split ``data`` (a SplitData) with the
    method's own scoring (pair matcher for SVHF / Horiguchi, L2 for Kim, else cosine).

    Returns ``(EvaluationResult, TrialSet)``; pass ``trials`` (e.g. another run's
    ``trials.npz``) to score on the same trials. ``vfbench embed`` + ``vfbench evaluate``
    compare embeddings by cosine, which is wrong for the matcher methods: use this (or
    ``vfbench methods evaluate``) for them.
    """
    method, model, cfg, ckpt = load_trained(checkpoint, get_method, device)
    ids = np.asarray(data.identities)
    meta = {"method": cfg.method, "checkpoint": str(checkpoint), "step": int(ckpt["step"])}
    ev, ef = (
        Embeddings(
            np.asarray(data.table(m).ids),
            ids[data.table(m).identity],
            embed_data(method, model, data, m, device),
            m,
            meta,
        )  # fmt: skip
        for m in ("voice", "face")
    )
    p = protocol or Protocol()
    ts = trials if trials is not None else make_trials(ev, ef, identities, p)
    res = evaluate(ev, ef, identities, p, trials=ts, scorer=_scorer_of(method, model),
                   command=command)  # fmt: skip
    return res, ts


# -------------------------------------------------------------------------- the run
@dataclass
class RowResult:
    name: str
    method: str
    result_dir: Path
    skipped: bool
    train_s: float
    eval_s: float


def _fingerprint(cfg: TrainConfig, protocol: Protocol, grid: BenchmarkGrid) -> str:
    return stable_hash(
        {
            "train": to_dict(cfg),
            "protocol": to_dict(protocol),
            "split": grid.split,
            "checkpoint": grid.checkpoint,
            "shared": grid.shared_backbones,
        },  # fmt: skip
        length=16,
    )


def run_benchmark(
    grid: BenchmarkGrid,
    out: str | Path,
    data: BenchData | None = None,
    grid_dir: Path | None = None,
    progress: bool = True,
    command: str = "vfbench methods benchmark",
    say: Callable[[str], None] | None = None,
) -> GridTable:
    """Train, evaluate and compare every row of ``grid`` into ``out``; returns the table
    (also written to ``benchmark.json`` / ``benchmark.md``)."""
    say = say or (lambda m: log.info("%s", m))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pdict = _deep_merge(default_protocol_dict(), grid.protocol)
    protocol = from_dict(Protocol, pdict, "grid", "protocol.")
    if data is None:
        manifest, cache = grid.manifest, grid.cache
        if not manifest:
            say("synthetic corpus: generating / preprocessing (resumes when present)")
            manifest, cache = ensure_synthetic(out, progress, identities=grid.synth_identities)
        elif not cache:
            raise ConfigError("grid: manifest is set but cache is empty (run vfbench preprocess)")
        first = row_config(grid, grid.rows[0], grid_dir, manifest, cache)
        data = load_bench_data(manifest, cache, grid.split, first)
    atomic_write_text(out / "grid.yaml", dump_yaml(grid))

    cfgs = {r.name: row_config(grid, r, grid_dir, data.manifest, data.cache) for r in grid.rows}
    for r in grid.rows:  # fail early on a bad method / options, before any training
        m = get_method(cfgs[r.name].method)
        if hasattr(m, "options"):
            m.options(cfgs[r.name])
    weights: dict[str, str] = {}
    if grid.shared_backbones:
        base = cfgs[grid.baseline]
        say("shared backbones: " + ("pretraining" if base.pretrain.enabled else "initial weights"))
        weights = shared_backbones(base, data, out, progress)
        for r in grid.rows:
            c = cfgs[r.name]
            c.voice, c.face = base.voice, base.face
            c.voice.frozen = c.face.frozen = True
            c.voice.weights, c.face.weights = weights["voice"] or None, weights["face"] or None
            c.pretrain.enabled = False
            c.feature_mode = True

    # one trial file per (protocol, test data): a changed protocol gets new trials
    tkey = stable_hash({"protocol": to_dict(protocol), "split": grid.split,
                        "voices": list(data.test.voices.ids), "faces": list(data.test.faces.ids)},
                       length=12)  # fmt: skip
    trials_path = out / "trials" / f"{tkey}.npz"
    rows: list[RowResult] = []
    for r in grid.rows:
        cfg = cfgs[r.name]
        row_dir = out / "rows" / r.name
        res_dir = row_dir / "result"
        fp = _fingerprint(cfg, protocol, grid)
        state_p = row_dir / "row.json"
        st = json.loads(state_p.read_text()) if state_p.is_file() else {}
        same = st.get("fingerprint") == fp
        trained = same and st.get("status") == "done" and Path(st.get("checkpoint", "")).is_file()
        if trained and st.get("figures") == FIGURES_VERSION \
                and (res_dir / "results.json").is_file() and trials_path.is_file():  # fmt: skip
            say(f"{r.name}: done already (skipped)")
            rows.append(RowResult(r.name, cfg.method, res_dir, True,
                                  st.get("train_s", 0.0), st.get("eval_s", 0.0)))  # fmt: skip
            continue
        if grid.shared_backbones:
            _link_features(row_dir, out / "features")
        row_dir.mkdir(parents=True, exist_ok=True)
        if trained:  # same model, older evaluation code: score it again, no retraining
            say(f"{r.name}: re-evaluating (figures of an older evaluation version)")
            ck, train_s = Path(st["checkpoint"]), float(st.get("train_s", 0.0))
        else:
            say(f"{r.name}: training {cfg.method} for {cfg.steps} steps")
            # resume only a crashed run of THIS config; a changed row starts afresh
            resume = not st or same
            atomic_write_json(state_p, {"fingerprint": fp, "status": "training"})
            t0 = time.time()
            tr = train(cfg, row_dir, get_method(cfg.method), resume=resume, data=data.train,
                       val_data=data.val, progress=progress, force=not resume)  # fmt: skip
            train_s = time.time() - t0
            ck = (
                tr.best_checkpoint
                if grid.checkpoint == "best" and tr.best_checkpoint
                else tr.last_checkpoint
            )
        t0 = time.time()
        method, model, mcfg, ckpt = load_trained(ck, get_method, cfg.device)
        v, f = embed_split_features(method, model, mcfg, data.test, row_dir / "features",
                                    cfg.device)  # fmt: skip
        ids = np.asarray(data.test.identities)
        meta = {"method": cfg.method, "row": r.name, "checkpoint": str(ck),
                "step": int(ckpt["step"])}  # fmt: skip
        ev = Embeddings(np.asarray(data.test.voices.ids), ids[data.test.voices.identity], v,
                        "voice", meta)  # fmt: skip
        ef = Embeddings(np.asarray(data.test.faces.ids), ids[data.test.faces.identity], f,
                        "face", meta)  # fmt: skip
        if trials_path.is_file():
            ts = TrialSet.load(trials_path)
        else:
            ts = make_trials(ev, ef, data.identities, protocol)
            trials_path.parent.mkdir(parents=True, exist_ok=True)
            ts.save(trials_path)
        res = evaluate(ev, ef, data.identities, protocol, trials=ts,
                       scorer=_scorer_of(method, model), command=command)  # fmt: skip
        res.save(res_dir)
        eval_s = time.time() - t0
        atomic_write_json(state_p, {"fingerprint": fp, "status": "done", "train_s": train_s,
                                    "eval_s": eval_s, "checkpoint": str(ck),
                                    "figures": FIGURES_VERSION,
                                    "config": to_dict(cfg)})  # fmt: skip
        rows.append(RowResult(r.name, cfg.method, res_dir, False, train_s, eval_s))
        say(f"{r.name}: trained in {train_s:.0f} s, evaluated in {eval_s:.0f} s")

    results = {rr.name: EvaluationResult.load(rr.result_dir, with_outcomes=True) for rr in rows}
    table = build_table(grid, rows, results, cfgs)
    table.extra = {
        "provenance": Provenance(
            command=command, seed=cfgs[grid.baseline].seed, config=to_dict(grid),
            inputs={"trials": TrialSet.load(trials_path).sha256},
        ).to_dict(),
        "protocol": to_dict(protocol),
        "shared_backbones": weights,
    }  # fmt: skip
    saved = table.to_dict()
    atomic_write_json(out / "benchmark.json", saved)
    atomic_write_text(out / "benchmark.md", grid_markdown(saved))
    try:
        _plot_one_to_n(table, out / "one_to_n.png")
    except Exception as exc:  # plotting is optional; the tables are the result
        log.warning("one_to_n.png not written: %s", exc)
    return table


# ----------------------------------------------------------------------------- table
def build_table(
    grid: BenchmarkGrid, rows: list[RowResult], results: dict[str, Any], cfgs: dict[str, Any]
) -> GridTable:
    """Per row: every column's cell (value, interval, anchors, the paired test against the
    baseline on the same trials) and the 1:n curve."""
    base = results[grid.baseline]
    out_rows = []
    for i, rr in enumerate(rows):
        res = results[rr.name]
        tests = {}
        if rr.name != grid.baseline:
            tests = {c.key: c for c in compare_results(res, base, n_boot=grid.n_boot, seed=i)}
        curve = {}
        for d in ("v2f", "f2v"):
            curve[d] = [
                {**asdict(c), "trials": c.n, "n": n}  # n = number of candidates
                for n in range(2, 101)
                if (m := Column("", _match(d, n)).metric(res)) is not None and (c := Cell.of(m))
            ]
        cfg = cfgs[rr.name]
        out_rows.append(
            TableRow(
                name=rr.name,
                cells=cells_of(res, COLUMNS, tests),
                trials_sha256=res.trials_hash,
                result=str(rr.result_dir),
                settings=[str(x) for x in next(r for r in grid.rows if r.name == rr.name).set],
                method=rr.method,
                loss=cfg.loss.name,
                scorer=str(res.summary.get("scorer") or ""),
                steps=cfg.steps,
                train_s=rr.train_s,
                eval_s=rr.eval_s,
                curve=curve,
            )
        )
    return GridTable(
        kind="methods",
        name=grid.name,
        baseline=grid.baseline,
        trials_sha256=base.trials_hash,
        columns=[c.label for c in COLUMNS],
        rows=out_rows,
        split=grid.split,
        warnings=sorted({w for r in results.values() for w in r.warnings}),
    )


def _plot_one_to_n(table: GridTable, path: Path) -> None:
    import matplotlib  # heavy and only for this figure: imported when drawing it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in table.rows:
        pts = r.curve.get("v2f", [])
        if not pts:
            continue
        n = [p["n"] for p in pts]
        ax.plot(n, [100 * p["value"] for p in pts], marker="o", label=r.name)
        if all(p["low"] is not None for p in pts):
            ax.fill_between(n, [100 * p["low"] for p in pts], [100 * p["high"] for p in pts],
                            alpha=0.15)  # fmt: skip
    pts0 = table.rows[0].curve.get("v2f", [])
    if pts0:
        ax.plot([p["n"] for p in pts0], [100 / p["n"] for p in pts0], "k--", label="chance")
    ax.set_xlabel("n (candidate faces)")
    ax.set_ylabel("1:n accuracy (%)")
    ax.set_title("1:n voice -> face matching")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


__all__ = [
    "BenchData",
    "evaluate_checkpoint",
    "BenchmarkGrid",
    "RowSpec",
    "load_grid",
    "run_benchmark",
    "build_table",
]
