"""Paired comparison on the same trials; refusal on different trials."""

from __future__ import annotations

import pytest

from vfbench.errors import EvaluationError
from vfbench.evaluate.api import evaluate
from vfbench.report.compare import compare_results, comparison_markdown


def test_better_system_wins_with_small_p(runs):
    a, b, _, _ = runs
    rows = compare_results(a, b, n_boot=300)
    by = {r.key: r for r in rows}
    m = by["match/v2f/n=2/U"]
    assert m.a > m.b and m.diff.low > 0 and m.p_mcnemar < 0.01 and m.p_bootstrap < 0.05
    assert by["verify/v2f/U"].metric == "auc" and by["verify/v2f/U"].p_mcnemar is None
    assert by["retrieve/v2f/paper"].metric == "mAP"
    md = comparison_markdown(rows, "A", "B")
    assert "| match/v2f/n=2/U | accuracy |" in md


def test_self_comparison_is_null(runs):
    a = runs[0]
    rows = compare_results(a, a, n_boot=100)
    assert all(r.diff.value == 0 and r.p_bootstrap == 1.0 for r in rows)
    assert all(r.p_mcnemar in (None, 1.0) for r in rows)


def test_different_trials_are_refused(runs):
    a, _, ts, (v, f, _, _) = runs
    p = a.protocol
    from vfbench.config import from_dict
    from vfbench.evaluate.protocol import Protocol

    proto = from_dict(Protocol, {**p, "seed": 5, "tasks": ["match"]})
    other = evaluate(v, f, None, proto)
    with pytest.raises(EvaluationError, match="different trials"):
        compare_results(a, other)
    bare = type(a)(metrics=a.metrics, trials_hash=a.trials_hash)
    with pytest.raises(EvaluationError, match="outcomes are missing"):
        compare_results(a, bare)
