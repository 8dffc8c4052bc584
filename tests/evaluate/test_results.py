"""Result types: JSON round trip (NaN-safe), lookup, load errors that name the file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vfbench.errors import EvaluationError
from vfbench.evaluate.results import (
    Curve,
    Estimate,
    EvaluationResult,
    Metric,
    load_outcomes,
    save_outcomes,
)


def _result() -> EvaluationResult:
    est = Estimate(0.8, 0.7, 0.9, 100, "wilson")
    m = Metric(
        "match",
        "v2f",
        "1:2 U",
        "accuracy",
        0.8,
        100,
        {"n": 2},
        intervals={"wilson": est},
        chance=0.5,
    )
    nan = Metric(
        "verify",
        "v2f",
        "pairs U",
        "eer",
        float("nan"),
        10,
        intervals={"t": Estimate(1, float("nan"), float("nan"), 1, "t")},
    )
    return EvaluationResult(
        metrics=[m, nan],
        curves=[Curve("c", "roc", [0.0, 1.0], [0.0, 1.0])],
        protocol={"seed": 0},
        trials_hash="ab" * 32,
        outcomes={
            "match/v2f/n=2/U": {"outcome": np.array([1.0, 0.5]), "cluster": np.array([0, 1])}
        },
    )


def test_roundtrip_json_and_nan(tmp_path):
    r = _result()
    text = r.to_json()
    json.loads(text)  # strict JSON, NaN became null
    assert "NaN" not in text
    back = EvaluationResult.from_json(text)
    assert back.metrics[0] == r.metrics[0]
    assert math.isnan(back.metrics[1].value)
    assert back.curves[0].kind == "roc"
    r.save(tmp_path)
    loaded = EvaluationResult.load(tmp_path, with_outcomes=True)
    np.testing.assert_array_equal(loaded.outcomes["match/v2f/n=2/U"]["outcome"], [1.0, 0.5])


def test_find_and_get():
    r = _result()
    assert r.get(n=2).name == "accuracy"
    assert r.find(task="verify")[0].name == "eer"
    with pytest.raises(EvaluationError, match="expected one result row"):
        r.get(task="retrieve")
    m = r.metrics[0]
    assert m.interval().method == "wilson" and m.interval("t") is None
    assert Estimate(0.5, 0.4, 0.6, 10, "x").contains(0.45)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(EvaluationError, match="results file not found"):
        EvaluationResult.load(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(EvaluationError, match=r"results\.json: not valid JSON"):
        EvaluationResult.load(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(EvaluationError, match="schema_version 99"):
        EvaluationResult.load(tmp_path)
    _result().save(tmp_path / "run")
    (tmp_path / "run" / "outcomes.npz").unlink()
    with pytest.raises(EvaluationError, match="outcomes.npz: per-trial outcomes not found"):
        EvaluationResult.load(tmp_path / "run", with_outcomes=True)
    with pytest.raises(EvaluationError, match="may not contain"):
        save_outcomes(tmp_path / "o.npz", {"a::b": {"x": np.zeros(1)}})
    (tmp_path / "junk.npz").write_text("junk")
    with pytest.raises(EvaluationError, match="cannot read outcomes"):
        load_outcomes(tmp_path / "junk.npz")
