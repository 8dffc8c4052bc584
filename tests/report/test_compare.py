"""Paired comparison on the same trials; refusal on different trials."""

from __future__ import annotations

import numpy as np
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


def _result(outcome, roles):
    from vfbench.evaluate.results import EvaluationResult

    r = EvaluationResult(trials_hash="h")
    r.outcomes = {
        "match/v2f/n=2/U": {
            "outcome": outcome.astype(np.float32),
            "cluster": roles[:, 0].astype(np.int32),
            "roles": roles.astype(np.int32),
        }
    }
    return r


def test_trial_test_and_identity_bootstrap_disagree_and_the_row_says_which_to_believe():
    # 40 identities x 100 trials; A wins 60 trials on each of 20 identities, B wins 40 on
    # each of the others: McNemar sees 1200 vs 800 discordant trials (p ~ 1e-19), but the
    # difference is an identity effect: on another draw of identities it could go either way
    rng = np.random.default_rng(0)
    q = np.repeat(np.arange(40), 100)
    d = (q + rng.integers(1, 40, q.size)) % 40
    roles = np.stack([q, d], 1)
    a = np.zeros(q.size)
    b = np.zeros(q.size)
    k = np.tile(np.arange(100), 40)
    a[(q < 20) & (k < 60)] = 1
    b[(q >= 20) & (k < 40)] = 1
    (row,) = compare_results(_result(a, roles), _result(b, roles), n_boot=500)
    assert row.trial_test == "mcnemar-exact" and row.p_mcnemar < 1e-15
    assert row.p_bootstrap > 0.05 and row.resampling == "all roles"
    assert "believe the identity bootstrap" in row.verdict
    md = comparison_markdown([row])
    assert "believe the identity bootstrap" in md and "mcnemar-exact" in md
    # half-credit outcomes switch the trial-level test to the sign-flip permutation test
    a[:7] = 0.5
    (row,) = compare_results(_result(a, roles), _result(b, roles), n_boot=100)
    assert row.trial_test == "sign-flip"
