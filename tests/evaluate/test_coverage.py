"""All-roles identity bootstrap: against a plain loop, and its coverage on a crossed design."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vfbench.evaluate import _kernels, confidence
from vfbench.evaluate.confidence import ALL, Resampler, bootstrap_weights, distinct_roles
from vfbench.evaluate.coverage import (
    METHODS,
    UNCORRECTED,
    Design,
    coverage,
    distinct_distractors,
    interval_columns,
    matching_trials,
)


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


# ----------------------------------------------------------- variance-corrected all-roles bootstrap
def _crossed_variance_by_loops(roles, v):
    """crossed_variance by plain loops over identities, pairs and trials (mean, d = 1)."""
    t = len(v)
    e = [(x - sum(v) / t) / t for x in v]
    ids = {}
    cells = {}
    surplus = own = 0.0
    for r, et in zip(roles.tolist(), e, strict=True):
        distinct = list(dict.fromkeys(r))  # query first, repeats dropped
        for i in distinct:
            ids[i] = ids.get(i, 0.0) + et
        for j in distinct[1:]:
            c = frozenset((distinct[0], j))
            cells[c] = cells.get(c, 0.0) + et
        surplus += 2 * (len(distinct) - 1) * et * et
        own += et * et
    boot = sum(x * x for x in ids.values()) + sum(x * x for x in cells.values())
    return boot, max(boot - surplus, own)


@pytest.mark.parametrize("k", [2, 4])
def test_crossed_variance_equals_a_plain_loop(k, monkeypatch):
    rng = np.random.default_rng(7)
    roles = rng.integers(0, 9, (60, k))
    roles[:8, 1] = roles[:8, 0]  # repeated identities in a trial count once
    v = rng.random(60)
    want = _crossed_variance_by_loops(roles, v)
    got = confidence.crossed_variance(roles, v, np.ones(60), float(v.mean()))
    assert got == pytest.approx(want, rel=1e-12)
    monkeypatch.setattr(confidence, "_PAIR_CELLS", 0)  # the sort path for many identities
    assert confidence.crossed_variance(roles, v, np.ones(60), float(v.mean())) == pytest.approx(
        want, rel=1e-12
    )


@pytest.mark.parametrize("k", [2, 5])
def test_bootstrap_variance_is_the_replicates_variance(k):
    """The first-order expansion the correction rests on: V_1 + V_2 is the variance of the
    raw all-roles replicates (within the Monte-Carlo error of 4000 replicates and the
    multinomial's 1 - 1/I)."""
    d = Design("v2f", 60, n=k, n_trials=2000)
    o, roles = matching_trials(d, np.random.default_rng(11))
    point, raw = confidence.ratio_replicates(
        o, roles, 4000, np.random.default_rng(2), all_roles=True, variance_correction=False
    )
    boot, _ = confidence.crossed_variance(roles, o, np.ones_like(o), point)
    assert raw.var() == pytest.approx(boot, rel=0.1)


@pytest.mark.parametrize(("k", "sets"), [(2, 2000), (5, 800)])
def test_corrected_variance_is_unbiased_where_the_bootstrap_overcounts(k, sets):
    """Over many simulated test sets (300 identities, 1,200 trials: the trial-level variance
    is a large share) the mean corrected variance matches the figure's actual variance
    around the population accuracy (relative standard error ~4-5 %), while the raw
    pigeonhole variance is far above it (x1.7 at 1:2, x2.7 at 1:5)."""
    d = Design("f2v", 300, n=k, n_trials=1200, sd_query=0.5, sd_distractor=1.2)
    rng = np.random.default_rng(np.random.SeedSequence([20, k]))
    err2, boot, corr = [], [], []
    for _ in range(sets):
        o, roles = matching_trials(d, rng)
        b, c = confidence.crossed_variance(roles, o, np.ones_like(o), float(o.mean()))
        err2.append((o.mean() - d.target) ** 2)
        boot.append(b)
        corr.append(c)
    true = float(np.mean(err2))
    assert np.mean(corr) == pytest.approx(true, rel=0.15), (np.mean(corr), true)
    assert np.mean(boot) > (1.4 if k == 2 else 2.0) * true, (np.mean(boot), true)


def test_all_roles_replicates_are_the_raw_ones_shrunk_about_the_point():
    d = Design("v2f", 40, n=3, n_trials=1500)
    o, roles = matching_trials(d, np.random.default_rng(4))
    p1, raw = confidence.ratio_replicates(
        o, roles, 200, np.random.default_rng(9), all_roles=True, variance_correction=False
    )
    p2, reps = confidence.ratio_replicates(o, roles, 200, np.random.default_rng(9), all_roles=True)
    c = confidence.crossed_variance_scale(roles, o, np.ones_like(o), p1)
    assert p1 == p2 and 0.0 < c < 1.0  # 1:3 on 40 identities: the surplus outweighs t(39)
    assert np.allclose(reps, p1 + c * (raw - p1), rtol=0, atol=1e-15)
    # the paired bootstrap of `vfbench compare` goes through the same replicates
    b = np.random.default_rng(5).random(o.size).round()
    est, _ = confidence.paired_bootstrap(o, b, roles, 200, 0.95, np.random.default_rng(9))
    p3, raw_d = confidence.ratio_replicates(
        o - b, roles, 200, np.random.default_rng(9), all_roles=True, variance_correction=False
    )
    c_d = confidence.crossed_variance_scale(roles, o - b, np.ones_like(o), p3)
    lo, hi = np.quantile(p3 + c_d * (raw_d - p3), [0.025, 0.975])
    assert (est.low, est.high) == pytest.approx((lo, hi), abs=1e-15)


def test_no_surplus_for_query_only_and_one_identity_trials():
    o = np.random.default_rng(1).random(30)
    same = np.stack([np.arange(30) % 6, np.arange(30) % 6], 1)  # positive verification pairs
    boot, corr = confidence.crossed_variance(same, o, np.ones(30), float(o.mean()))
    e2 = float((((o - o.mean()) / 30) ** 2).sum())  # the independent-trials floor
    assert corr == pytest.approx(max(boot, e2), rel=1e-12)
    # one role only: the same figures, no pair cells
    assert confidence.crossed_variance(same[:, 0], o, np.ones(30), float(o.mean())) == (
        pytest.approx((boot, corr), rel=1e-12)
    )
    # no shrink, only the few-clusters factor sqrt(I / (I - 1)) t_(I-1) / z (6 identities)
    few = np.sqrt(6 / 5) * stats.t.ppf(0.95, 5) / stats.norm.ppf(0.95)
    c = confidence.crossed_variance_scale(same, o, np.ones(30), float(o.mean()), level=0.9)
    assert c == pytest.approx(few, rel=1e-9)
    p, q_reps = confidence.ratio_replicates(o, same[:, 0], 50, np.random.default_rng(0))
    _, a_reps = confidence.ratio_replicates(
        o, same, 50, np.random.default_rng(0), all_roles=True, level=0.9
    )
    assert np.allclose(np.sort(p + few * (q_reps - p)), np.sort(a_reps))


# ------------------------------------------------------------------------- the simulation itself
def test_distinct_distractors_are_distinct_uniform_and_never_the_query():
    rng = np.random.default_rng(3)
    q = rng.integers(0, 12, 60000)
    d = distinct_distractors(q, 12, 4, rng)
    s = np.sort(d, axis=1)
    assert (s[:, 1:] != s[:, :-1]).all() and not (d == q[:, None]).any()
    # every other identity is a distractor of query 0 with probability 4 / 11
    freq = np.bincount(d[q == 0].reshape(-1), minlength=12)[1:] / (q == 0).sum()
    assert np.allclose(freq, 4 / 11, atol=0.02), freq
    # and each 4-set equally often: 330 sets, chi-square against uniform
    sets, counts = np.unique(s[q == 0], axis=0, return_counts=True)
    assert len(sets) == 330
    exp = counts.sum() / 330
    assert ((counts - exp) ** 2 / exp).sum() < 330 + 4 * np.sqrt(2 * 330)
    with pytest.raises(ValueError):
        distinct_distractors(q, 4, 4, rng)


def test_coverage_does_not_depend_on_the_number_of_workers():
    d = Design("v2f", 30, n=3, n_trials=500)
    assert coverage(d, 6, seed=1, n_boot=50, workers=1) == coverage(
        d, 6, seed=1, n_boot=50, workers=2
    )


def test_simulated_default_interval_is_the_reports():
    """The simulation rebuilds bootstrap-all from the raw replicates; it must be the
    interval accuracy_intervals (the report's path) gives on the same test set and draws."""
    d = Design("f2v", 50, n=4, n_trials=1500)
    o, roles = matching_trials(d, np.random.default_rng(8))
    want = confidence.accuracy_intervals(o, roles, 0.95, 300, np.random.default_rng(1))
    got = interval_columns(o, roles, 300, 0.95, np.random.default_rng(1))
    for m in METHODS:
        assert (got[m].low, got[m].high) == (want[m].low, want[m].high), m
    assert got[UNCORRECTED].high - got[UNCORRECTED].low > got[ALL].high - got[ALL].low
