"""The crossed-variance correction of the verification bootstrap (issue 20.1): per-pair
contributions of AUC / EER / TAR@FAR against derivatives and hand counts, the first-order
variance against the replicates, the scale's invariants, the paired AUC and evaluate()."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from vfbench.evaluate import _kernels, confidence
from vfbench.evaluate.api import evaluate
from vfbench.evaluate.confidence import (
    Resampler,
    linearised_variance_scale,
    paired_auc_bootstrap,
    verification_contributions,
    verification_replicates,
    verification_scales,
)
from vfbench.evaluate.coverage import (
    ALL,
    UNCORRECTED,
    VerifyDesign,
    verify_coverage,
    verify_interval_columns,
)
from vfbench.evaluate.metrics import eer_from_roc, roc, tar_at_far, verification_metrics
from vfbench.evaluate.protocol import Protocol

FARS = (0.01, 0.05)


def _few(n_ids: int, level: float = 0.95) -> float:
    """The few-clusters factor sqrt(I / (I - 1)) t_(I-1) / z, by scipy."""
    q = 0.5 + level / 2
    return float(np.sqrt(n_ids / (n_ids - 1)) * stats.t.ppf(q, n_ids - 1) / stats.norm.ppf(q))


# ------------------------------------------------------------------------ the linearisation
def test_auc_contributions_by_hand():
    """Positives 0.9, 0.5; negatives 0.5, 0.1, 0.7: AUC = (3 + 1.5) / 6 = 0.75 (the tie at
    0.5 half). F-(0.9) = 1, F-(0.5) = (1 + 0.5) / 3; S+(0.5) = (1 + 0.5) / 2, S+(0.1) = 1,
    S+(0.7) = 1 / 2."""
    s = np.array([0.9, 0.5, 0.5, 0.1, 0.7])
    y = np.array([True, True, False, False, False])
    e = verification_contributions(s, y)["auc"]
    want = [(1 - 0.75) / 2, (0.5 - 0.75) / 2, (0.75 - 0.75) / 3, (1 - 0.75) / 3, (0.5 - 0.75) / 3]
    np.testing.assert_allclose(e, want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("levels", [7, 10_000])  # many ties / almost none
def test_auc_contributions_are_the_derivative_of_the_weighted_auc(levels):
    """sum_p delta_p e_p is the derivative of scikit-learn's weighted AUC along delta (the
    weighted AUC is smooth in the weights: a ratio of bilinear forms), per pair and for a
    random direction; the contributions sum to 0."""
    rng = np.random.default_rng(levels)
    y = rng.random(300) < 0.4
    s = rng.integers(0, levels, 300) / levels + 0.3 * y
    assert (np.unique(s).size < 30) == (levels == 7)
    e = verification_contributions(s, y)["auc"]
    assert abs(e.sum()) < 1e-14
    h = 1e-6

    def auc(w):
        return roc_auc_score(y, s, sample_weight=w)

    for delta in [rng.normal(size=300), *np.eye(300)[[0, 1, 150, 299]]]:
        fd = (auc(1 + h * delta) - auc(1 - h * delta)) / (2 * h)
        assert fd == pytest.approx(delta @ e, rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("figure", ["eer", "tar@far=0.05"])
def test_threshold_figures_follow_their_linearisation(figure):
    """EER and TAR@FAR move with smooth reweightings as sum_t delta_t e_t predicts (the
    threshold shift through the score densities): 200k pairs, tilts of either class."""
    rng = np.random.default_rng(3)
    n = 200_000
    y = rng.random(n) < 0.5
    s = np.where(y, rng.normal(1.5, 1.0, n), rng.normal(0.0, 1.5, n))
    e = verification_contributions(s, y, (0.05,))[figure]

    def fig(w):
        r = roc(s, y, w)
        return eer_from_roc(r) if figure == "eer" else tar_at_far(r, 0.05)

    h = 0.05  # wide enough to average over the step of TAR (1 / 100k per positive passed)
    for delta in (np.where(y, s - 1.5, 0.0), np.where(y, 0.0, s), np.where(y, -s, s**2 - 2)):
        fd = (fig(1 + h * delta) - fig(1 - h * delta)) / (2 * h)
        assert fd == pytest.approx(delta @ e, rel=0.04), (fd, delta @ e)


def test_contributions_of_degenerate_lists_are_finite_or_give_factor_one():
    """Perfectly separated scores: the AUC and EER have no first-order spread (all
    contributions 0) and the factor is 1; one score value in a class: no density, factor
    1 for the threshold figures (never NaN)."""
    s = np.array([0.9, 0.8, 0.1, 0.2, 0.3])
    y = np.array([True, True, False, False, False])
    roles = np.array([[0, 0], [1, 1], [0, 1], [1, 2], [2, 0]])
    e = verification_contributions(s, y, (0.01,))
    assert not np.any(e["auc"])
    assert verification_scales(s, y, roles, (0.01,)) == {
        "auc": 1.0,
        "eer": 1.0,
        "tar@far=0.01": 1.0,
    }
    flat = np.where(y, 1.0, s)  # every positive scores 1.0
    c = verification_scales(flat, y, roles, (0.01,))
    assert all(np.isfinite(v) for v in c.values())


# ----------------------------------------------------------------------- first-order variance
def test_first_order_variance_is_the_raw_replicates_variance():
    """V_1 + V_2 of the contributions is the variance of the raw all-roles replicates
    (AUC and EER within the Monte-Carlo error of 3000 replicates; TAR, a step function of
    a tail quantile, within 30 %), and the corrected replicates have the corrected
    variance times the few-clusters factor squared."""
    d = VerifyDesign("v2f", 60, n_pairs=3000, fars=(0.05,))
    s, y, roles = d.draw(np.random.default_rng(11))
    raw = verification_replicates(
        s, y, roles, 3000, np.random.default_rng(2), (0.05,), variance_correction=False
    )
    fixed = verification_replicates(s, y, roles, 3000, np.random.default_rng(2), (0.05,))
    rs = Resampler(roles)
    e = verification_contributions(s, y, (0.05,))
    for name, tol in (("auc", 0.1), ("eer", 0.1), ("tar@far=0.05", 0.3)):
        boot, corr = confidence._crossed_variance_e(rs.codes, rs.n_identities, e[name])
        assert corr < boot
        assert raw[name].var() == pytest.approx(boot, rel=tol), name
        c = linearised_variance_scale(rs, e[name])
        assert c == pytest.approx(np.sqrt(corr / boot) * _few(rs.n_identities), rel=1e-6)
        assert fixed[name].var() == pytest.approx(c * c * raw[name].var(), rel=1e-9)
        if name != "tar@far=0.05":
            assert fixed[name].var() == pytest.approx(corr * _few(60) ** 2, rel=tol)


def test_corrected_auc_variance_matches_the_sampling_variance():
    """Over 800 simulated lists (300 identities, 1,200 pairs: pair-level variance is a large
    share) the mean corrected AUC variance matches the AUC's actual mean squared error
    about the population AUC (relative standard error ~5 %), the raw pigeonhole variance
    is well above it."""
    d = VerifyDesign("f2v", 300, sd_query=0.5, sd_distractor=1.2, n_pairs=1200)
    target = d.targets()["auc"]
    rng = np.random.default_rng(np.random.SeedSequence([20, 1]))
    err2, boot, corr = [], [], []
    for _ in range(800):
        s, y, roles = d.draw(rng)
        rs = Resampler(roles)
        e = verification_contributions(s, y)["auc"]
        b, c = confidence._crossed_variance_e(rs.codes, rs.n_identities, e)
        err2.append((roc_auc_score(y, s) - target) ** 2)
        boot.append(b)
        corr.append(c)
    true = float(np.mean(err2))
    assert np.mean(corr) == pytest.approx(true, rel=0.15), (np.mean(corr), true)
    assert np.mean(boot) > 1.25 * true, (np.mean(boot), true)


# ------------------------------------------------------------------------------ the factor
def test_factor_is_only_the_few_clusters_one_for_one_identity_pairs():
    """Every pair of one identity (anchor = other): no surplus, the factor is the
    few-clusters factor for every figure; with real negatives (two identities) it is below
    it; the query-only replicates are never scaled."""
    d = VerifyDesign("v2f", 300, n_pairs=2000)
    s, y, roles = d.draw(np.random.default_rng(5))
    one = np.column_stack([roles[:, 0], roles[:, 0]])
    for v in verification_scales(s, y, one, FARS).values():
        assert v == pytest.approx(_few(300), rel=1e-9)
    for v in verification_scales(s, y, roles, FARS).values():
        assert v < 0.97 * _few(300)
    got: dict[str, float] = {}
    q = verification_replicates(s, y, roles, 50, np.random.default_rng(1), FARS, all_roles=False)
    q2 = verification_replicates(
        s, y, roles, 50, np.random.default_rng(1), FARS, all_roles=False, scales=got
    )
    assert got == dict.fromkeys(q, 1.0)
    for k in q:
        np.testing.assert_array_equal(q[k], q2[k])


@pytest.mark.parametrize("compiled", [True, False])
def test_replicates_are_the_raw_ones_scaled_about_the_point(compiled, monkeypatch):
    """Default replicates = point + factor (raw - point), clipped to [0, 1], on either path,
    with the factors :func:`verification_scales` gives; the coverage table's default column
    is built the same way."""
    if not compiled:
        monkeypatch.setattr(_kernels, "verify_reps_kernel", lambda: None)
    elif _kernels.verify_reps_kernel() is None:
        pytest.skip("numba not available")
    d = VerifyDesign("f2v", 120, sd_query=0.5, sd_distractor=1.2, n_pairs=2500)
    s, y, roles = d.draw(np.random.default_rng(8))
    got: dict[str, float] = {}
    fixed = verification_replicates(s, y, roles, 200, np.random.default_rng(4), FARS, scales=got)
    raw = verification_replicates(
        s, y, roles, 200, np.random.default_rng(4), FARS, variance_correction=False
    )
    assert got == verification_scales(s, y, roles, FARS)
    point = verification_metrics(s, y, FARS)
    for k, p in point.items():
        assert 0.0 < got[k] < 1.0
        np.testing.assert_allclose(
            fixed[k], np.clip(p + got[k] * (raw[k] - p), 0, 1), rtol=0, atol=1e-15
        )
    iv, c = verify_interval_columns(s, y, roles, FARS, 200, 0.95, np.random.default_rng(4))
    assert c == got
    # the columns draw the query-only replicates first, then the all-roles ones
    g = np.random.default_rng(4)
    verification_replicates(s, y, roles, 200, g, FARS, all_roles=False)
    again = verification_replicates(s, y, roles, 200, g, FARS)
    for k in point:
        lo, hi = np.quantile(again[k], [0.025, 0.975])
        assert (iv[k][ALL].low, iv[k][ALL].high) == pytest.approx((lo, hi), abs=1e-15)
        assert iv[k][UNCORRECTED].high - iv[k][UNCORRECTED].low > hi - lo


def test_kernel_and_numpy_paths_give_the_same_corrected_replicates(monkeypatch):
    if _kernels.verify_reps_kernel() is None:
        pytest.skip("numba not available")
    d = VerifyDesign("v2f", 200, n_pairs=3000)
    s, y, roles = d.draw(np.random.default_rng(9))
    ca: dict[str, float] = {}
    cb: dict[str, float] = {}
    a = verification_replicates(s, y, roles, 300, np.random.default_rng(3), FARS, scales=ca)
    monkeypatch.setenv("VFBENCH_NUMBA", "0")
    b = verification_replicates(s, y, roles, 300, np.random.default_rng(3), FARS, scales=cb)
    assert ca == cb and all(v < 1 for v in ca.values())
    np.testing.assert_allclose(a["auc"], b["auc"], rtol=0, atol=1e-12)
    for k in a:
        if k != "auc":
            np.testing.assert_array_equal(a[k], b[k])


# ------------------------------------------------------------------------ paired and end to end
def test_paired_auc_difference_is_scaled_by_the_difference_contributions():
    d = VerifyDesign("v2f", 250, n_pairs=2500)
    s, y, roles = d.draw(np.random.default_rng(12))
    s_b = s + np.random.default_rng(13).normal(0, 0.7, s.size)  # a noisier system B
    a, b, est, p = paired_auc_bootstrap(s, s_b, y, roles, 300, 0.95, np.random.default_rng(6))
    assert (a, b) == (pytest.approx(roc_auc_score(y, s)), pytest.approx(roc_auc_score(y, s_b)))

    def stat(w):
        w64 = w.astype(np.float64)
        return np.array([roc_auc_score(y, s, sample_weight=x) for x in w64]) - np.array(
            [roc_auc_score(y, s_b, sample_weight=x) for x in w64]
        )

    raw = confidence.bootstrap_replicates(stat, roles, 300, np.random.default_rng(6))
    e = verification_contributions(s, y)["auc"] - verification_contributions(s_b, y)["auc"]
    c = linearised_variance_scale(roles, e)
    assert 0.0 < c < 1.0
    lo, hi = np.quantile((a - b) + c * (raw - (a - b)), [0.025, 0.975])
    assert (est.low, est.high) == pytest.approx((lo, hi), abs=1e-12)
    assert p == confidence.bootstrap_p_value((a - b) + c * (raw - (a - b)))
    # the same system twice: no difference, p = 1
    _, _, same, p_same = paired_auc_bootstrap(s, s, y, roles, 100, 0.95, 0)
    assert (same.value, same.low, same.high, p_same) == (0.0, 0.0, 0.0, 1.0)


def test_evaluate_verification_interval_narrows_at_500_identities(make_emb, monkeypatch):
    """evaluate() on 500 identities: every verification row records its factor (< 1: the
    negative pairs' surplus outweighs t(499)), and its default interval is the
    uncorrected one (the same draws, the correction switched off) narrowed by exactly
    that factor."""
    v, f, attrs = make_emb(n_ids=500, per=2, dim=8, noise=1.0, seed=3)
    p = Protocol.quick()
    p.tasks = ["verify"]
    p.directions = ["v2f"]
    p.n_boot = 200
    p.verification.n_pairs = 6000
    res = evaluate(v, f, attrs, p)
    assert res.find(task="verify")
    monkeypatch.setattr(confidence, "linearised_variance_scale", lambda *a, **k: 1.0)
    plain = evaluate(v, f, attrs, p)
    for name in ("auc", "eer"):
        m = res.get(task="verify", direction="v2f", name=name)
        u = plain.get(task="verify", direction="v2f", name=name)
        c = m.params["variance_scale"]
        assert m.n_identities == 500 and 0.5 < c < 0.97, (name, c)
        assert u.params["variance_scale"] == 1.0 and m.value == u.value
        w, wu = (
            m.intervals[ALL].high - m.intervals[ALL].low,
            u.intervals[ALL].high - u.intervals[ALL].low,
        )
        assert w == pytest.approx(c * wu, rel=1e-5)
        # the query-only interval is untouched
        q, qu = m.intervals["bootstrap-identity"], u.intervals["bootstrap-identity"]
        assert (q.low, q.high) == (qu.low, qu.high)


def test_verification_coverage_runner_counts_hits():
    """The runner's shares are means of 0/1 hits over the sets (in steps of 1 / sets), the
    mean factor is below 1 where negatives carry a surplus, and the mean estimate is near
    the closed-form target."""
    d = VerifyDesign("v2f", 300, n_pairs=2000)
    c = verify_coverage(d, 6, seed=1, n_boot=100)
    assert set(c) == {"auc", "eer", "tar@far=0.01"}
    for name, row in c.items():
        for m in ("bootstrap-identity", UNCORRECTED, ALL):
            assert row[m] * 6 == pytest.approx(round(row[m] * 6))
        assert 0.5 < row["scale"] < 1.0
        assert abs(row["estimate"] - d.targets()[name]) < 0.05
