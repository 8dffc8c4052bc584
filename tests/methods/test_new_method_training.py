"""Each new method trains through the shared loop on tiny feature-mode data with a shared
voice-face signal and beats chance on validation; stateful objectives (memories,
prototypes, identity weights) resume exactly; checkpoints rebuild heads and scorers; bad
options fail naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from _methods_toy import NEW_SETS as METHOD_SETS
from _methods_toy import cfg_for, tiny_split
from vfbench.errors import ConfigError
from vfbench.methods import get_method, method_names
from vfbench.train.data import SplitData
from vfbench.train.loop import train, validate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def splits() -> tuple[SplitData, SplitData]:
    # the splits these tests were tuned on: m-prefixed ids, no nationalities
    return (
        tiny_split(40, 4, 0, prefix="m", nationalities=False),
        tiny_split(24, 4, 1, prefix="m", nationalities=False),
    )


def test_all_fourteen_methods_registered() -> None:
    new = set(METHOD_SETS)
    old = {"trinet", "svhf", "dimnet", "pins", "kim", "horiguchi"}
    assert new | old <= set(method_names()) and len(new | old) == 14


@pytest.mark.parametrize("method", sorted(METHOD_SETS))
def test_method_trains_above_chance(
    method: str, splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    tr, va = splits
    cfg = cfg_for(method, 200)
    res = train(cfg, tmp_path / method, get_method(method), data=tr, val_data=va, progress=False)
    v = res.validations[-1]
    assert v["low"] > 0.5, f"{method}: validation 1:2 {v}"
    first = np.mean([x for _, x in res.losses[:10]])
    last = np.mean([x for _, x in res.losses[-10:]])
    assert last < first, f"{method}: loss did not decrease ({first:.4f} -> {last:.4f})"


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("cmpc", ["loss.kwargs={clusters: [4, 8], queue: 64, cluster_every: 10}"]),
        ("self_lifting", ["loss.kwargs={clusters: 8, queue: 64, cluster_every: 10}"]),
        ("ssnet", ["loss.kwargs={warmup: 0.2, update_every: 4, add_fraction: 0.1}"]),
        ("lafv", []),
    ],
)
def test_stateful_objective_resumes_onto_the_same_curve(
    method: str,
    extra: list[str],
    splits: tuple[SplitData, SplitData],
    tmp_path: Path,
    crash_after_step: Any,
) -> None:
    """Memories, prototypes, identity weights and negative draws are checkpointed or keyed by
    step: a crashed + resumed run continues the uninterrupted loss curve."""
    tr, _ = splits
    cfg = cfg_for(method, 30, ["checkpoint_every=10", "log.every=1", *extra])
    full = train(cfg, tmp_path / "full", get_method(method), data=tr, progress=False)
    crash_after_step(25)  # after the checkpoint of step 20: the resumed run starts at 21
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path / "cut", get_method(method), data=tr, progress=False)
    rest = train(cfg, tmp_path / "cut", get_method(method), data=tr, resume=True, progress=False)
    assert [s for s, _ in rest.losses] == list(range(21, 31))
    np.testing.assert_allclose([x for _, x in rest.losses], [x for _, x in full.losses[20:]],
                               rtol=1e-5)  # fmt: skip


def test_ssnet_schedule_in_fractions_of_the_run() -> None:
    cfg = cfg_for("ssnet", 60, ["loss.kwargs={warmup: 0.1, update_every: 5, add_fraction: 0.05}"])
    m = get_method("ssnet")
    from vfbench.train.loop import build_backbone

    model = m.build_model(cfg, build_backbone(cfg.voice, "voice", None),
                          build_backbone(cfg.face, "face", None))  # fmt: skip
    obj = m.build_objective(cfg, model, 40)
    assert (obj.warmup, obj.update_every, obj.add_count) == (6, 5, 2)


def test_fop_and_fv_cme_checkpoints_rebuild_and_score(
    splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    """FOP's own branch heads and FV-CME's inner-product scorer come back from a checkpoint:
    validation of the reloaded model equals the training run's."""
    from vfbench.train.embed import load_trained

    tr, va = splits
    for method in ("fop", "fv_cme"):
        res = train(
            cfg_for(method, 40),
            tmp_path / method,
            get_method(method),
            data=tr,
            val_data=va,
            progress=False,
        )
        m, model, cfg2, _ = load_trained(res.last_checkpoint, get_method)
        assert cfg2.method == method and type(m).name == method
        again = validate(m, model, va, cfg2, features=())
        assert again["acc"] == pytest.approx(res.validations[-1]["acc"], abs=1e-9)
    sc = get_method("fv_cme").scorer(model)
    assert sc is not None
    v, f = (
        np.random.default_rng(0).normal(size=(3, 4)),
        np.random.default_rng(1).normal(size=(5, 4)),
    )
    np.testing.assert_allclose(sc(v, f), v @ f.T, rtol=1e-5)


def test_fop_embeddings_are_tanh_of_unit_branch_outputs(
    splits: tuple[SplitData, SplitData],
) -> None:
    from vfbench.train.loop import build_backbone

    cfg = cfg_for("fop", 2)
    m = get_method("fop")
    model = m.build_model(cfg, build_backbone(cfg.voice, "voice", None),
                          build_backbone(cfg.face, "face", None)).eval()  # fmt: skip
    x = torch.randn(5, model.voice_head.fc.in_features)
    raw = model.embed("voice", x, True)
    assert torch.allclose(raw.norm(dim=1), torch.ones(5), atol=1e-5)
    assert torch.allclose(m.embed(model, "voice", x, True), torch.tanh(raw))


def test_cae_trains_end_to_end_on_inputs(
    splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    """Outside feature mode the reconstruction targets are the backbone outputs."""
    tr, _ = splits
    cfg = cfg_for("cae", 3, ["feature_mode=false"])
    res = train(cfg, tmp_path / "cae", get_method("cae"), data=tr, progress=False)
    assert len(res.losses) == 3 and all(np.isfinite(x) for _, x in res.losses)


# ------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    ("method", "kwargs", "match"),
    [
        ("fop", "{dropout: 1.5}", "dropout"),
        ("cmpc", "{clusters: [8, 4096], queue: 64}", "clusters"),
        ("ssnet", "{warmup: 1.5}", "warmup"),
        ("fv_cme", "{anchor: audio}", "anchor"),
        ("lafv", "{margin: 1.0}", "margin"),
        ("self_lifting", "{clusters: 1}", "clusters"),
        ("cae", "{hidden: 0}", "hidden"),
        ("barlow_twins", "{lam: -1}", "lam"),
    ],
)
def test_bad_method_option_names_the_key(
    method: str, kwargs: str, match: str, splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    tr, _ = splits
    cfg = cfg_for(method, 2, [f"loss.kwargs={kwargs}"])
    with pytest.raises(ConfigError, match=match):
        train(cfg, tmp_path / "x", get_method(cfg.method), data=tr, progress=False)


def test_wrong_loss_for_new_method_names_the_config(
    splits: tuple[SplitData, SplitData], tmp_path: Path
) -> None:
    tr, _ = splits
    cfg = cfg_for("cmpc", 2, ["loss.name=infonce", "loss.kwargs={}"])
    with pytest.raises(ConfigError, match=r"loss\.name: cmpc.*cmpc_cpu\.yaml"):
        train(cfg, tmp_path / "x", get_method(cfg.method), data=tr, progress=False)


@pytest.mark.parametrize("scale", ["cpu", "paper", "pretrained"])
def test_every_new_config_loads_and_validates(scale: str) -> None:
    """Each method's shipped config resolves, names its method, and its options validate;
    both benchmark grids list all 14 rows with existing configs."""
    from vfbench.experiments.benchmark import load_grid
    from vfbench.train.config import load_train_config

    root = Path(__file__).resolve().parents[2] / "configs" / "methods"
    for method in METHOD_SETS:
        cfg = load_train_config(root / f"{method}_{scale}.yaml")
        assert cfg.method == method and cfg.name == f"{method}_{scale}"
        get_method(method).options(cfg)  # type: ignore[attr-defined]
        if scale == "pretrained":  # the CPU config's objective on the packaged encoders
            cpu = load_train_config(root / f"{method}_cpu.yaml")
            assert cfg.loss == cpu.loss and cfg.head.dim == cpu.head.dim
            assert method == "fop" or cfg.head.l2 == cpu.head.l2  # FOP: its own head
            assert (cfg.voice.name, cfg.face.name) == ("resemblyzer", "dlib_face")
    grid = load_grid(root / f"benchmark_{scale}.yaml")
    assert len(grid.rows) == 14 and grid.baseline == "TriNet"
    for r in grid.rows:
        assert (root.parent / r.config).is_file(), r.config
