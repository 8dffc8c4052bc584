"""validation_1to2: invariants (perfect -> 1, constant -> 0.5, random -> chance in CI)."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.errors import EvaluationError
from vfbench.evaluate.quick import validation_1to2


def _data(n_ids: int = 50, per: int = 4, dim: int = 16, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_ids, dim))
    ids = np.repeat(np.arange(n_ids), per).astype(str)
    idx = np.repeat(np.arange(n_ids), per)
    v = centres[idx] + noise * rng.normal(size=(idx.size, dim))
    f = centres[idx] + noise * rng.normal(size=(idx.size, dim))
    return v, ids, f, ids


def test_perfect_embeddings_give_one():
    v, vi, f, fi = _data()
    est = validation_1to2(v, vi, f, fi, n_trials=2000, seed=1)
    assert est.value == 1.0 and est.n == 2000 and est.method == "binomial"


def test_constant_scorer_gets_half_credit_exactly():
    v, vi, f, fi = _data()
    est = validation_1to2(np.ones_like(v), vi, np.ones_like(f), fi, n_trials=1000)
    assert est.value == 0.5
    # paper interval: 0.5 +- 1.96 * sqrt(0.25 / 1000)
    assert est.high - est.value == pytest.approx(1.959964 * np.sqrt(0.25 / 1000), rel=1e-5)


def test_random_embeddings_chance_inside_interval_and_seeded():
    rng = np.random.default_rng(3)
    _, vi, _, fi = _data()
    v = rng.normal(size=(vi.size, 16))
    f = rng.normal(size=(fi.size, 16))
    a = validation_1to2(v, vi, f, fi, n_trials=4000, seed=5)
    b = validation_1to2(v, vi, f, fi, n_trials=4000, seed=5)
    assert a == b
    assert a.low <= 0.5 <= a.high


def test_gender_balanced_queries_run_and_bad_shapes_raise():
    v, vi, f, fi = _data(noise=0.5)
    genders = {str(i): "m" if i % 3 else "f" for i in range(50)}
    est = validation_1to2(v, vi, f, fi, n_trials=500, genders=genders)
    assert 0.5 < est.value <= 1.0
    with pytest.raises(EvaluationError, match="shapes disagree"):
        validation_1to2(v[:-1], vi, f, fi)
    with pytest.raises(EvaluationError, match="two identities"):
        validation_1to2(v[:4], vi[:4], f[:4], fi[:4])
