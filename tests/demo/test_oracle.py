"""The synthetic oracle: PMI agrees with the generator's Bayes rule and is direction-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vfbench.data.synthetic import SynthConfig, bayes_log_likelihood, oracle_report, sample_traits
from vfbench.errors import DataError
from vfbench.evaluate.api import evaluate
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.protocol import Protocol
from vfbench.experiments.oracle import oracle_embeddings, pmi_matrix


@pytest.fixture(scope="module")
def traits():  # type: ignore[no-untyped-def]
    return sample_traits(SynthConfig(identities=120, seed=3, shared_strength=0.7))


def test_pmi_differs_from_bayes_ll_by_a_voice_only_term(traits) -> None:  # type: ignore[no-untyped-def]
    """log p(v|f) = PMI(v, f) + log p(v): for a fixed voice, candidate faces rank the same."""
    s = traits.shared_strength
    v, f = traits.voice[:30], traits.face[:40]
    pmi = pmi_matrix(v, f, s)
    ll = np.stack(
        [bayes_log_likelihood(np.repeat(v[i : i + 1], len(f), 0), f, s) for i in range(len(v))]
    )
    diff = ll - pmi  # (30, 40): constant along each row
    assert np.allclose(diff, diff[:, :1], atol=1e-9)
    # and symmetric in the roles: p(f|v) = PMI + log p(f), constant down each column
    ll_fv = np.stack(
        [bayes_log_likelihood(f, np.repeat(v[i : i + 1], len(f), 0), s) for i in range(len(v))]
    )
    d2 = ll_fv - pmi
    assert np.allclose(d2, d2[:1, :], atol=1e-9)


def test_pmi_dedupes_repeated_rows(traits) -> None:  # type: ignore[no-untyped-def]
    idx_v = np.array([0, 0, 5, 2, 5])
    idx_f = np.array([1, 1, 1, 7])
    full = pmi_matrix(traits.voice[idx_v], traits.face[idx_f], traits.shared_strength)
    small = pmi_matrix(traits.voice[[0, 5, 2]], traits.face[[1, 7]], traits.shared_strength)
    assert np.allclose(full, small[[0, 0, 1, 2, 1]][:, [0, 0, 0, 1]])


def test_oracle_through_evaluate_matches_the_generators_ceiling(traits) -> None:  # type: ignore[no-untyped-def]
    """Scored by evaluate() on sampled 1:2 U trials, the oracle lands on the generator's own
    exact all-pairs ceiling (within the identity-level interval: trials share identities, so
    the binomial one is too narrow), far above the gender-only baseline."""
    ids = np.asarray(traits.ids)
    per = 3
    item_ids = np.array([f"{i}/{k}" for i in ids for k in range(per)])
    item_idents = np.repeat(ids, per)
    zeros = np.zeros((len(item_ids), 4), np.float32)
    v = Embeddings(item_ids, item_idents, zeros, "voice")
    f = Embeddings(item_ids, item_idents, zeros, "face")
    ov, of, scorer = oracle_embeddings(traits, v, f)
    p = Protocol(tasks=["match"], directions=["v2f"], n_boot=300)
    p.matching.n_values, p.matching.constraints, p.matching.n_trials = [2], [], 20000
    p.matching.gender_balanced = False
    genders = dict(zip(ids, traits.gender.tolist(), strict=True))
    res = evaluate(ov, of, genders, p, scorer=scorer)
    m = res.get(task="match", direction="v2f", n=2, constraint="U", group="all")
    exact = oracle_report(traits, split=None, population=0).results["U"]["oracle"].acc
    iv = m.interval("bootstrap-identity")
    assert iv is not None and iv.low <= exact <= iv.high
    assert m.gender_baseline is not None and m.value > m.gender_baseline + 0.05


def test_oracle_embeddings_name_a_missing_identity(tmp_path: Path, traits) -> None:  # type: ignore[no-untyped-def]
    v = Embeddings(np.array(["a/1"]), np.array(["nobody"]), np.zeros((1, 2)), "voice")
    f = Embeddings(np.array(["b/1"]), np.array([traits.ids[0]]), np.zeros((1, 2)), "face")
    with pytest.raises(DataError, match="'nobody'.*voice"):
        oracle_embeddings(traits, v, f)
    with pytest.raises(DataError, match="traits.csv.*not found"):
        oracle_embeddings(tmp_path, v, f)
