"""K-fold cross-validation (experiments/crossval.py): pooling keeps every trial inside one
fold, scores each fold with its own model, and gives one identity-level interval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vfbench.errors import ConfigError
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.trials import TrialSet
from vfbench.experiments.crossval import pool_trials


def fold_trials(tag: str, n_items: int, key: str, meta: dict, arrays: dict) -> TrialSet:
    ids = [f"{tag}{i}" for i in range(n_items)]
    ts = TrialSet(ids, [f"F{x}" for x in ids], ids, ids)
    ts.add(key, meta, arrays)
    return ts


def test_pool_trials_shifts_each_fold_by_its_item_offsets() -> None:
    meta = {"task": "match", "direction": "f2v", "n": 2, "constraint": "U"}
    a = fold_trials(
        "a", 3, "m", meta, {"query": np.array([0, 2]), "cands": np.array([[0, 1], [2, 0]])}
    )
    b = fold_trials("b", 4, "m", meta, {"query": np.array([3]), "cands": np.array([[3, 1]])})
    vmeta = {"task": "verify", "direction": "v2f", "constraint": "U"}
    for ts, arr in ((a, [0, 1]), (b, [2, 3])):
        ts.add("v", vmeta, {"voice": np.array(arr), "face": np.array(arr[::-1]),
                            "label": np.array([True, False])})  # fmt: skip
    pooled, warnings = pool_trials([a, b])
    assert warnings == [] and list(pooled.voice_ids) == [*a.voice_ids, *b.voice_ids]
    g = pooled.groups["m"]
    assert g["query"].tolist() == [0, 2, 6] and g["cands"].tolist() == [[0, 1], [2, 0], [6, 4]]
    v = pooled.groups["v"]
    assert v["voice"].tolist() == [0, 1, 5, 6] and v["face"].tolist() == [1, 0, 6, 5]
    assert v["label"].tolist() == [True, False, True, False]
    # the pooled ids behind every index are the folds' own ids (nothing crosses a fold)
    assert pooled.face_ids[g["query"]].tolist() == ["Fa0", "Fa2", "Fb3"]


def test_pool_trials_drops_keys_missing_in_a_fold_with_a_warning() -> None:
    meta = {"task": "match", "direction": "v2f", "n": 2, "constraint": "U"}
    arr = {"query": np.array([0]), "cands": np.array([[0, 1]])}
    a = fold_trials("a", 2, "m2", meta, arr)
    a.add("m3", {**meta, "n": 3}, {"query": np.array([0]), "cands": np.array([[0, 1, 1]])})
    b = fold_trials("b", 2, "m2", meta, arr)
    pooled, warnings = pool_trials([a, b])
    assert pooled.keys() == ["m2"] and "m3" in warnings[0]
    c = fold_trials("c", 2, "m2", {**meta, "constraint": "G"}, arr)
    with pytest.raises(ConfigError, match="differs between folds"):
        pool_trials([a, c])


@pytest.mark.slow
def test_crossval_end_to_end_on_a_synthetic_corpus(tmp_path: Path, repo_dir: Path) -> None:
    from vfbench.cli import main
    from vfbench.data.manifest import load_manifest
    from vfbench.evaluate.results import EvaluationResult
    from vfbench.experiments.crossval import run_crossval

    assert main(["synth", "--out", str(tmp_path / "synth"), "--identities", "24",
                 "--faces-per-id", "2", "--voices-per-id", "2", "-q"]) == 0  # fmt: skip
    assert main(["preprocess", "run", str(tmp_path / "synth" / "manifest"), "--out",
                 str(tmp_path / "cache"), "--set", "face.detector=none", "-q"]) == 0  # fmt: skip
    over = ["steps=20", "pretrain.enabled=false", "sampler.P=8", "val.every=0",
            "val.n_trials=200", "optim.milestones=[15]", "log.tensorboard=false"]  # fmt: skip
    args = (repo_dir / "configs" / "trinet_cpu.yaml", tmp_path / "synth" / "manifest",
            tmp_path / "cache", tmp_path / "cv")  # fmt: skip
    res = run_crossval(*args, folds=3, overrides=over, progress=False)
    assert [f.status for f in res.folds] == ["ran"] * 3
    # one identity-level interval over all 24 identities, pooled from the folds' trials
    row = res.result.get(task="match", direction="v2f", n=2, constraint="U", group="all")
    assert row.n_identities == 24 and row.interval().method == "bootstrap-identity"
    assert row.interval().low <= row.value <= row.interval().high
    accs = [f.acc_v2f_1to2 for f in res.folds]
    assert row.value == pytest.approx(np.mean(accs), abs=1e-9)  # equal trials per fold
    trials = TrialSet.load(tmp_path / "cv" / "pooled" / "trials.npz")
    fold_of = {}
    for i in range(3):
        fm = load_manifest(tmp_path / "cv" / "folds" / f"fold{i}" / "manifest")
        fold_of.update({x.id: i for x in fm.identities if x.split == "test"})
        # each fold's items in the pooled file carry that fold's own model's vectors
        own = Embeddings.load(tmp_path / "cv" / "folds" / f"fold{i}" / "embeddings" / "voices.npz")
        pooled_v = Embeddings.load(tmp_path / "cv" / "pooled" / "voices.npz")
        pos = {x: k for k, x in enumerate(pooled_v.ids)}
        assert np.array_equal(pooled_v.vectors[[pos[x] for x in own.ids]], own.vectors)
    assert len(fold_of) == 24
    g = trials.groups["match/v2f/2/U"] if "match/v2f/2/U" in trials.groups else next(
        trials.groups[k] for k in trials.keys() if trials.meta(k).get("n") == 2
        and trials.meta(k).get("direction") == "v2f" and trials.meta(k).get("constraint") == "U"
    )  # fmt: skip
    q_fold = np.array([fold_of[x] for x in trials.voice_identities[g["query"]]])
    c_fold = np.vectorize(fold_of.get)(trials.face_identities[g["cands"]])
    assert (c_fold == q_fold[:, None]).all()  # no trial mixes two folds' models
    summary = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    assert summary["identities"] == 24 and summary["pooled_acc_v2f_1to2"]["value"] == row.value
    assert EvaluationResult.load(tmp_path / "cv" / "pooled").find(task="match")
    # a rerun reuses every fold and gives the same figure
    again = run_crossval(*args, folds=3, overrides=over, progress=False)
    assert [f.status for f in again.folds] == ["reused"] * 3
    assert again.result.get(task="match", direction="v2f", n=2, constraint="U",
                            group="all").value == row.value  # fmt: skip
