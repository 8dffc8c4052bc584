"""Each compared method trains through the shared loop on tiny feature-mode data with a
voice-face signal and beats chance on validation (interval above 50%); bad configs fail
with messages naming the culprit; checkpoints rebuild the method (scorer included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _methods_toy import COMMON, cfg_for, tiny_split
from _methods_toy import ZOO_SETS as METHOD_SETS
from vfbench.errors import ConfigError
from vfbench.methods import get_method, method_names
from vfbench.train.config import load_train_config
from vfbench.train.data import SplitData
from vfbench.train.loop import embed_split, train, validate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def splits() -> tuple[SplitData, SplitData]:
    return tiny_split(40, 4, 0), tiny_split(24, 4, 1)


def test_all_methods_registered() -> None:
    assert set(METHOD_SETS) | {"trinet"} <= set(method_names())


@pytest.mark.parametrize("method", sorted(METHOD_SETS))
def test_method_trains_above_chance(
    method: str, splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    tr, va = splits
    res = train(
        cfg_for(method, 200),
        tmp_path / method,
        get_method(method),
        data=tr,
        val_data=va,
        progress=False,
    )
    v = res.validations[-1]
    assert v["low"] > 0.5, f"{method}: validation 1:2 {v}"
    first = np.mean([x for _, x in res.losses[:10]])
    last = np.mean([x for _, x in res.losses[-10:]])
    assert last < first, f"{method}: loss did not decrease ({first:.4f} -> {last:.4f})"


@pytest.mark.parametrize("method", ["svhf", "horiguchi"])
def test_checkpoint_rebuilds_scorer(
    method: str, splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    """The pair matcher is part of the model: a reloaded checkpoint scores validation
    exactly as training did, and scoring by the matcher differs from cosine."""
    from vfbench.evaluate.quick import validation_1to2
    from vfbench.train.embed import load_trained

    tr, va = splits
    cfg = cfg_for(method, 60)
    res = train(
        cfg, tmp_path / method, get_method(cfg.method), data=tr, val_data=va, progress=False
    )
    m, model, cfg2, _ = load_trained(res.last_checkpoint, get_method)
    assert type(m).__name__.lower() == method and cfg2.method == method
    again = validate(m, model, va, cfg2, features=())
    assert again["acc"] == pytest.approx(res.validations[-1]["acc"], abs=1e-9)
    sc = m.scorer(model)
    assert sc is not None
    v = embed_split(m, model, va, "voice", False)
    f = embed_split(m, model, va, "face", False)
    s = sc(v[:5], f[:7])
    assert s.shape == (5, 7) and s.dtype == np.float32
    ids = np.asarray(va.identities)
    cos = validation_1to2(v, ids[va.voices.identity], f, ids[va.faces.identity], 2000)
    assert cos.value != pytest.approx(again["acc"], abs=1e-9)


def test_pins_resume_replays_the_same_negatives(
    splits: tuple[SplitData, SplitData], tmp_path: Path, crash_after_step: Any
) -> None:
    """Negatives are drawn from (seed, step): a crashed + resumed run continues the same
    loss curve as an uninterrupted one."""
    tr, _ = splits
    cfg = cfg_for("pins", 30, ["checkpoint_every=10", "log.every=1"])
    full = train(cfg, tmp_path / "full", get_method(cfg.method), data=tr, progress=False)
    crash_after_step(25)  # after the checkpoint of step 20: the resumed run starts at 21
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path / "cut", get_method(cfg.method), data=tr, progress=False)
    rest = train(
        cfg, tmp_path / "cut", get_method(cfg.method), data=tr, resume=True, progress=False
    )
    assert [s for s, _ in rest.losses] == list(range(21, 31))
    np.testing.assert_allclose([x for _, x in rest.losses], [x for _, x in full.losses[20:]])


def test_pins_schedule_in_fractions_of_the_run(splits: tuple[SplitData, SplitData]) -> None:
    cfg = cfg_for("pins", 1000, ["loss.kwargs={ramp_start: 0.1, ramp_end: 0.5, hard_end: 0.8}"])
    m = get_method("pins")
    from vfbench.train.loop import build_backbone

    model = m.build_model(cfg, build_backbone(cfg.voice, "voice", None),
                          build_backbone(cfg.face, "face", None))  # fmt: skip
    obj = m.build_objective(cfg, model, 40)
    assert (obj.ramp_start, obj.ramp_end, obj.hard_end) == (100, 500, 0.8)
    obj.set_step(300)  # type: ignore[operator]
    assert obj.fraction() == pytest.approx(0.4)  # type: ignore[operator]


# ------------------------------------------------------------------------ bad inputs
def test_wrong_loss_for_method_names_it(
    splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    tr, va = splits
    cfg = load_train_config(None, [*COMMON, "method=svhf", "steps=2"])
    with pytest.raises(ConfigError, match=r"loss\.name: forced_choice.*'trinet_triplet'"):
        train(cfg, tmp_path / "x", get_method(cfg.method), data=tr, val_data=va, progress=False)


def test_train_refuses_a_method_other_than_the_configs(
    splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    tr, va = splits
    cfg = cfg_for("kim", 2)
    with pytest.raises(ConfigError, match="trains method 'kim' but a 'pins' method"):
        train(cfg, tmp_path / "x", get_method("pins"), data=tr, val_data=va, progress=False)
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_unknown_method_option_names_the_key(
    splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    tr, va = splits
    cfg = cfg_for("kim", 2, ["loss.kwargs={margin: 1.0, hardness: 3}"])
    with pytest.raises(ConfigError, match="hardness"):
        train(cfg, tmp_path / "x", get_method(cfg.method), data=tr, val_data=va, progress=False)


def test_bad_option_value_names_the_key(
    splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    tr, va = splits
    cfg = cfg_for("svhf", 2, ["loss.kwargs={n_candidates: 1}"])
    with pytest.raises(ConfigError, match="n_candidates"):
        train(cfg, tmp_path / "x", get_method(cfg.method), data=tr, val_data=va, progress=False)


def test_dimnet_without_nationalities_names_the_covariate(tmp_path: Path) -> None:
    tr = tiny_split(12, 2, 0)
    del tr.meta["nationalities"]
    cfg = cfg_for("dimnet", 2)
    with pytest.raises(ConfigError, match="'nationality'.*0 known"):
        train(cfg, tmp_path / "x", get_method(cfg.method), data=tr, progress=False)


def test_dimnet_unknown_covariate_names_it(tmp_path: Path) -> None:
    tr = tiny_split(12, 2, 0)
    cfg = cfg_for("dimnet", 2, ["loss.kwargs={covariates: [identity, age]}"])
    with pytest.raises(ConfigError, match="covariates"):
        train(cfg, tmp_path / "x", get_method(cfg.method), data=tr, progress=False)


def test_dimnet_tables_from_manifest_style_data() -> None:
    from vfbench.methods.dimnet import covariate_tables, variant_of

    tr = tiny_split(6, 1, 0)
    tr.genders[2] = ""  # unknown gender -> ignored by the gender classifier
    t = covariate_tables(tr, ["identity", "gender", "nationality"])
    assert t["identity"].tolist() == list(range(6))
    assert t["gender"].tolist() == [1, 0, -1, 0, 1, 0]  # sorted codes: f=0, m=1
    assert t["nationality"].tolist() == [0, 1, 2, 0, 1, 2]
    assert variant_of(["gender", "identity"]) == "DIMNet-IG"
    assert variant_of(["identity", "gender", "nationality"]) == "DIMNet-IGN"
