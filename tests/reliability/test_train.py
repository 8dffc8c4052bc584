"""Reliability of training (issue 18): nothing non-finite is saved, reused artefacts are
keyed by what produced them, finished runs are not silently replaced, and bad configs or
checkpoints give one-line errors naming the cause. Each test reproduces a reported case."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

from toy import toy_split

from vfbench.cli import main
from vfbench.errors import CheckpointError, ConfigError, DataError
from vfbench.methods import get_method
from vfbench.train.checkpoint import load_checkpoint, save_checkpoint
from vfbench.train.config import load_train_config
from vfbench.train.data import from_tensors
from vfbench.train.loop import train

BASE = [
    "sampler.P=8", "head.dim=16", "head.scale=8", "val.n_trials=500", "val.every=0",
    "log.progress=false", "log.tensorboard=false", "threads=1", "voice.kwargs.n_freq=16",
    "face.frozen=true",
]  # fmt: skip


TRINET = get_method("trinet")


def cfg(*over: str):
    return load_train_config(None, [*BASE, *over])


@pytest.fixture(scope="module")
def splits():
    return toy_split(24, 3, seed=0), toy_split(12, 3, seed=1)


def poisoned(split, modality: str, row: int, value: float):
    """``split`` with one item's input replaced by ``value`` (NaN / inf) everywhere."""
    v = split.voice_source.x.clone()
    f = split.face_source.x.clone()
    (v if modality == "voice" else f)[row] = value
    return from_tensors(v, split.voices.identity, f, split.faces.identity, split.genders,
                        split.identities)  # fmt: skip


# -- 18.1 non-finite inputs / weights -------------------------------------------------------
def test_pretraining_on_an_inf_item_names_it_and_saves_nothing(splits, tmp_path: Path) -> None:
    bad = poisoned(splits[0], "voice", 5, float("inf"))
    c = cfg("steps=2", "pretrain.enabled=true", "pretrain.steps=40", "pretrain.batch_size=64")
    with pytest.raises(DataError) as e:
        train(c, tmp_path, TRINET, data=bad, val_data=splits[1])
    msg = str(e.value)
    assert bad.voices.ids[5] in msg and "NaN/inf" in msg and "head_lr" not in msg
    assert not list(tmp_path.glob("pretrain/*.pt")) and not (tmp_path / "last.pt").exists()


def test_nan_features_stop_training_naming_the_items_not_the_lr(splits, tmp_path: Path) -> None:
    bad = poisoned(splits[0], "face", 7, float("nan"))
    with pytest.raises(DataError) as e:
        train(cfg("steps=20", "feature_mode=false"), tmp_path, TRINET, data=bad, val_data=splits[1])
    assert bad.faces.ids[7] in str(e.value) and "lr" not in str(e.value)
    assert not (tmp_path / "last.pt").exists()


def test_feature_mode_rejects_non_finite_backbone_features(splits, tmp_path: Path) -> None:
    bad = poisoned(splits[0], "voice", 3, float("nan"))
    with pytest.raises(DataError) as e:
        train(
            cfg("steps=5"), tmp_path, TRINET, data=bad, val_data=splits[1]
        )  # both frozen: features
    assert bad.voices.ids[3] in str(e.value) and "not finite" in str(e.value)


def test_diverging_pretraining_is_blamed_on_its_lr_and_not_saved(splits, tmp_path) -> None:
    c = cfg("steps=2", "pretrain.enabled=true", "pretrain.steps=30", "pretrain.lr=1e12")
    with pytest.raises(ConfigError) as e:
        train(c, tmp_path, TRINET, data=splits[0], val_data=splits[1])
    assert "pretrain.lr" in str(e.value) and "optim.head_lr" not in str(e.value)
    assert not list(tmp_path.glob("pretrain/*.pt"))


def test_checkpoints_with_nan_weights_are_never_written(tmp_path: Path) -> None:
    p = tmp_path / "last.pt"
    save_checkpoint(p, {"step": 1, "method": "trinet", "config": {}, "model": {"w": torch.ones(2)}})
    before = p.read_bytes()
    state = {"step": 2, "method": "trinet", "config": {},
             "model": {"w": torch.tensor([1.0, float("nan")]), "b": torch.zeros(1)}}  # fmt: skip
    with pytest.raises(CheckpointError, match=r"1 model tensor\(s\) hold NaN/inf \(w\)"):
        save_checkpoint(p, state)
    assert p.read_bytes() == before  # the previous checkpoint is intact


# -- 18.2 keyed reuse, no silent overwrite --------------------------------------------------
def test_pretraining_is_reused_only_for_the_same_config(splits, tmp_path: Path) -> None:
    tr, va = splits
    over = ("steps=2", "pretrain.enabled=true", "pretrain.steps=4", "pretrain.batch_size=16")
    train(cfg(*over), tmp_path, TRINET, data=tr, val_data=va)
    (first,) = (tmp_path / "pretrain").glob("voice_*.pt")
    old = torch.load(first, weights_only=True)
    train(cfg(*over, "pretrain.steps=9"), tmp_path, TRINET, data=tr, val_data=va, force=True)
    files = sorted((tmp_path / "pretrain").glob("voice_*.pt"))
    assert len(files) == 2  # a new key: retrained, not the stale weights
    (new,) = [f for f in files if f != first]
    model = load_checkpoint(tmp_path / "last.pt")["model"]
    new_sd = torch.load(new, weights_only=True)
    assert all(torch.equal(v, model[f"voice_backbone.{k}"]) for k, v in new_sd.items())
    assert any(not torch.equal(old[k], new_sd[k]) for k in old)
    # other training items -> another key as well
    train(cfg(*over), tmp_path / "b", TRINET, data=toy_split(24, 3, seed=5), val_data=va)
    assert next((tmp_path / "b" / "pretrain").glob("voice_*.pt")).name != first.name


def test_second_run_without_resume_or_force_is_refused(splits, tmp_path: Path) -> None:
    tr, va = splits
    train(cfg("steps=4"), tmp_path, TRINET, data=tr, val_data=va)
    best, last = (tmp_path / "best.pt").read_bytes(), (tmp_path / "last.pt").read_bytes()
    with pytest.raises(ConfigError, match="--resume to continue it, --force to replace it"):
        train(cfg("steps=4", "seed=3"), tmp_path, TRINET, data=tr, val_data=va)
    assert (tmp_path / "best.pt").read_bytes() == best
    assert (tmp_path / "last.pt").read_bytes() == last
    res = train(cfg("steps=4", "seed=3"), tmp_path, TRINET, data=tr, val_data=va, force=True)
    assert res.steps == 4 and (tmp_path / "last.pt").read_bytes() != last
    assert load_checkpoint(tmp_path / "last.pt")["config"]["seed"] == 3


# -- one-line errors ------------------------------------------------------------------------
def test_resume_after_changing_the_head_size_names_keys_and_config(splits, tmp_path) -> None:
    tr, va = splits
    train(cfg("steps=4"), tmp_path, TRINET, data=tr, val_data=va)
    with pytest.raises(CheckpointError) as e:
        train(cfg("steps=8", "head.dim=24"), tmp_path, TRINET, data=tr, val_data=va, resume=True)
    msg = str(e.value)
    assert "\n" not in msg and "size mismatch" in msg and "voice_head" in msg
    assert "config changed since the checkpoint" in msg and "head.dim: 16 -> 24" in msg


def test_resume_where_last_pt_is_a_directory_fails_before_training(splits, tmp_path) -> None:
    (tmp_path / "last.pt").mkdir()
    with pytest.raises(CheckpointError, match="last.pt: is a directory"):
        train(cfg("steps=4", "pretrain.enabled=true", "pretrain.steps=3"), tmp_path, TRINET,
              data=splits[0], val_data=splits[1], resume=True)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # nothing ran


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def test_encoder_options_are_checked_against_the_chosen_encoder(repo_dir, tmp_path, capsys):
    rc, out = run_cli(["train", str(repo_dir / "configs" / "trinet_cpu.yaml"), "--out",
                       str(tmp_path / "r"), "--set", "voice.name=dimnet_cnn1d"], capsys)  # fmt: skip
    assert rc == 2 and "Traceback" not in out and len(out.strip().splitlines()) == 1
    assert "'dimnet_cnn1d' has no option 'width'" in out and "n_freq, out_dim" in out
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_a_set_typo_is_blamed_on_the_set_option(repo_dir, tmp_path, capsys) -> None:
    cfg_path = repo_dir / "configs" / "trinet_cpu.yaml"
    rc, out = run_cli(["train", str(cfg_path), "--out", str(tmp_path / "r"),
                       "--set", "optim.head_lrr=0.1"], capsys)  # fmt: skip
    assert rc == 2 and out.strip().startswith("error: --set optim.head_lrr=0.1: unknown key")
    assert "head_lr" in out and str(cfg_path) not in out
    # a typo in a section name is caught at its own level
    rc, out = run_cli(["train", str(cfg_path), "--set", "optimm.head_lr=0.1"], capsys)
    assert rc == 2 and "--set optimm.head_lr=0.1: unknown key 'optimm'" in out
