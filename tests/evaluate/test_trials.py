"""Trial sampling: constraints, distinctness, balance, determinism; the trial file."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.errors import EvaluationError
from vfbench.evaluate.trials import (
    TrialSet,
    Universe,
    floyd_sample,
    index_map,
    match_trials,
    retrieval_sets,
    verify_pairs,
)


@pytest.fixture
def universe(make_emb):
    def build(n_ids=40, per=6):
        v, f, attrs = make_emb(n_ids=n_ids, per=per)
        return Universe.build(v.identities, f.identities, attrs), v, f

    return build


def test_floyd_distinct_in_range_and_uniform():
    rng = np.random.default_rng(0)
    avail = np.full(20000, 5)
    s = floyd_sample(avail, 3, rng)
    assert s.min() >= 0 and s.max() <= 4
    srt = np.sort(s, axis=1)
    assert np.all(srt[:, 1:] != srt[:, :-1])
    # each value appears in 3/5 of the rows
    freq = np.bincount(s.ravel(), minlength=5) / 20000
    np.testing.assert_allclose(freq, 0.6, atol=0.02)
    # per-row m with -1 padding
    s2 = floyd_sample(np.array([4, 2]), np.array([3, 1]), rng)
    assert s2.shape == (2, 3) and s2[1, 1] == -1 and s2[1, 2] == -1
    with pytest.raises(EvaluationError, match="more distinct"):
        floyd_sample(np.array([2]), 3, rng)


@pytest.mark.parametrize("constraint", ["U", "G", "N", "GN"])
def test_match_trials_respect_constraints(constraint, universe):
    u, v, f = universe()
    t = match_trials(u, "v2f", 4, 3000, np.random.default_rng(1), constraint)
    q, ident = t["query_identity"], t["cand_identity"]
    assert np.all(ident[:, 0] == q)
    # candidates: distinct identities, never the query in columns 1..
    srt = np.sort(ident, axis=1)
    assert np.all(srt[:, 1:] != srt[:, :-1])
    # item -> identity agrees with the sampled identities
    assert np.all(u.voice.codes[t["query"]] == q)
    assert np.all(u.face.codes[t["cands"]] == ident)
    if "G" in constraint:
        assert np.all(u.gender[ident[:, 1:]] == u.gender[q][:, None])
    if "N" in constraint:
        assert np.all(u.nationality[ident[:, 1:]] == u.nationality[q][:, None])


def test_gender_balance_and_determinism(make_emb):
    v, f, attrs = make_emb(n_ids=40)
    # make genders unbalanced: 30 m, 10 f
    for i, k in enumerate(sorted(attrs)):
        attrs[k]["gender"] = "m" if i < 30 else "f"
    u = Universe.build(v.identities, f.identities, attrs)
    t = match_trials(u, "v2f", 2, 20000, np.random.default_rng(2), "U", gender_balanced=True)
    assert (u.gender[t["query_identity"]] == "f").mean() == pytest.approx(0.5, abs=0.02)
    t2 = match_trials(u, "v2f", 2, 20000, np.random.default_rng(2), "U", gender_balanced=False)
    assert (u.gender[t2["query_identity"]] == "f").mean() == pytest.approx(0.25, abs=0.02)
    t3 = match_trials(u, "v2f", 2, 20000, np.random.default_rng(2), "U", gender_balanced=True)
    assert np.array_equal(t["cands"], t3["cands"])


def test_too_few_identities_for_n_raises(universe):
    u, _, _ = universe(n_ids=3)
    with pytest.raises(EvaluationError, match="no identity is eligible"):
        match_trials(u, "v2f", 5, 10, np.random.default_rng(0))
    with pytest.raises(EvaluationError, match="unknown constraint"):
        match_trials(u, "v2f", 2, 10, np.random.default_rng(0), "X")


def test_joint_and_verification_and_retrieval_sets(universe):
    u, _, _ = universe(n_ids=30, per=6)
    rng = np.random.default_rng(3)
    t = match_trials(u, "f2v", 2, 500, rng, "U", m_query=3, m_cand=4)
    assert t["query"].shape == (500, 3) and t["cands"].shape == (500, 2, 4)
    # the m items of a set are distinct and all belong to the set's identity
    assert np.all(u.face.codes[t["query"]] == t["query_identity"][:, None])
    assert np.all(np.diff(np.sort(t["cands"], axis=-1), axis=-1) != 0)
    p = verify_pairs(u, "v2f", 4000, rng)
    same = u.voice.codes[p["voice"]] == u.face.codes[p["face"]]
    assert np.array_equal(same, p["label"]) and p["label"].mean() == pytest.approx(0.5, abs=0.03)
    r = retrieval_sets(u, "v2f", rng, 10, 5, 40)
    # 10 identities, 5 gallery faces each (6 available), all 6 voices as queries (< 40)
    assert r["gallery"].size == 50 and r["queries"].size == 60
    assert np.unique(r["gallery_identity"]).size == 10
    full = retrieval_sets(u, "v2f", rng, None, None, None, max_queries=100)
    assert full["queries"].size == 100 and full["gallery"].size == 180


def test_trialset_roundtrip_hash_and_corruption(tmp_path, universe):
    u, v, f = universe(n_ids=10, per=3)
    ts = TrialSet(v.ids, f.ids, v.identities, f.identities)
    t = match_trials(u, "v2f", 2, 50, np.random.default_rng(0))
    ts.add(
        "match/v2f/n=2/U",
        {"task": "match", "direction": "v2f", "n": 2},
        {"query": t["query"], "cands": t["cands"]},
    )
    digest = ts.save(tmp_path / "t.npz")
    back = TrialSet.load(tmp_path / "t.npz")
    assert back.sha256 == digest
    assert np.array_equal(back.groups["match/v2f/n=2/U"]["cands"], t["cands"])
    assert back.meta("match/v2f/n=2/U")["n"] == 2
    # edit an array inside the file -> hash mismatch names the file
    z = dict(np.load(tmp_path / "t.npz"))
    z["match/v2f/n=2/U::cands"] = z["match/v2f/n=2/U::cands"][::-1].copy()
    np.savez(tmp_path / "bad.npz", **z)
    with pytest.raises(EvaluationError, match=r"bad\.npz: content hash mismatch"):
        TrialSet.load(tmp_path / "bad.npz")
    with pytest.raises(EvaluationError, match="not found"):
        TrialSet.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(EvaluationError, match="not a vfbench trial file"):
        TrialSet.load(tmp_path / "other.npz")


def test_index_map_names_missing_ids():
    assert index_map(np.array(["b", "a"]), np.array(["a", "b", "c"]), "voice").tolist() == [1, 0]
    with pytest.raises(EvaluationError, match=r"1 voice id\(s\).*'zz'"):
        index_map(np.array(["a", "zz"]), np.array(["a", "b"]), "voice")
    # a repeated id maps to its first position; empty inputs map to nothing
    assert index_map(np.array(["a", "b", "a"]), np.array(["b", "a", "b", "a"]), "f").tolist() == [
        1,
        0,
        1,
    ]
    assert index_map(np.array([], str), np.array(["a"]), "f").tolist() == []
    with pytest.raises(EvaluationError, match="not in the embeddings"):
        index_map(np.array(["a"]), np.array([], str), "face")


def test_joint_retrieval_sets_are_capped_at_availability(universe):
    u, _, _ = universe(n_ids=12, per=6)
    r = retrieval_sets(u, "v2f", np.random.default_rng(0), 5, 2, 3, m_query=10, m_gallery=4)
    q = r["queries"]
    assert q.shape == (15, 6)  # 6 voices available of the 10 asked
    assert np.all(q >= 0)
    assert np.all((r["gallery"] >= 0).sum(1) == 4)
    valid = q[q >= 0].reshape(15, 6)
    assert np.all(np.diff(np.sort(valid, axis=1), axis=1) != 0)
