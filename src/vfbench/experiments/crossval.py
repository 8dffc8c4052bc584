"""Identity-disjoint K-fold cross-validation of a training config on one corpus.

For a small real corpus (30-100 people) one train/val/test split leaves a handful of test
identities and an interval too wide to say anything. Cross-validation scores every
identity once: fold ``i`` trains on the other K-1 folds (less a val share), embeds its own
test identities with its own model and draws its trials among them. The trials of all
folds are then pooled into one trial set (every trial stays inside one fold, so every
score comes from a model that never saw either side) and evaluated once, giving one figure
per task with one identity-level interval (bootstrap over the identities of all folds).

Layout of ``out``::

    folds/fold<i>/manifest/        the fold's manifest (data.splits.kfold_split)
    folds/fold<i>/train/           vfbench train run (resumed / reused by hash)
    folds/fold<i>/embeddings/      voices.npz, faces.npz of the fold's test identities
    folds/fold<i>/fold.json        key (config + fold + manifest hash) and status
    pooled/trials.npz              the pooled trial set
    pooled/voices.npz, faces.npz   all folds' test embeddings (each from its fold's model)
    pooled/results.json ...        EvaluationResult of the pooled trials (vfbench report)
    crossval.json                  per-fold figures and the pooled headline figures

Retrieval is not pooled (a gallery would mix embeddings of different models); matching
and verification are. Pooled verification mixes the score scales of K models (as pooled
k-fold EERs in speaker recognition do); matching is unaffected, since each 1:n trial
compares scores of one model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.config import to_dict
from vfbench.data.manifest import Manifest, load_manifest
from vfbench.data.splits import kfold_split
from vfbench.errors import ConfigError
from vfbench.evaluate.api import evaluate, make_trials
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import EvaluationResult, Metric
from vfbench.evaluate.trials import TrialSet
from vfbench.methods import get_method
from vfbench.train.config import load_train_config
from vfbench.train.embed import embed_manifest, load_trained
from vfbench.train.loop import train
from vfbench.utils.io import atomic_write_json, stable_hash

POOLED_TASKS = ("match", "verify")


@dataclass
class FoldResult:
    fold: int
    identities: int
    checkpoint: Path
    status: str  # "ran" | "resumed" | "reused"
    acc_v2f_1to2: float | None


@dataclass
class CrossvalResult:
    out_dir: Path
    folds: list[FoldResult]
    result: EvaluationResult
    warnings: list[str] = field(default_factory=list)


def crossval_protocol(min_fold_identities: int, base: Protocol | None = None) -> Protocol:
    """Matching + verification only (poolable); 1:n sizes that every fold can fill."""
    p = base or Protocol.quick()
    p.tasks = [t for t in p.tasks if t in POOLED_TASKS] or list(POOLED_TASKS)
    p.split = ""
    p.matching.n_values = [n for n in p.matching.n_values if n <= min_fold_identities] or [2]
    p.matching.constrained_n = [n for n in p.matching.constrained_n if n <= min_fold_identities]
    return p


def pool_trials(parts: Sequence[TrialSet]) -> tuple[TrialSet, list[str]]:
    """One trial set from per-fold trial sets over disjoint items: item lists are
    concatenated and every index array shifted by its fold's offset. Only keys present in
    every fold (with equal metadata) are kept; the others are named in the warnings."""
    if not parts:
        raise ConfigError("no folds to pool")
    keys = [k for k in parts[0].keys() if all(k in p.groups for p in parts)]
    warns = sorted({k for p in parts for k in p.keys()} - set(keys))
    warnings = [f"{k}: not in every fold (too few identities in some fold): not pooled"
                for k in warns]  # fmt: skip
    out = TrialSet(
        np.concatenate([p.voice_ids for p in parts]),
        np.concatenate([p.face_ids for p in parts]),
        np.concatenate([p.voice_identities for p in parts]),
        np.concatenate([p.face_identities for p in parts]),
    )
    out.config.update({"generator": "vfbench.crossval.pool_trials", "folds": len(parts),
                       "fold_trials": [p.sha256 for p in parts], "warnings": warnings})  # fmt: skip
    v_off = np.cumsum([0] + [len(p.voice_ids) for p in parts[:-1]])
    f_off = np.cumsum([0] + [len(p.face_ids) for p in parts[:-1]])
    for key in keys:
        meta = parts[0].meta(key)
        task, d = meta.get("task"), meta.get("direction")
        q_is_voice = d == "v2f"
        arrays: dict[str, list[np.ndarray]] = {}
        for p, vo, fo in zip(parts, v_off, f_off, strict=True):
            if p.meta(key) != meta:
                raise ConfigError(f"trial group {key!r} differs between folds: cannot pool")
            for name, a in p.groups[key].items():
                if task in ("match", "joint_match") and name in ("query", "cands"):
                    shift = vo if (name == "query") == q_is_voice else fo
                elif task == "verify" and name in ("voice", "face"):
                    shift = vo if name == "voice" else fo
                elif name == "label":
                    shift = 0
                else:
                    raise ConfigError(f"trial group {key!r} array {name!r} cannot be pooled")
                arrays.setdefault(name, []).append(a + shift if shift else a)
        out.add(key, meta, {n: np.concatenate(v) for n, v in arrays.items()})
    return out, warnings


def _concat(parts: Sequence[Embeddings], modality: str, meta: dict[str, Any]) -> Embeddings:
    return Embeddings(
        np.concatenate([e.ids for e in parts]),
        np.concatenate([e.identities for e in parts]),
        np.concatenate([e.vectors for e in parts]).astype(np.float32),
        modality,
        meta,
    )


def run_crossval(
    config: str | Path,
    manifest: str | Path,
    cache: str | Path,
    out: str | Path,
    folds: int = 5,
    seed: int = 0,
    val_fraction: float = 0.1,
    overrides: Sequence[str] = (),
    protocol: Protocol | None = None,
    checkpoint: str = "best",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> CrossvalResult:
    """Train, embed and score every fold of ``manifest``; pool the trials; evaluate once.

    ``val_fraction`` of each fold's training people validate it; 0 (tiny corpora) means
    no val split: validation (and ``best.pt``) then use the training people themselves.

    A fold whose key (resolved config, fold assignment, manifest content) matches a
    finished fold is reused; an interrupted fold with the same key resumes; a fold whose
    key changed is retrained from scratch (its previous run is replaced).
    """

    say = log or (lambda _m: None)
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint must be 'best' or 'last', got {checkpoint!r}")
    root = Path(out)
    m = load_manifest(manifest)
    fold_ms = [kfold_split(m, folds, i, seed, val_fraction) for i in range(folds)]
    min_test = min(sum(x.split == "test" for x in fm.identities) for fm in fold_ms)
    proto = crossval_protocol(min_test, protocol)
    m_hash = _manifest_hash(m)
    results: list[FoldResult] = []
    emb_v: list[Embeddings] = []
    emb_f: list[Embeddings] = []
    trial_parts: list[TrialSet] = []
    for i, fm in enumerate(fold_ms):
        fdir = root / "folds" / f"fold{i}"
        mdir = fm.save(fdir / "manifest")
        # val_fraction 0 (tiny corpora): validate (and pick best.pt) on the training people
        no_val = ["data.val_split=train"] if val_fraction == 0 else []
        cfg = load_train_config(
            str(config), [*overrides, *no_val, f"data.manifest={mdir}", f"data.cache={cache}"]
        )
        cfg.name = f"{cfg.name}_fold{i}"
        key = stable_hash(
            {"config": to_dict(cfg), "fold": fm.meta.get("split"), "manifest": m_hash}
        )
        state_p = fdir / "fold.json"
        st = json.loads(state_p.read_text()) if state_p.is_file() else {}
        same = st.get("key") == key
        run_dir = fdir / "train"
        ck = run_dir / f"{checkpoint}.pt"
        if same and st.get("status") == "done" and ck.is_file():
            status = "reused"
            say(f"fold {i + 1}/{folds}: unchanged, reusing {ck}")
        else:
            status = "resumed" if same else "ran"
            n_test = sum(x.split == "test" for x in fm.identities)
            say(f"fold {i + 1}/{folds}: training on {len(fm.identities) - n_test} identities, "
                f"testing on {n_test}")  # fmt: skip
            atomic_write_json(state_p, {"key": key, "status": "training"})
            res = train(cfg, run_dir, get_method(cfg.method), resume=same, force=not same,
                        progress=progress)  # fmt: skip
            if checkpoint == "best" and res.best_checkpoint is None:
                ck = res.last_checkpoint
            atomic_write_json(state_p, {"key": key, "status": "done", "checkpoint": ck.name})
        if not ck.is_file():
            ck = run_dir / "last.pt"
        method, model, _, _ = load_trained(ck, get_method)
        if method.scorer(model) is not None:
            raise ConfigError(
                f"method {cfg.method!r} scores pairs with a learned scorer; cross-validation "
                "pools cosine-scored embeddings only"
            )
        v, f = embed_manifest(ck, mdir, cache, "test", progress=progress, methods=get_method)
        v.save(fdir / "embeddings" / "voices.npz")
        f.save(fdir / "embeddings" / "faces.npz")
        ts = make_trials(v, f, m, proto)
        fold_eval = evaluate(v, f, m, proto, trials=ts)
        acc = _v2f_1to2(fold_eval)
        results.append(FoldResult(i, int(np.unique(v.identities).size), ck, status, acc))
        say(f"fold {i + 1}/{folds}: 1:2 v2f accuracy {acc if acc is None else round(acc, 4)}")
        emb_v.append(v)
        emb_f.append(f)
        trial_parts.append(ts)
    pooled, warnings = pool_trials(trial_parts)
    meta = {"crossval": {"folds": folds, "seed": seed, "config": str(config),
                         "checkpoints": [str(r.checkpoint) for r in results]}}  # fmt: skip
    all_v, all_f = _concat(emb_v, "voice", meta), _concat(emb_f, "face", meta)
    pdir = root / "pooled"
    pdir.mkdir(parents=True, exist_ok=True)
    pooled.save(pdir / "trials.npz")
    all_v.save(pdir / "voices.npz")
    all_f.save(pdir / "faces.npz")
    say(f"pooled: {all_v.ids.size} voices, {all_f.ids.size} faces of "
        f"{np.unique(all_v.identities).size} identities; evaluating")  # fmt: skip
    result = evaluate(all_v, all_f, m, proto, trials=pooled, command="vfbench crossval")
    result.warnings.extend(warnings)
    result.save(pdir)
    summary = {
        "folds": [
            {"fold": r.fold, "identities": r.identities, "checkpoint": str(r.checkpoint),
             "status": r.status, "acc_v2f_1to2": r.acc_v2f_1to2}
            for r in results
        ],
        "pooled_acc_v2f_1to2": _estimate(result),
        "identities": int(np.unique(all_v.identities).size),
        "warnings": warnings,
    }  # fmt: skip
    atomic_write_json(root / "crossval.json", summary)
    return CrossvalResult(root, results, result, warnings)


def _manifest_hash(m: Manifest) -> str:
    return stable_hash(
        {
            "identities": [to_dict(i) for i in m.identities],
            "voices": [v.id for v in m.voices],
            "faces": [f.id for f in m.faces],
        }
    )


def _headline(res: EvaluationResult) -> Metric | None:
    """Unconstrained 1:2 voice->face matching over all identities (the paper's headline)."""
    rows = res.find(task="match", direction="v2f", n=2, constraint="U", group="all")
    return rows[0] if rows else None


def _v2f_1to2(res: EvaluationResult) -> float | None:
    row = _headline(res)
    return None if row is None else float(row.value)


def _estimate(res: EvaluationResult) -> dict[str, Any] | None:
    """The headline figure with its preferred interval (identity-level bootstrap)."""
    row = _headline(res)
    if row is None:
        return None
    iv = row.interval()
    return {
        "value": float(row.value),
        "low": None if iv is None else float(iv.low),
        "high": None if iv is None else float(iv.high),
        "interval": next((k for k, v in row.intervals.items() if v is iv), None),
        "trials": int(row.n),
        "identities": int(row.n_identities),
    }
