"""Training loop: learning on tiny data, exact resume after a crash, logs and checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from toy import toy_split

from vfbench.errors import CheckpointError, ConfigError
from vfbench.methods import get_method
from vfbench.train.checkpoint import load_checkpoint
from vfbench.train.config import load_train_config
from vfbench.train.loop import lr_factor, train

BASE = [
    "sampler.P=8",
    "head.dim=16",
    "head.scale=8",
    "val.n_trials=4000",
    "log.progress=false",
    "log.tensorboard=false",
    "threads=1",
    "voice.kwargs.n_freq=16",
]
TRINET = get_method("trinet")


def cfg(*over: str):
    return load_train_config(None, [*BASE, *over])


@pytest.fixture(scope="module")
def splits():
    return toy_split(32, 4, seed=0), toy_split(16, 4, seed=1)


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_tiny_training_learns_the_shared_signal(splits, tmp_path: Path) -> None:
    tr, va = splits
    c = cfg("steps=120", "val.every=60", "optim.milestones=[90]", "checkpoint_every=60",
            "face.frozen=true")  # fmt: skip
    res = train(c, tmp_path, TRINET, data=tr, val_data=va)
    first = sum(loss for _, loss in res.losses[:10]) / 10
    last = sum(loss for _, loss in res.losses[-10:]) / 10
    assert last < 0.5 * first
    v = res.validations[-1]
    assert v["low"] > 0.5 and v["acc"] > 0.7  # interval excludes chance
    assert res.best_value == max(r["acc"] for r in res.validations)
    # logs and checkpoints
    assert [r["step"] for r in rows(tmp_path / "val.jsonl")] == [60, 120]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("step,loss")
    ck = load_checkpoint(tmp_path / "last.pt")
    assert ck["step"] == 120 and ck["feature_mode"] == ["voice", "face"]
    assert load_checkpoint(tmp_path / "best.pt")["best"] == res.best_value
    # learning-rate schedule: head LR dropped by 10x at step 90
    lrs = {r["step"]: r["lr_head"] for r in rows(tmp_path / "metrics.jsonl")}
    assert lrs[90] == pytest.approx(1e-3) and lrs[100] == pytest.approx(1e-4)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes left no temp files


def test_resume_after_crash_continues_the_same_loss_curve(
    splits, tmp_path: Path, crash_after_step
) -> None:
    tr, va = splits
    # face backbone trained (inputs mode), voice frozen (feature mode for voice only)
    over = ("steps=24", "checkpoint_every=8", "log.every=1", "val.every=12", "face.lr=1e-3")
    train(cfg(*over), tmp_path / "a", TRINET, data=tr, val_data=va)
    crash_after_step(19)
    with pytest.raises(RuntimeError, match="simulated crash after step 19"):
        train(cfg(*over), tmp_path / "b", TRINET, data=tr, val_data=va)
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 16
    train(cfg(*over), tmp_path / "b", TRINET, data=tr, val_data=va, resume=True)
    a, b = rows(tmp_path / "a" / "metrics.jsonl"), rows(tmp_path / "b" / "metrics.jsonl")
    assert [r["step"] for r in b] == list(range(1, 25))  # rows 17-19 of the crash dropped
    assert [r["loss"] for r in a] == [r["loss"] for r in b]  # bit-identical curve
    assert rows(tmp_path / "a" / "val.jsonl") == rows(tmp_path / "b" / "val.jsonl")
    wa = load_checkpoint(tmp_path / "a" / "last.pt")["model"]
    wb = load_checkpoint(tmp_path / "b" / "last.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_config_errors_name_the_culprit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'sampler.Q'"):
        cfg("sampler.Q=3")
    with pytest.raises(ConfigError, match="milestones must be increasing"):
        cfg("optim.milestones=[5,3]")
    with pytest.raises(ConfigError, match="gender_balance needs an even P"):
        cfg("sampler.gender_balance=true", "sampler.P=7")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: 10\nhead: {scale: -1}\n")
    with pytest.raises(ConfigError, match="bad.yaml.*head.scale"):
        load_train_config(str(bad))


def test_off_the_shelf_encoder_needs_feature_mode(splits, tmp_path: Path) -> None:
    tr, va = splits
    c = cfg("steps=2", "voice.name=resemblyzer", "voice.kwargs={}", "feature_mode=false")
    with pytest.raises(ConfigError, match="resemblyzer.*feature_mode"):
        train(c, tmp_path, TRINET, data=tr, val_data=va)


def test_resume_refuses_a_foreign_checkpoint(splits, tmp_path: Path) -> None:
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="last.pt"):
        train(cfg("steps=2"), tmp_path, TRINET, data=splits[0], val_data=splits[1], resume=True)


def test_lr_factor_is_the_papers_schedule() -> None:
    ms = [20000, 40000, 60000]
    got = [1e-3 * lr_factor(s, ms, 0.1) for s in (0, 19999, 20000, 45000, 60000, 69999)]
    assert got == pytest.approx([1e-3, 1e-3, 1e-4, 1e-5, 1e-6, 1e-6])


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from toy import toy_split
        from vfbench.methods import get_method
        from vfbench.train import loop
        from vfbench.train.config import load_train_config
        if len(sys.argv) > 2:  # fault injection: SIGKILL right after step N is logged
            logged, kill_at = loop._Logger.step, int(sys.argv[2])
            def step(self, row):
                logged(self, row)
                if row["step"] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            loop._Logger.step = step
        c = load_train_config(None, {BASE!r} + ["steps=20", "checkpoint_every=5",
            "log.every=1", "val.every=0", "face.lr=1e-3"])
        loop.train(c, sys.argv[1], get_method("trinet"), resume=True,
                   data=toy_split(32, 4), val_data=toy_split(16, 4, 1))
        """)
    )
    subprocess.run([sys.executable, script, tmp_path / "a"], check=True)
    p = subprocess.run([sys.executable, script, tmp_path / "b", "13"])
    assert p.returncode == -9
    subprocess.run([sys.executable, script, tmp_path / "b"], check=True)
    a, b = rows(tmp_path / "a" / "metrics.jsonl"), rows(tmp_path / "b" / "metrics.jsonl")
    assert [r["loss"] for r in a] == [r["loss"] for r in b]


def test_pretrain_stage_feeds_the_backbones(splits, tmp_path: Path) -> None:
    tr, va = splits
    c = cfg("steps=4", "val.every=0", "pretrain.enabled=true", "pretrain.steps=5",
            "pretrain.batch_size=16", "pretrain.gender_weight=1.0", "face.frozen=true")  # fmt: skip
    train(c, tmp_path, TRINET, data=tr, val_data=va)
    model = load_checkpoint(tmp_path / "last.pt")["model"]
    for mod in ("voice", "face"):
        (p,) = (tmp_path / "pretrain").glob(f"{mod}_*.pt")
        sd = torch.load(p, weights_only=True)
        assert sd and all(torch.equal(v, model[f"{mod}_backbone.{k}"]) for k, v in sd.items())
    # a second run (same config and inputs) reuses the pretrained files instead of retraining
    (face_pt,) = (tmp_path / "pretrain").glob("face_*.pt")
    before = face_pt.stat().st_mtime_ns
    train(c, tmp_path, TRINET, data=tr, val_data=va, force=True)
    assert face_pt.stat().st_mtime_ns == before


def test_nationality_labels_come_from_the_manifest(splits) -> None:
    from types import SimpleNamespace

    from vfbench.train.loop import _nationality_labels

    tr, _ = splits
    assert _nationality_labels(tr) is None  # in-memory data: no manifest, head disabled
    nats = ["Brevia", "Aldoria", "", "Brevia"] + ["Corvale"] * (len(tr.identities) - 4)
    ids = {i: SimpleNamespace(nationality=n) for i, n in zip(tr.identities, nats, strict=True)}
    fake = SimpleNamespace(identity_map=lambda: ids)
    labels = _nationality_labels(tr.with_sources(tr.voice_source, tr.face_source))
    assert labels is None
    data = tr.with_sources(tr.voice_source, tr.face_source)
    data.manifest = fake
    got = _nationality_labels(data)
    assert got is not None
    # sorted classes: Aldoria 0, Brevia 1, Corvale 2; unknown nationality is ignored (-100)
    assert got.tolist()[:5] == [1, 0, -100, 1, 2]
    # a single nationality carries no signal: no head
    data.manifest = SimpleNamespace(
        identity_map=lambda: {i: SimpleNamespace(nationality="X") for i in tr.identities}
    )
    assert _nationality_labels(data) is None


def test_pretrain_nationality_weight_is_validated() -> None:
    with pytest.raises(ConfigError, match="nationality_weight must be >= 0"):
        cfg("pretrain.nationality_weight=-1")


def test_pretrain_nationality_head_changes_the_backbone(splits, tmp_path: Path) -> None:
    from types import SimpleNamespace

    from vfbench.train.loop import pretrain_backbone

    tr, _ = splits
    data = tr.with_sources(tr.voice_source, tr.face_source)
    nats = {i: SimpleNamespace(nationality="AB"[k % 2]) for k, i in enumerate(tr.identities)}
    data.manifest = SimpleNamespace(identity_map=lambda: nats)
    over = ["pretrain.steps=3", "pretrain.batch_size=16"]
    out = {}
    for w in ("0", "1"):
        c = cfg(*over, f"pretrain.nationality_weight={w}")
        out[w] = torch.load(
            pretrain_backbone(c, "face", data, tmp_path / f"{w}.pt", progress=False),
            weights_only=True,
        )
    # same seed and batches: only the nationality loss can make the weights differ
    assert any(not torch.equal(out["0"][k], out["1"][k]) for k in out["0"])
