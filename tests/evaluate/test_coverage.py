"""All-roles identity bootstrap: against a plain loop, and its coverage on a crossed design."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.evaluate import _kernels, confidence
from vfbench.evaluate.confidence import Resampler, bootstrap_weights, distinct_roles
from vfbench.evaluate.coverage import Design, coverage


def test_distinct_roles_drop_repeats():
    r = distinct_roles(np.array([[3, 3], [3, 4], [5, 5]]))
    assert r.tolist() == [[3, -1], [3, 4], [5, -1]]


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("tables", [True, False])
def test_all_roles_replicates_equal_a_plain_loop(compiled, k, tables, monkeypatch):
    """Two identities per trial: the product of their multiplicities; more: the query's
    multiplicity times 1 + sum_j (w_j - 1) over the distractors (module doc)."""
    rng = np.random.default_rng(0)
    n_ids = 20 if k == 2 else 7  # 20 x 20 cells > 2 x 50 trials: not the pair tables
    roles = np.stack([rng.integers(0, n_ids, 50) for _ in range(k)], 1)
    v = rng.random(50)
    if not compiled:
        monkeypatch.setattr(_kernels, "ratio_sums", lambda *a: None)
    if not tables:
        monkeypatch.setattr(confidence, "_PAIR_CELLS", 0)  # per-trial block paths
    reps = confidence._all_roles_ratio(v, np.ones(50), roles, 20, np.random.default_rng(1))
    # the same multinomial draws by hand: identity codes are the sorted distinct labels
    names = np.unique(roles)
    w = bootstrap_weights(names.size, 20, np.random.default_rng(1))
    for b in range(20):
        num = den = 0.0
        for t in range(50):
            wq = w[b, np.searchsorted(names, roles[t, 0])]
            others = set(roles[t, 1:].tolist()) - {roles[t, 0]}
            wd = [w[b, np.searchsorted(names, i)] for i in others]
            x = wq * float(np.prod(wd)) if k == 2 else wq * (1.0 + sum(y - 1.0 for y in wd))
            num += x * v[t]
            den += x
        assert reps[b] == pytest.approx(num / den, rel=1e-9)


def test_many_role_intervals_stay_close_to_the_query_only_width():
    """1:10 trials on 80 identities: the product weight (variance 2^10 - 1) made the interval
    several times wider than the query-only one; the linearised weight keeps it within a
    small factor, and never narrower."""
    rng = np.random.default_rng(3)
    n_ids, t = 80, 10000
    q = rng.integers(0, n_ids, t)
    keys = rng.random((t, n_ids))
    keys[np.arange(t), q] = np.inf
    d = np.argpartition(keys, 9, axis=1)[:, :9]
    skill = rng.normal(0, 0.8, n_ids)
    o = (rng.random(t) < 1 / (1 + np.exp(-(skill[q] - 1.5)))).astype(float)
    iv = confidence.accuracy_intervals(o, np.column_stack([q, d]), 0.95, 400, rng)
    wq = iv["bootstrap-identity"].high - iv["bootstrap-identity"].low
    wa = iv["bootstrap-all"].high - iv["bootstrap-all"].low
    assert wq <= wa <= 2.0 * wq, (wq, wa)


def test_resampler_weights_query_only_and_all_roles():
    roles = np.array([[0, 1], [1, 1], [2, 0]])
    w_all = next(Resampler(roles, True).weights(3, np.random.default_rng(2)))
    w_q = next(Resampler(roles, False).weights(3, np.random.default_rng(2)))
    m = bootstrap_weights(3, 3, np.random.default_rng(2))
    assert np.allclose(w_q, m[:, [0, 1, 2]])
    assert np.allclose(w_all, np.stack([m[:, 0] * m[:, 1], m[:, 1], m[:, 2] * m[:, 0]], 1))


def test_coverage_on_a_crossed_design_all_roles_holds_where_the_others_fail():
    # reduced version of benchmarks/bench_coverage.py: strong/weak distractors (face->voice
    # configuration), 80 identities. The query-only bootstrap cannot see the distractor
    # variance and the binomial interval sees no identity variance at all.
    d = Design("f2v", 80, mu=1.0, sd_query=0.5, sd_distractor=1.2, n_trials=3000)
    c = coverage(d, replicates=40, seed=3, n_boot=250)
    assert c["bootstrap-all"] >= 0.875, c
    assert c["bootstrap-identity"] <= c["bootstrap-all"] - 0.15, c
    assert c["binomial"] <= 0.6 and c["wilson"] <= 0.6, c


def test_pair_tables_give_the_per_trial_replicates(monkeypatch):
    # two roles (1:2 matching, verification): the I x I table path equals the per-trial one
    rng = np.random.default_rng(5)
    q = rng.integers(0, 6, 400)
    o = rng.integers(0, 6, 400)
    o[:50] = q[:50]  # one-identity trials (a positive verification pair)
    v = rng.random(400)
    roles = np.stack([q, o], 1)
    fast = confidence._all_roles_ratio(v, np.ones(400), roles, 30, np.random.default_rng(1))
    monkeypatch.setattr(confidence, "_PAIR_CELLS", 0)
    slow = confidence._all_roles_ratio(v, np.ones(400), roles, 30, np.random.default_rng(1))
    assert np.allclose(fast, slow, rtol=1e-12)


def _replicates_both_ways(v, d, roles, n_boot, monkeypatch):
    fast = confidence._all_roles_ratio(v, d, roles, n_boot, np.random.default_rng(4))
    with monkeypatch.context() as m:
        m.setattr(confidence, "_F32_EXACT", 0.0)  # never exact: the float64 product
        slow = confidence._all_roles_ratio(v, d, roles, n_boot, np.random.default_rng(4))
    return fast, slow


@pytest.mark.parametrize("k", [2, 3])
def test_float32_table_product_gives_the_float64_replicates(k, monkeypatch):
    """1:2 (pair tables) and 1:3 (query-by-distractor tables) with every outcome type -
    right (1), wrong (0), half-credit ties (0.5, and 1/4 steps) - and one-identity trials:
    the float32 product is exact, so the replicates equal the float64 ones (bit for bit,
    asserted to 1e-12), and both equal a plain loop over trials and replicates."""
    rng = np.random.default_rng(11)
    t, n_ids = 3000, 40
    roles = rng.integers(0, n_ids, (t, k))
    roles[:200, 1] = roles[:200, 0]  # one identity in two roles (dropped by distinct_roles)
    v = rng.choice([0.0, 0.5, 1.0, 0.25], size=t, p=[0.3, 0.1, 0.55, 0.05])
    fast, slow = _replicates_both_ways(v, np.ones(t), roles, 50, monkeypatch)
    assert np.all(np.isfinite(fast))
    assert np.allclose(fast, slow, rtol=1e-12, atol=0) and np.array_equal(fast, slow)
    names = np.unique(roles)
    w = bootstrap_weights(names.size, 50, np.random.default_rng(4))
    code = np.searchsorted(names, roles)
    for b in (0, 17, 49):  # a plain loop: product (k = 2) or w_q (1 + sum (w_j - 1))
        x = np.empty(t)
        for i in range(t):
            others = set(code[i, 1:].tolist()) - {code[i, 0]}
            wd = [w[b, j] for j in others]
            x[i] = w[b, code[i, 0]] * (np.prod(wd) if k == 2 else 1.0 + sum(y - 1 for y in wd))
        assert fast[b] == pytest.approx((x * v).sum() / x.sum(), rel=1e-12)


def test_float32_table_product_falls_back_when_not_exact(monkeypatch):
    """Values that are not dyadic (per-query AP, thirds) or sums beyond float32's integer
    range take the float64 product: still the float64 replicates."""
    rng = np.random.default_rng(12)
    roles = rng.integers(0, 30, (2000, 2))
    for v in (rng.random(2000), rng.choice([0.0, 1 / 3, 1.0], 2000), np.full(2000, 3e4)):
        fast, slow = _replicates_both_ways(v, np.ones(2000), roles, 40, monkeypatch)
        assert np.array_equal(fast, slow)
    sv = np.full((3, 3), 1 / 3)
    assert confidence._dyadic_scale(sv) is None
    assert confidence._dyadic_scale(np.array([[0.5, 2.0], [0.25, 1.0]])) == 4.0
    assert confidence._dyadic_scale(np.array([[np.inf, 0.5]])) is None
