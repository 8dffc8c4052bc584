"""The wrong numbers of issue #20 section 2, each against a hand computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vfbench.evaluate.confidence import verification_replicates
from vfbench.evaluate.metrics import eer_from_roc, rank_retrieval, roc, tar_at_far
from vfbench.evaluate.tasks.retrieve import expected_random_ap


def _ap_of_order(rel_in_order: np.ndarray) -> float:
    hits = np.cumsum(rel_in_order)
    ranks = np.flatnonzero(rel_in_order) + 1
    return float((hits[rel_in_order.astype(bool)] / ranks).mean())


def test_ssnet_ap_breaks_ties_by_gallery_position_not_identity_code():
    # one query direction, gallery of 3 items with the same score: identity 1 (code 1) first
    # in the gallery, then identity 0, then identity 1 again. SSNet's stable sort keeps
    # gallery order: a query of identity 0 finds its item at rank 2 (AP 1/2); a query of
    # identity 1 at ranks 1 and 3 (AP (1 + 2/3) / 2). Ordering by identity code instead
    # would put identity 0 first (AP 1 for it).
    q = np.ones((2, 2), np.float32)
    g = np.ones((3, 2), np.float32)
    st = rank_retrieval(q, g, np.array([0, 1]), np.array([1, 0, 1]), "dot", "ssnet", (1,))
    assert st["ap"][0] == pytest.approx(0.5)
    assert st["ap"][1] == pytest.approx((1 + 2 / 3) / 2)
    # the gallery-streaming path agrees
    st2 = rank_retrieval(
        q, g, np.array([0, 1]), np.array([1, 0, 1]), "dot", "ssnet", (1,), gallery_rows=2
    )
    assert np.allclose(st2["ap"], st["ap"])


def test_retrieval_gender_baseline_is_the_exact_expectation_not_one_draw():
    # 6 gallery items: identities 0..2 (2 items each); identities 0, 1 male, 2 female.
    # A male query of identity 0: same-gender block of 4 items holding its 2 relevant ones.
    gc = np.array([0, 0, 1, 1, 2, 2])
    gender = np.array(["m", "m", "f"])
    qc = np.array([0])

    def ranked() -> dict[str, np.ndarray]:
        return rank_retrieval(
            np.zeros((1, 1), np.float32),
            np.zeros((6, 1), np.float32),
            qc,
            gc,
            "dot",
            "sklearn",
            (1, 2),
            attrs=(gender[qc], gender[gc]),
        )

    st = ranked()
    # p@1 = expected hits in the top 1 of a random order of the block = 2/4
    assert st["hits@1"][0] == pytest.approx(0.5)
    assert st["hits@2"][0] == pytest.approx(2 * 2 / 4)
    # E[AP] over every order of the block (relevant: 2 of 4), by enumeration
    aps = [_ap_of_order(np.array(o)) for o in set(itertools.permutations([1, 1, 0, 0]))]
    assert expected_random_ap(np.array([2]), 4)[0] == pytest.approx(np.mean(aps))
    # and run twice gives the same numbers (no random draw)
    st2 = ranked()
    assert st2["hits@1"][0] == st["hits@1"][0]


def test_retrieval_gender_baseline_row_not_below_chance(make_emb):
    from vfbench.evaluate.api import evaluate
    from vfbench.evaluate.protocol import Protocol

    v, f, attrs = make_emb(n_ids=33, per=5, random=True, seed=3)
    p = Protocol.quick()
    p.tasks, p.directions, p.n_boot = ["retrieve"], ["v2f"], 50
    p.retrieval.full = False
    p.retrieval.n_identities = 100  # all 33
    res = evaluate(v, f, attrs, p)
    for name in ("mAP", "p@1"):
        m = res.get(task="retrieve", name=name)
        assert m.gender_baseline > m.chance, name
    m = res.get(task="retrieve", name="p@1")
    # 5 relevant of 5 x 17 (query of a male identity: 17 of 33 are male) or 5 x 16
    want = np.mean([5 / 85 if int(n[1:]) % 2 == 0 else 5 / 80 for n in attrs])
    assert m.gender_baseline == pytest.approx(want, rel=0.1)


def test_eer_and_tar_of_a_replicate_without_positives_are_nan():
    s = np.array([0.9, 0.8, 0.3, 0.1])
    y = np.array([True, False, True, False])
    w = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
    r = roc(s, y, w)
    e = eer_from_roc(r)
    assert e[0] == pytest.approx(0.5)
    assert np.isnan(e[1]) and np.isnan(e[2])  # no positives / no negatives: undefined
    t = tar_at_far(r, 0.01)
    assert t[0] == pytest.approx(0.5) and np.isnan(t[1]) and np.isnan(t[2])


def test_verification_bootstrap_drops_undefined_replicates():
    # two anchor identities; all positives belong to identity 0: replicates that do not
    # draw identity 0 have no positive pair and must be NaN, not EER 1.0
    s = np.array([0.9, 0.2, 0.4, 0.3])
    y = np.array([True, False, False, False])
    roles = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    roles[3] = [1, 0]
    reps = verification_replicates(
        s, y, roles, 400, np.random.default_rng(0), (0.01,), all_roles=False
    )
    undefined = ~np.isfinite(reps["eer"])
    assert 0.1 < undefined.mean() < 0.4  # P(identity 0 not drawn) = 1/4
    assert np.all(reps["eer"][~undefined] <= 0.5)
    assert not np.any(reps["eer"] == 1.0)


def test_ssnet_ap_with_many_ties_equals_a_plain_stable_sort_loop():
    rng = np.random.default_rng(4)
    q, g = 30, 60
    qc = rng.integers(0, 10, q)
    gc = rng.integers(0, 10, g)
    qv = rng.integers(0, 3, (q, 2)).astype(np.float32)  # few distinct scores: many ties
    gv = rng.integers(0, 3, (g, 2)).astype(np.float32)
    st = rank_retrieval(qv, gv, qc, gc, "dot", "ssnet", (1, 5))
    s = qv @ gv.T
    for i in range(q):
        order = sorted(range(g), key=lambda j: (-s[i, j], j))  # ties in gallery order
        rel = (gc[order] == qc[i]).astype(float)
        want = _ap_of_order(rel) if rel.any() else 0.0
        assert st["ap"][i] == pytest.approx(want), i
        assert st["hits@5"][i] == rel[:5].sum()
