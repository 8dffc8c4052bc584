"""The default retrieval interval (issue #20.1): the leave-one-identity-out jackknife with
the t(m - 1) quantile and the Cornish-Fisher skewness correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from vfbench.errors import EvaluationError
from vfbench.evaluate.confidence import (
    JACK_SKEW,
    SKEW_SHIFT_MAX,
    jackknife_interval,
    jackknife_moments,
    jackknife_skew_interval,
)

Z = 1.959963984540054


def _loo_of_mean(x: np.ndarray) -> np.ndarray:
    """Leave-one-out means: the jackknife values of the sample mean."""
    return (x.sum() - x) / (x.size - 1)


def test_moments_against_a_hand_computation():
    # x = 1, 2, 4, 9: mean 4, deviations -3 -2 0 5; sum of squares 38, of cubes 90.
    # For the mean the influence values are the deviations: se^2 = 38 / (4 * 3),
    # skewness of the mean = 90 / 38^1.5 (= the sample skewness 22.5 / 9.5^1.5 over 2).
    jm = jackknife_moments(_loo_of_mean(np.array([1.0, 2.0, 4.0, 9.0])))
    assert jm.m == 4
    assert jm.se == pytest.approx(math.sqrt(38 / 12), rel=1e-12)
    assert jm.skew == pytest.approx(90 / 38**1.5, rel=1e-12)
    assert jm.skew == pytest.approx(22.5 / 9.5**1.5 / 2, rel=1e-12)


def test_moments_against_scipy_on_random_data_and_nan_values_dropped():
    x = np.random.default_rng(3).exponential(size=57)
    loo = np.r_[_loo_of_mean(x), np.nan, np.inf]
    jm = jackknife_moments(loo)
    assert jm.m == 57
    assert jm.se == pytest.approx(stats.sem(x), rel=1e-10)  # s / sqrt(n) for the mean
    assert jm.skew == pytest.approx(stats.skew(x, bias=True) / math.sqrt(57), rel=1e-10)
    assert jm.skew > 0  # exponential data: the mean is right-skewed
    # the se is the plain jackknife interval's (estimate +- z se)
    plain = jackknife_interval(0.5, loo, 0.95, 57)
    assert plain.high - 0.5 == pytest.approx(Z * jm.se, rel=1e-9)
    # degenerate inputs
    assert math.isnan(jackknife_moments(np.array([0.3, np.nan])).se)
    assert jackknife_moments(np.full(5, 0.2)).skew == 0.0


def test_symmetric_values_give_the_symmetric_t_interval():
    loo = 0.3 + 0.01 * np.array([-2.0, -1.0, 0.0, 1.0, 2.0, -0.5, 0.5])  # skew exactly 0
    jm = jackknife_moments(loo)
    assert jm.skew == pytest.approx(0.0, abs=1e-12)
    est = jackknife_skew_interval(0.3, loo, 0.95, 21)
    t6 = stats.t.ppf(0.975, 6)
    assert (est.low, est.high) == pytest.approx((0.3 - t6 * jm.se, 0.3 + t6 * jm.se), rel=1e-12)
    assert (est.method, est.n, est.level) == (JACK_SKEW, 21, 0.95)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_skewed_values_lengthen_the_arm_the_expansion_says(sign: float):
    """(estimate - target) / se has quantiles z + g (z^2 - 1) / 6 (upper) and
    -z + g (z^2 - 1) / 6 (lower): a right-skewed estimator (g > 0) gets the longer lower
    arm, a left-skewed one the longer upper arm; the arms are se (t -+ d)."""
    x = sign * np.random.default_rng(5).exponential(size=40)
    loo = _loo_of_mean(x)
    jm = jackknife_moments(loo)
    assert np.sign(jm.skew) == sign and abs(jm.skew) > 0.1
    point = 0.5
    est = jackknife_skew_interval(point, loo, 0.95, 40)
    lower, upper = point - est.low, est.high - point
    t = stats.t.ppf(0.975, 39)
    d = jm.skew * (Z * Z - 1) / 6
    assert lower == pytest.approx(jm.se * (t + d), rel=1e-10)
    assert upper == pytest.approx(jm.se * (t - d), rel=1e-10)
    assert (lower > upper) == (sign > 0)
    assert lower + upper == pytest.approx(2 * t * jm.se, rel=1e-10)  # same length as (a)


def test_the_t_quantile_becomes_z_for_many_identities():
    rng = np.random.default_rng(0)
    ratios = []
    for m in (5, 80, 500, 20000):
        loo = 0.4 + 1e-3 * rng.normal(size=m)
        loo = np.r_[loo, 0.8 - loo]  # symmetric about 0.4: skew 0
        jm = jackknife_moments(loo)
        est = jackknife_skew_interval(0.4, loo, 0.95, loo.size)
        ratios.append((est.high - 0.4) / jm.se)
        assert ratios[-1] == pytest.approx(stats.t.ppf(0.975, 2 * m - 1), rel=1e-9)
    assert ratios == sorted(ratios, reverse=True)
    assert ratios[-1] == pytest.approx(Z, abs=1e-4)


def test_extreme_skewness_is_bounded_and_the_interval_clipped():
    # one identity carries all the influence: L = a (m - 1) once and -a otherwise, so
    # g = (m - 2) / sqrt(m (m - 1)); |g| <= max |L| / sqrt(sum L^2) <= 1 always
    loo = np.r_[np.full(99, 0.5), 0.2]
    jm = jackknife_moments(loo)
    assert jm.skew == pytest.approx(98 / math.sqrt(100 * 99), rel=1e-12)
    # at 95 % the term d = g (z^2 - 1) / 6 <= 0.47 stays inside the bound: plain formula
    est = jackknife_skew_interval(0.5, loo, 0.95, 100, bounds=(-10.0, 10.0))
    t = stats.t.ppf(0.975, 99)
    d = jm.skew * (Z * Z - 1) / 6
    assert 0.5 - est.low == pytest.approx(jm.se * (t + d), rel=1e-10)
    # at 99.99 % it would exceed SKEW_SHIFT_MAX x t: each arm stays within 0.5-1.5 t se
    est = jackknife_skew_interval(0.5, loo, 0.9999, 100, bounds=(-10.0, 10.0))
    t = stats.t.ppf(0.99995, 99)
    assert jm.skew * (stats.norm.ppf(0.99995) ** 2 - 1) / 6 > SKEW_SHIFT_MAX * t
    assert 0.5 - est.low == pytest.approx(jm.se * t * (1 + SKEW_SHIFT_MAX), rel=1e-10)
    assert est.high - 0.5 == pytest.approx(jm.se * t * (1 - SKEW_SHIFT_MAX), rel=1e-10)
    clipped = jackknife_skew_interval(0.02, loo, 0.95, 100)
    assert clipped.low == 0.0 and clipped.high < 1.0
    assert math.isnan(jackknife_skew_interval(0.5, np.array([0.5]), 0.95, 1).low)
    with pytest.raises(EvaluationError, match="confidence level"):
        jackknife_skew_interval(0.5, loo, 1.5, 100)


def test_coverage_simulation_columns_and_miss_sides():
    """The jackknife-only run sees the same test sets as the full one (own generator per
    set), the miss counts add up, and on the face->voice design the jackknife skewness is
    negative (strong-distractor identities), so the default's longer arm is the upper one."""
    from vfbench.evaluate.coverage import (
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
    lower_longer = []
    for r in range(12):
        iv = retrieval_intervals(d, _retrieval_set_rng(d, 0, r), methods=JACKKNIFE_METHODS)
        sk, t = iv[JACK_SKEW], iv["jackknife-all-t"]
        assert sk.high - sk.low == pytest.approx(t.high - t.low, rel=1e-9) or sk.low == 0.0
        lower_longer.append(sk.value - sk.low > sk.high - sk.value)
    assert sum(lower_longer) <= 3  # the upper arm is the longer one in most sets
