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

import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.config import dump_yaml, from_dict, load_config, to_dict
from vfbench.errors import ConfigError
from vfbench.utils.io import atomic_write_json, atomic_write_text, stable_hash

log = logging.getLogger("vfbench.methods")

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

#: Table columns: (label, trial-group key, metric name). ``{d}`` = direction.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("1:2 U", "match/{d}/n=2/U", "accuracy"),
    ("1:2 G", "match/{d}/n=2/G", "accuracy"),
    ("1:3 U", "match/{d}/n=3/U", "accuracy"),
    ("1:5 U", "match/{d}/n=5/U", "accuracy"),
    ("1:10 U", "match/{d}/n=10/U", "accuracy"),
    ("mAP", "retrieve/{d}/paper", "mAP"),
    ("AUC", "verify/{d}/U", "auc"),
)


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

    train: Any
    val: Any
    test: Any
    identities: Any = None
    manifest: str = ""
    cache: str = ""


def load_bench_data(
    manifest: str, cache: str, split: str, train_cfg: Any
) -> BenchData:  # pragma: no cover - exercised by the slow end-to-end test
    from vfbench.data.manifest import load_manifest
    from vfbench.train.data import load_split

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
    from vfbench.data.synthetic import generate_corpus, load_synth_config
    from vfbench.preprocess.config import PreprocessConfig
    from vfbench.preprocess.run import preprocess

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
def row_config(grid: BenchmarkGrid, row: RowSpec, base: Path | None, data: BenchData) -> Any:
    """The resolved TrainConfig of ``row`` (grid-wide overrides, then the row's)."""
    from vfbench.train.config import load_train_config

    path = resolve_config_path(row.config, base)
    sets = list(grid.set)
    if data.manifest:
        sets += [f"data.manifest={data.manifest}", f"data.cache={data.cache}"]
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


def shared_backbones(cfg: Any, data: BenchData, out: Path, progress: bool) -> dict[str, str]:
    """Backbone weights shared by every row: the baseline config's backbones, pretrained
    by its ``pretrain`` stage if enabled, else its initial weights (seeded)."""
    import torch

    from vfbench.train.loop import build_backbone, pretrain_backbone, seed_everything

    paths = {}
    for mod in ("voice", "face"):
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
        import io

        from vfbench.utils.io import atomic_write_bytes

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
    method: Any, model: Any, cfg: Any, data: Any, directory: Path, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """(voice, face) test embeddings; frozen backbones go through the feature cache."""
    import torch

    from vfbench.train.embed import embed_data
    from vfbench.train.features import cached_features

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


def _scorer_of(method: Any, model: Any) -> Any:
    sc = method.scorer(model)
    return sc if sc is not None else getattr(method, "distance", "cosine")


# ------------------------------------------------------------------- one checkpoint
def evaluate_checkpoint(
    checkpoint: str | Path,
    data: Any,
    identities: Any = None,
    protocol: Any = None,
    trials: Any = None,
    device: str = "cpu",
    command: str = "",
) -> tuple[Any, Any]:
    """Evaluate a trained checkpoint of ANY method on split ``data`` (a SplitData) with the
    method's own scoring (pair matcher for SVHF / Horiguchi, L2 for Kim, else cosine).

    Returns ``(EvaluationResult, TrialSet)``; pass ``trials`` (e.g. another run's
    ``trials.npz``) to score on the same trials. ``vfbench embed`` + ``vfbench evaluate``
    compare embeddings by cosine, which is wrong for the matcher methods: use this (or
    ``vfbench methods evaluate``) for them.
    """
    from vfbench.evaluate.api import evaluate, make_trials
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.protocol import Protocol
    from vfbench.train.embed import embed_data, load_trained

    method, model, cfg, ckpt = load_trained(checkpoint, device)
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


def _fingerprint(cfg: Any, protocol: Any, grid: BenchmarkGrid) -> str:
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
) -> dict[str, Any]:
    """Train, evaluate and compare every row of ``grid`` into ``out``; returns the table
    as a dict (also written to ``benchmark.json`` / ``benchmark.md``)."""
    from vfbench.evaluate.api import evaluate, make_trials
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.protocol import Protocol
    from vfbench.evaluate.results import EvaluationResult
    from vfbench.evaluate.trials import TrialSet
    from vfbench.train.embed import load_trained
    from vfbench.train.loop import train
    from vfbench.train.methods import get_method

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
        first = row_config(grid, grid.rows[0], grid_dir, BenchData(None, None, None,
                                                                   manifest=manifest, cache=cache))  # fmt: skip
        data = load_bench_data(manifest, cache, grid.split, first)
    atomic_write_text(out / "grid.yaml", dump_yaml(grid))

    cfgs = {r.name: row_config(grid, r, grid_dir, data) for r in grid.rows}
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
            c.voice.weights, c.face.weights = weights["voice"], weights["face"]
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
        if same and st.get("status") == "done" and (res_dir / "results.json").is_file() \
                and trials_path.is_file():  # fmt: skip
            say(f"{r.name}: done already (skipped)")
            rows.append(RowResult(r.name, cfg.method, res_dir, True,
                                  st.get("train_s", 0.0), st.get("eval_s", 0.0)))  # fmt: skip
            continue
        say(f"{r.name}: training {cfg.method} for {cfg.steps} steps")
        if grid.shared_backbones:
            _link_features(row_dir, out / "features")
        row_dir.mkdir(parents=True, exist_ok=True)
        # resume only a crashed run of THIS config; a changed row starts afresh
        resume = not st or same
        atomic_write_json(state_p, {"fingerprint": fp, "status": "training"})
        t0 = time.time()
        tr = train(cfg, row_dir, resume=resume, data=data.train, val_data=data.val,
                   progress=progress)  # fmt: skip
        train_s = time.time() - t0
        ck = (
            tr.best_checkpoint
            if grid.checkpoint == "best" and tr.best_checkpoint
            else tr.last_checkpoint
        )
        t0 = time.time()
        method, model, mcfg, ckpt = load_trained(ck, cfg.device)
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
                                    "config": to_dict(cfg)})  # fmt: skip
        rows.append(RowResult(r.name, cfg.method, res_dir, False, train_s, eval_s))
        say(f"{r.name}: trained in {train_s:.0f} s, evaluated in {eval_s:.0f} s")

    results = {rr.name: EvaluationResult.load(rr.result_dir, with_outcomes=True) for rr in rows}
    table = build_table(grid, rows, results, cfgs)
    from vfbench.utils.provenance import Provenance

    table["provenance"] = Provenance(
        command=command, seed=cfgs[grid.baseline].seed, config=to_dict(grid),
        inputs={"trials": TrialSet.load(trials_path).sha256},
    ).to_dict()  # fmt: skip
    table["protocol"] = to_dict(protocol)
    table["shared_backbones"] = weights
    atomic_write_json(out / "benchmark.json", table)
    atomic_write_text(out / "benchmark.md", table_markdown(table))
    try:
        _plot_one_to_n(table, out / "one_to_n.png")
    except Exception as exc:  # plotting is optional; the tables are the result
        log.warning("one_to_n.png not written: %s", exc)
    return table


# ----------------------------------------------------------------------------- table
def _cell(res: Any, key: str, name: str) -> dict[str, Any] | None:
    rows = [m for m in res.metrics if m.group == "all" and m.name == name and
            _metric_key(m) == key]  # fmt: skip
    if not rows:
        return None
    m = rows[0]
    iv = m.interval()
    return {
        "value": m.value,
        "low": iv.low if iv else None,
        "high": iv.high if iv else None,
        "interval": iv.method if iv else "",
        "n": m.n,
        "chance": m.chance,
        "gender_baseline": m.gender_baseline,
    }


def _metric_key(m: Any) -> str:
    if m.key:
        return str(m.key)
    p = m.params
    if m.task == "match" and "n" in p:
        return f"match/{m.direction}/n={p['n']}/{p.get('constraint', 'U')}"
    return ""


def build_table(
    grid: BenchmarkGrid, rows: list[RowResult], results: dict[str, Any], cfgs: dict[str, Any]
) -> dict[str, Any]:
    """Per row: every column's value + interval, the 1:n curve, and the paired tests
    against the baseline (same trials)."""
    from vfbench.report.compare import compare_results

    base = results[grid.baseline]
    out_rows = []
    for i, rr in enumerate(rows):
        res = results[rr.name]
        cells: dict[str, Any] = {}
        for d in ("v2f", "f2v"):
            for label, key, name in COLUMNS:
                cells[f"{d} {label}"] = _cell(res, key.format(d=d), name)
        curve = {}
        for d in ("v2f", "f2v"):
            curve[d] = [
                {**c, "trials": c["n"], "n": n}  # n = number of candidates
                for n in range(2, 101)
                if (c := _cell(res, f"match/{d}/n={n}/U", "accuracy")) is not None
            ]
        paired: dict[str, Any] = {}
        if rr.name != grid.baseline:
            cmp = {c.key: c for c in compare_results(res, base, n_boot=grid.n_boot, seed=i)}
            for d in ("v2f", "f2v"):
                for label, key, _ in COLUMNS:
                    row = cmp.get(key.format(d=d))
                    if row is not None:
                        paired[f"{d} {label}"] = row.to_dict()
        cfg = cfgs[rr.name]
        out_rows.append(
            {
                "name": rr.name,
                "method": rr.method,
                "loss": cfg.loss.name,
                "steps": cfg.steps,
                "scorer": res.summary.get("scorer"),
                "train_s": rr.train_s,
                "eval_s": rr.eval_s,
                "cells": cells,
                "curve": curve,
                "paired_vs_baseline": paired,
            }
        )
    return {
        "name": grid.name,
        "baseline": grid.baseline,
        "split": grid.split,
        "trials_hash": base.trials_hash,
        "columns": [c[0] for c in COLUMNS],
        "rows": out_rows,
        "warnings": sorted({w for r in results.values() for w in r.warnings}),
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _fmt_cell(c: dict[str, Any] | None) -> str:
    if c is None:
        return "-"
    if c["low"] is None:
        return _pct(c["value"])
    return f"{_pct(c['value'])} [{_pct(c['low'])}, {_pct(c['high'])}]"


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "p=-"
    return "p<0.001" if p < 1e-3 else f"p={p:.3f}"


def table_markdown(table: dict[str, Any]) -> str:
    """The paper-style comparison (Markdown): values with 95% intervals, then the paired
    differences against the baseline with p-values, then the 1:n curve."""
    cols = table["columns"]
    base = table["baseline"]
    lines = [f"# Method comparison: {table['name']} ({table['split']} split)", ""]
    for d, title in (("v2f", "voice -> face"), ("f2v", "face -> voice")):
        lines += [
            f"## {title}: value % [95% interval] (identity bootstrap where available)",
            "",
            "| method | " + " | ".join(cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        for r in table["rows"]:
            lines.append(
                f"| {r['name']} | "
                + " | ".join(_fmt_cell(r["cells"].get(f"{d} {c}")) for c in cols)
                + " |"
            )
        lines.append("")
        lines += [
            f"### {title}: difference to {base}, % [95% paired-bootstrap interval], "
            "p (McNemar for matching, paired bootstrap otherwise)",
            "",
            "| method | " + " | ".join(cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        for r in table["rows"]:
            if r["name"] == base:
                continue
            cells = []
            for c in cols:
                p = r["paired_vs_baseline"].get(f"{d} {c}")
                if p is None:
                    cells.append("-")
                    continue
                diff = p["diff"]
                pv = p["p_mcnemar"] if p["p_mcnemar"] is not None else p["p_bootstrap"]
                sign = "+" if (diff["value"] or 0) >= 0 else ""
                cells.append(
                    f"{sign}{_pct(diff['value'])} [{_pct(diff['low'])}, {_pct(diff['high'])}] "
                    f"{_fmt_p(pv)}"
                )
            lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
        lines.append("")
    ns = sorted({p["n"] for r in table["rows"] for p in r["curve"]["v2f"]})
    if ns:
        lines += [
            "## 1:n matching, voice -> face (accuracy %, Fig. 4a)",
            "",
            "| method | " + " | ".join(f"n={n}" for n in ns) + " |",
            "|---|" + "---|" * len(ns),
        ]
        for r in table["rows"]:
            by_n = {p["n"]: p for p in r["curve"]["v2f"]}
            lines.append(
                f"| {r['name']} | "
                + " | ".join(_pct(by_n[n]["value"]) if n in by_n else "-" for n in ns)
                + " |"
            )
        lines.append("")
    first = table["rows"][0]["cells"]
    anchors = []
    for c in ("v2f 1:2 U", "v2f 1:2 G", "v2f AUC", "v2f mAP"):
        x = first.get(c)
        if x:
            anchors.append(
                f"{c}: chance {_pct(x['chance'])}, gender-only {_pct(x['gender_baseline'])}"
            )
    lines += ["Anchors (same trials): " + "; ".join(anchors) + ".", ""]
    lines += [
        "| method | loss | scorer | steps | train s | eval s |",
        "|---|---|---|---|---|---|",
    ]
    for r in table["rows"]:
        lines.append(
            f"| {r['name']} | {r['loss']} | {r['scorer']} | {r['steps']} | "
            f"{r['train_s']:.0f} | {r['eval_s']:.0f} |"
        )
    lines += ["", f"Trials: sha256 {table['trials_hash'][:16]} (shared by every row)."]
    if table.get("warnings"):
        lines += ["", "Warnings:", *[f"- {w}" for w in table["warnings"]]]
    return "\n".join(lines) + "\n"


def _plot_one_to_n(table: dict[str, Any], path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vfbench.utils.io import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in table["rows"]:
        pts = r["curve"]["v2f"]
        if not pts:
            continue
        n = [p["n"] for p in pts]
        ax.plot(n, [100 * p["value"] for p in pts], marker="o", label=r["name"])
        if all(p["low"] is not None for p in pts):
            ax.fill_between(n, [100 * p["low"] for p in pts], [100 * p["high"] for p in pts],
                            alpha=0.15)  # fmt: skip
    pts0 = table["rows"][0]["curve"]["v2f"]
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
    "table_markdown",
]
