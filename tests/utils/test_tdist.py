"""Student's t quantiles without scipy (vfbench.utils.tdist) against scipy and tables."""

from __future__ import annotations

import math

import pytest
from scipy.special import stdtrit

from vfbench.utils.tdist import _t_central, t_quantile

DFS = [*range(1, 40), 79, 99, 188, 499, 999, 1999, 2000, 2001, 4999, 99_999, 10**6]
PS = [0.51, 0.6, 0.74, 0.75, 0.9, 0.95, 0.975, 0.995, 0.9995]


@pytest.mark.parametrize("df", DFS)
def test_quantiles_agree_with_scipy(df: int) -> None:
    for p in PS:
        want = float(stdtrit(df, p))
        assert t_quantile(df, p) == pytest.approx(want, rel=1e-11), (df, p)
        assert t_quantile(df, 1.0 - p) == pytest.approx(-want, rel=1e-10), (df, p)


def test_printed_table_values_and_closed_forms() -> None:
    # two-sided 95 % critical values from printed tables (6 decimals)
    for df, want in [(1, 12.706205), (2, 4.302653), (10, 2.228139), (30, 2.042272),
                     (79, 1.990450), (120, 1.979930)]:  # fmt: skip
        assert round(t_quantile(df, 0.975), 6) == want
    assert t_quantile(1, 0.75) == pytest.approx(1.0, rel=1e-14)  # Cauchy: tan(pi / 4)
    assert t_quantile(2, 0.9) == pytest.approx(0.8 / math.sqrt(0.18), rel=1e-14)
    assert t_quantile(7, 0.5) == 0.0


def test_central_probability_is_the_distribution_function() -> None:
    # A(t) = P(|T| < t): 1 / 2 at the quartile, and the density integrates to it
    for df in (1, 2, 3, 8, 41):
        assert _t_central(t_quantile(df, 0.75), df) == pytest.approx(0.5, abs=1e-14)
        # midpoint rule of the density on [0, 1.5] x 2
        c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
        h = 1.5 / 20_000
        area = h * sum(
            c * (1 + ((i + 0.5) * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(20_000)
        )
        assert _t_central(1.5, df) == pytest.approx(2 * area, abs=1e-9)


def test_bad_arguments_are_refused() -> None:
    for p in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="p must be in"):
            t_quantile(5, p)
    with pytest.raises(ValueError, match="df must be positive"):
        t_quantile(0, 0.9)
    assert t_quantile(4.5, 0.975) == pytest.approx(float(stdtrit(4.5, 0.975)), rel=1e-12)
