"""The default retrieval interval (issue #20.1): the leave-one-identity-out jackknife with
a t quantile at the effective number of identities, and the Cornish-Fisher skewness
correction it can carry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from vfbench.errors import EvaluationError
from vfbench.evaluate.confidence import (
    JACK_T,
    SKEW_SHIFT_MAX,
    jackknife_interval,
    jackknife_moments,
    jackknife_t_interval,
)

Z = 1.959963984540054


def _loo_of_mean(x: np.ndarray) -> np.ndarray:
    """Leave-one-out means: the jackknife values of the sample mean (influence values
    L_i = x_i - mean)."""
    return (x.sum() - x) / (x.size - 1)


def test_moments_against_a_hand_computation():
    # x = 1, 2, 4, 9: mean 4, deviations -3 -2 0 5; sums of squares 38, cubes 90,
    # fourth powers 722. se^2 = 38 / (4 * 3); skewness of the mean 90 / 38^1.5 (= the
    # sample skewness 22.5 / 9.5^1.5 over 2); kurtosis 4 * 722 / 38^2 = 2, so the
    # Satterthwaite df 2 * 4 / (2 - 1) = 8, capped at m - 1 = 3
    jm = jackknife_moments(_loo_of_mean(np.array([1.0, 2.0, 4.0, 9.0])))
    assert jm.m == 4
    assert jm.se == pytest.approx(math.sqrt(38 / 12), rel=1e-12)
    assert jm.skew == pytest.approx(90 / 38**1.5, rel=1e-12)
    assert jm.skew == pytest.approx(22.5 / 9.5**1.5 / 2, rel=1e-12)
    assert jm.df == 3.0
    # one identity carries the variance: L = a (m - 1) once, -a otherwise; kurtosis
    # ((m - 1)^3 + 1) / (m (m - 1)) = 98.01 at m = 100, df = 200 / 97.01;
    # skewness (m - 2) / sqrt(m (m - 1)) (|g| <= 1 always)
    jm = jackknife_moments(np.r_[np.full(99, 0.5), 0.2])
    assert jm.df == pytest.approx(200 / (970300 / 9900 - 1), rel=1e-12)
    assert jm.skew == pytest.approx(98 / math.sqrt(9900), rel=1e-12)


def test_moments_against_scipy_on_random_data_and_nan_values_dropped():
    x = np.random.default_rng(3).exponential(size=57)
    loo = np.r_[_loo_of_mean(x), np.nan, np.inf]
    jm = jackknife_moments(loo)
    assert jm.m == 57
    assert jm.se == pytest.approx(stats.sem(x), rel=1e-10)  # s / sqrt(n) for the mean
    assert jm.skew == pytest.approx(stats.skew(x, bias=True) / math.sqrt(57), rel=1e-10)
    assert jm.skew > 0  # exponential data: the mean is right-skewed
    kurt = stats.kurtosis(x, fisher=False, bias=True)
    assert jm.df == pytest.approx(min(56, 2 * 57 / (kurt - 1)), rel=1e-10)
    assert jm.df < 56  # heavier tails than normal: fewer effective identities
    # the se is the plain jackknife interval's (estimate +- z se)
    plain = jackknife_interval(0.5, loo, 0.95, 57)
    assert plain.high - 0.5 == pytest.approx(Z * jm.se, rel=1e-9)
    # degenerate inputs
    assert math.isnan(jackknife_moments(np.array([0.3, np.nan])).se)
    flat = jackknife_moments(np.full(5, 0.2))
    assert (flat.se, flat.skew, flat.df) == (0.0, 0.0, 4.0)


def test_symmetric_values_give_the_symmetric_t_interval():
    loo = 0.3 + 0.01 * np.array([-2.0, -1.0, 0.0, 1.0, 2.0, -0.5, 0.5])  # skew exactly 0
    jm = jackknife_moments(loo)
    assert jm.skew == pytest.approx(0.0, abs=1e-12)
    for skew in (False, True):
        est = jackknife_t_interval(0.3, loo, 0.95, 21, skew=skew)
        t = stats.t.ppf(0.975, math.floor(jm.df))
        assert (est.low, est.high) == pytest.approx((0.3 - t * jm.se, 0.3 + t * jm.se), rel=1e-12)
        assert (est.method, est.n, est.level) == (JACK_T, 21, 0.95)
    t6 = stats.t.ppf(0.975, 6)
    est = jackknife_t_interval(0.3, loo, 0.95, 21, df="identities")
    assert est.high - 0.3 == pytest.approx(t6 * jm.se, rel=1e-12)


def test_few_effective_identities_widen_the_interval():
    """One identity carrying the variance: df ~2, so t(2) = 4.30 instead of t(99) = 1.98."""
    loo = np.r_[np.full(99, 0.5), 0.45]
    jm = jackknife_moments(loo)
    assert math.floor(jm.df) == 2
    eff = jackknife_t_interval(0.5, loo, 0.95, 100)
    ids = jackknife_t_interval(0.5, loo, 0.95, 100, df="identities")
    assert eff.high - eff.low == pytest.approx(2 * stats.t.ppf(0.975, 2) * jm.se, rel=1e-10)
    assert ids.high - ids.low == pytest.approx(2 * stats.t.ppf(0.975, 99) * jm.se, rel=1e-10)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_skewed_values_lengthen_the_arm_the_expansion_says(sign: float):
    """(estimate - target) / se has quantiles z + g (z^2 - 1) / 6 (upper) and
    -z + g (z^2 - 1) / 6 (lower): with ``skew`` a right-skewed estimator (g > 0) gets the
    longer lower arm, a left-skewed one the longer upper arm; the arms are se (t -+ d)."""
    x = sign * np.random.default_rng(5).exponential(size=40)
    loo = _loo_of_mean(x)
    jm = jackknife_moments(loo)
    assert np.sign(jm.skew) == sign and abs(jm.skew) > 0.1
    point = 0.5
    t = stats.t.ppf(0.975, math.floor(jm.df))
    est = jackknife_t_interval(point, loo, 0.95, 40, skew=True)
    lower, upper = point - est.low, est.high - point
    d = jm.skew * (Z * Z - 1) / 6
    assert lower == pytest.approx(jm.se * (t + d), rel=1e-10)
    assert upper == pytest.approx(jm.se * (t - d), rel=1e-10)
    assert (lower > upper) == (sign > 0)
    sym = jackknife_t_interval(point, loo, 0.95, 40)
    assert sym.high - point == pytest.approx(point - sym.low, rel=1e-12)
    assert lower + upper == pytest.approx(sym.high - sym.low, rel=1e-10)  # same length


def test_the_t_quantile_becomes_z_for_many_identities():
    ratios = []
    for m in (5, 80, 500, 20000):
        loo = np.r_[np.full(m, 0.401), np.full(m, 0.399)]  # symmetric, kurtosis 1: df 2m - 1
        jm = jackknife_moments(loo)
        assert jm.df == 2 * m - 1
        est = jackknife_t_interval(0.4, loo, 0.95, loo.size)
        ratios.append((est.high - 0.4) / jm.se)
        assert ratios[-1] == pytest.approx(stats.t.ppf(0.975, 2 * m - 1), rel=1e-9)
    assert ratios == sorted(ratios, reverse=True)
    assert ratios[-1] == pytest.approx(Z, abs=1e-4)


def test_skew_term_is_bounded_and_the_interval_clipped():
    loo = np.r_[np.full(99, 0.5), 0.2]
    jm = jackknife_moments(loo)
    # at 99.99 % the term d would exceed SKEW_SHIFT_MAX x t: arms within 0.5-1.5 t se
    est = jackknife_t_interval(
        0.5, loo, 0.9999, 100, bounds=(-10.0, 10.0), df="identities", skew=True
    )
    t = stats.t.ppf(0.99995, 99)
    assert jm.skew * (stats.norm.ppf(0.99995) ** 2 - 1) / 6 > SKEW_SHIFT_MAX * t
    assert 0.5 - est.low == pytest.approx(jm.se * t * (1 + SKEW_SHIFT_MAX), rel=1e-10)
    assert est.high - 0.5 == pytest.approx(jm.se * t * (1 - SKEW_SHIFT_MAX), rel=1e-10)
    clipped = jackknife_t_interval(0.02, loo, 0.95, 100, df="identities")  # se 0.297
    assert clipped.low == 0.0 and clipped.high == pytest.approx(0.02 + 1.984217 * jm.se)
    assert jackknife_t_interval(0.02, loo, 0.95, 100).high == 1.0  # t(2): 0.02 + 1.28
    assert math.isnan(jackknife_t_interval(0.5, np.array([0.5]), 0.95, 1).low)
    with pytest.raises(EvaluationError, match="confidence level"):
        jackknife_t_interval(0.5, loo, 1.5, 100)
    with pytest.raises(EvaluationError, match="df rule"):
        jackknife_t_interval(0.5, loo, 0.95, 100, df="clusters")


def test_coverage_simulation_columns_and_miss_sides():
    """The jackknife-only run sees the same test sets as the full one (own generator per
    set), the miss counts add up, and on the face->voice design the jackknife skewness is
    negative (strong-distractor identities), so the skew-corrected interval's longer arm
    is the upper one."""
    from vfbench.evaluate.coverage import (
        JACK_T_CF,
        JACKKNIFE_METHODS,
        RetrievalDesign,
        _retrieval_set_rng,
        miss_side,
        retrieval_coverage_counts,
        retrieval_intervals,
    )
    from vfbench.evaluate.results import Estimate

    assert miss_side(Estimate(0.5, 0.4, 0.6, 1, "x", 0.95), 0.5) == 0
    assert miss_side(Estimate(0.5, 0.4, 0.6, 1, "x", 0.95), 0.7) == -1  # too low
    assert miss_side(Estimate(0.5, 0.4, 0.6, 1, "x", 0.95), 0.3) == 1  # too high
    d = RetrievalDesign("f2v", 40, 2.0, 0.5, 1.2, target_sets=20)
    target = 0.2
    fast = retrieval_coverage_counts(d, 12, n_boot=50, target=target, methods=JACKKNIFE_METHODS)
    full = retrieval_coverage_counts(d, 12, n_boot=50, target=target)
    for m in JACKKNIFE_METHODS:
        assert fast[m] == full[m]
        assert fast[m].covered + fast[m].too_low + fast[m].too_high == 12
    # t(df) >= z: the default is never shorter than the plain jackknife
    assert fast[JACK_T].mean_length >= fast["jackknife-all"].mean_length > 0
    lower_longer = []
    for r in range(12):
        iv = retrieval_intervals(d, _retrieval_set_rng(d, 0, r), methods=JACKKNIFE_METHODS)
        cf, t = iv[JACK_T_CF], iv[JACK_T]
        if min(cf.low, t.low) > 0.0:  # unclipped: the same length, only shifted
            assert cf.high - cf.low == pytest.approx(t.high - t.low, rel=1e-9)
        lower_longer.append(cf.value - cf.low > cf.high - cf.value)
    assert sum(lower_longer) <= 3  # the upper arm is the longer one in most sets


def test_every_retrieval_row_defaults_to_the_effective_df_jackknife(make_emb):
    """Paper protocol, full gallery and joint retrieval, every figure: the row carries
    ``jackknife-all-t`` as its default interval, beside the plain ``jackknife-all``, with
    the degrees of freedom it used; joint matching rows keep the bootstrap."""
    from vfbench.evaluate.api import evaluate
    from vfbench.evaluate.protocol import Protocol

    v, f, attrs = make_emb(n_ids=16, per=4, noise=1.5)
    p = Protocol.quick()
    p.tasks = ["retrieve", "joint"]
    p.directions = ["v2f", "f2v"]
    p.n_boot = 100
    p.retrieval.full = True
    res = evaluate(v, f, attrs, p)
    rows = [m for m in res.metrics if m.task in ("retrieve", "joint_retrieve")]
    settings = {(m.task, m.setting.split(" ")[0]) for m in rows}
    assert {("retrieve", "paper"), ("retrieve", "full")} <= settings
    assert any(t == "joint_retrieve" for t, _ in settings)
    assert {"mAP", "R-precision", "p@1", "recall@1"} <= {m.name for m in rows}
    for m in rows:
        est, plain = m.intervals[JACK_T], m.intervals["jackknife-all"]
        assert m.interval() is est and est.method == JACK_T
        assert est.low <= plain.low <= m.value <= plain.high <= est.high  # t(df) >= z
        assert 1 <= m.params["jackknife_df"] <= m.n_identities - 1
    assert all(
        m.interval().method == "bootstrap-all" for m in res.metrics if m.task == "joint_match"
    )
