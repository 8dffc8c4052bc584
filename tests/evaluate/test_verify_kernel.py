"""The compiled verification bootstrap (``_kernels.verify_reps``) against the numpy path
(``Resampler.weights`` + ``metrics.roc``), scikit-learn and hand-made degenerate lists."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vfbench.errors import EvaluationError
from vfbench.evaluate import _kernels
from vfbench.evaluate.confidence import Resampler, verification_replicates

FARS = (0.01, 0.1, 0.5)


@pytest.fixture()
def kernel() -> None:
    if _kernels.verify_reps_kernel() is None:
        pytest.skip("numba not available: the numpy path is the only one")


def _list(
    rng: np.random.Generator, n: int, n_ids: int, levels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n pairs over n_ids identities, scores on ``levels`` values (many ties), positives
    with one identity in both roles."""
    y = rng.random(n) < 0.4
    roles = rng.integers(0, n_ids, size=(n, 2))
    roles[y, 1] = roles[y, 0]
    s = rng.integers(0, levels, size=n) / levels + 0.3 * y
    return s, y, roles


def _both(
    monkeypatch: pytest.MonkeyPatch, s: np.ndarray, y: np.ndarray, roles: np.ndarray, **kw: object
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float, float]:
    """Replicates by the kernel and by numpy from the same seed, and the next number each
    generator gives after (both must have drawn the same)."""
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    a = verification_replicates(s, y, roles, 300, g1, FARS, **kw)  # type: ignore[arg-type]
    monkeypatch.setenv("VFBENCH_NUMBA", "0")
    b = verification_replicates(s, y, roles, 300, g2, FARS, **kw)  # type: ignore[arg-type]
    monkeypatch.delenv("VFBENCH_NUMBA")
    return a, b, float(g1.random()), float(g2.random())


def _agree(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """EER and TAR bit-equal (same operations on the same ROC points); AUC to 1e-12: its
    sum over <= 10^4 points is sequential in the kernel, pairwise in numpy (each term
    < 1, so the orders differ by at most ~K * 2^-53 ~ 1e-12)."""
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].shape == b[k].shape == (300,)
        np.testing.assert_array_equal(np.isnan(a[k]), np.isnan(b[k]))
        if k == "auc":
            np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-12, equal_nan=True)
        else:
            np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("all_roles", [True, False])
@pytest.mark.parametrize(("n", "n_ids", "levels"), [(4000, 300, 50), (2500, 40, 2000), (60, 12, 3)])
def test_kernel_equals_numpy_replicates(
    kernel: None, monkeypatch: pytest.MonkeyPatch, all_roles: bool, n: int, n_ids: int, levels: int
) -> None:
    s, y, roles = _list(np.random.default_rng(n + levels), n, n_ids, levels)
    a, b, na, nb = _both(monkeypatch, s, y, roles, all_roles=all_roles)
    _agree(a, b)
    assert na == nb  # the same draws: the generator left in the same state
    assert np.isfinite(a["auc"]).all() and np.ptp(a["auc"]) > 0  # real replicates


def test_degenerate_replicates_are_nan_in_both(
    kernel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five pairs over three identities, both positives of identity 0: a replicate that
    misses identity 0 (p = (2/3)^3) has no positive weight, one that misses 1 or 2 no
    negative weight; those are NaN for every figure, in the same rows on both paths."""
    s = np.array([0.9, 0.9, 0.4, 0.2, 0.2])
    y = np.array([True, False, False, True, False])
    roles = np.array([[0, 0], [1, 2], [2, 1], [0, 0], [1, 2]])
    a, b, na, nb = _both(monkeypatch, s, y, roles)
    _agree(a, b)
    assert na == nb
    bad = np.isnan(a["auc"])
    assert 0 < bad.sum() < 300
    for k in a:
        np.testing.assert_array_equal(np.isnan(a[k]), bad)
    q, r, _, _ = _both(monkeypatch, s, y, roles, all_roles=False)
    _agree(q, r)
    assert np.isnan(q["eer"]).any()


def test_kernel_replicates_match_sklearn_with_the_resampler_weights(kernel: None) -> None:
    """Each replicate's AUC is sklearn's weighted ROC AUC with the pair weights the
    Resampler defines (anchor x other multiplicity; one identity counted once)."""
    s, y, roles = _list(np.random.default_rng(3), 800, 60, 30)
    reps = verification_replicates(
        s, y, roles, 40, np.random.default_rng(11), FARS, variance_correction=False
    )
    rs = Resampler(roles)
    w = np.concatenate(list(rs.multiplicities(40, np.random.default_rng(11), 1 << 21)))
    for b in range(40):
        pw = w[b, rs.codes[:, 0]] * np.where(rs.codes[:, 1] >= 0, w[b, rs.codes[:, 1]], 1.0)
        assert reps["auc"][b] == pytest.approx(roc_auc_score(y, s, sample_weight=pw), abs=1e-12)
        # TAR@FAR by a plain loop over thresholds
        for far in FARS:
            best = 0.0
            for t in np.unique(s):
                acc = s >= t
                fpr = pw[acc & ~y].sum() / pw[~y].sum()
                if fpr <= far + 1e-12:
                    best = max(best, pw[acc & y].sum() / pw[y].sum())
            assert reps[f"tar@far={far:g}"][b] == pytest.approx(best, abs=1e-12)


def test_kernel_path_rejects_bad_lists(kernel: None) -> None:
    rng = np.random.default_rng(0)
    roles = np.zeros((4, 2), dtype=np.int64)
    with pytest.raises(EvaluationError, match="both positive and negative"):
        verification_replicates(np.arange(4.0), np.ones(4, bool), roles, 20, rng)
    with pytest.raises(EvaluationError, match="role rows"):
        verification_replicates(np.arange(4.0), np.array([1, 0, 1, 0]), roles[:3], 20, rng)


def test_numpy_fallback_without_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without numba (the kernel getter gives None) the numpy path answers, with the
    same draws as the kernel would use."""
    s, y, roles = _list(np.random.default_rng(5), 500, 30, 20)
    monkeypatch.setattr(_kernels, "verify_reps_kernel", lambda: None)
    a = verification_replicates(
        s, y, roles, 50, np.random.default_rng(2), FARS, variance_correction=False
    )
    rs = Resampler(roles)
    (w,) = list(rs.weights(50, np.random.default_rng(2), 1 << 21))
    for b in (0, 17, 49):
        assert a["auc"][b] == pytest.approx(roc_auc_score(y, s, sample_weight=w[b]), abs=1e-12)
