"""Metrics: hand-computed tiny cases, scikit-learn references, plain-loop references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from vfbench.errors import EvaluationError
from vfbench.evaluate.metrics import QueryStats as _QS
from vfbench.evaluate.metrics import (
    auc_from_roc,
    average_precision,
    eer_cmpc,
    eer_from_roc,
    match_outcomes,
    retrieval_block,
    roc,
    tar_at_far,
    verification_metrics,
)


def test_match_outcomes_hand_cases_and_tie_rules():
    s = np.array(
        [
            [0.9, 0.1, 0.2],  # correct
            [0.1, 0.9, 0.2],  # wrong
            [0.5, 0.5, 0.1],  # 2-way tie with the true candidate -> 1/2
            [0.5, 0.5, 0.5],  # 3-way tie -> 1/3
            [0.4, 0.5, 0.5],  # tie among wrong ones -> 0
        ]
    )
    np.testing.assert_allclose(match_outcomes(s, "half"), [1, 0, 0.5, 1 / 3, 0])
    np.testing.assert_allclose(match_outcomes(s, "correct"), [1, 0, 1, 1, 0])
    const = np.zeros((100, 4))
    assert match_outcomes(const, "half").mean() == pytest.approx(0.25)
    assert match_outcomes(const, "correct").mean() == 1.0
    with pytest.raises(EvaluationError, match="tie rule"):
        match_outcomes(s, "first")
    with pytest.raises(EvaluationError, match=r"\(T, n>=2\)"):
        match_outcomes(np.zeros(5))


def test_auc_matches_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.random(300) < 0.4
        s = np.round(rng.normal(size=300) + y, 1)  # many ties
        assert auc_from_roc(roc(s, y)) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        w = rng.integers(0, 3, size=300).astype(float)
        ref = roc_auc_score(y, s, sample_weight=w)
        assert auc_from_roc(roc(s, y, w)) == pytest.approx(ref, abs=1e-12)
    # batched weights give one AUC per row
    w2 = np.stack([np.ones(300), w])
    got = auc_from_roc(roc(s, y, w2))
    np.testing.assert_allclose(got, [roc_auc_score(y, s), roc_auc_score(y, s, sample_weight=w)])


def test_eer_hand_case_interpolates():
    # positives 0.9, 0.6; negatives 0.7, 0.2 -> ROC points (0,0) (0,.5) (.5,.5) (.5,1) (1,1)
    s = np.array([0.9, 0.6, 0.7, 0.2])
    y = np.array([1, 1, 0, 0], bool)
    r = roc(s, y)
    np.testing.assert_allclose(r.fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(r.tpr, [0, 0.5, 0.5, 1, 1])
    # FNR-FPR: 1, .5, 0 (at (.5,.5)) -> EER = 0.5 exactly
    assert eer_from_roc(r) == pytest.approx(0.5)
    assert auc_from_roc(r) == pytest.approx(0.75)
    # perfectly separated -> EER 0, TAR at any FAR = 1
    s2 = np.array([0.9, 0.8, 0.1, 0.2])
    r2 = roc(s2, y)
    assert eer_from_roc(r2) == pytest.approx(0.0)
    assert tar_at_far(r2, 0.001) == 1.0


def test_eer_interpolation_between_points():
    # 1 positive at 0.5; negatives 0.6, 0.4 -> (0,0) (.5,0) (.5,1) (1,1): crossing on the
    # vertical segment at fpr .5 -> EER .5; a 3-point case with a sloped crossing:
    s = np.array([0.9, 0.3, 0.8, 0.1])  # pos .9 .3 ; neg .8 .1
    y = np.array([1, 1, 0, 0], bool)
    r = roc(s, y)  # (0,0) (0,.5) (.5,.5) (.5,1) (1,1)
    assert eer_from_roc(r) == pytest.approx(0.5)
    # CMPC no-interpolation EER equals FPR at argmin |FNR-FPR| on sklearn's roc_curve
    rng = np.random.default_rng(1)
    y3 = rng.random(500) < 0.5
    s3 = rng.normal(size=500) + 1.5 * y3
    fpr, tpr, _ = roc_curve(y3, s3)
    assert eer_cmpc(s3, y3) == pytest.approx(fpr[np.argmin(np.abs(1 - tpr - fpr))])
    # interpolated EER lies where the curve crosses FNR = FPR
    e = eer_from_roc(roc(s3, y3))
    assert abs(e - eer_cmpc(s3, y3)) < 0.02
    m = verification_metrics(s3, y3, (0.01,), "cmpc")
    assert m["eer"] == eer_cmpc(s3, y3) and set(m) == {"auc", "eer", "tar@far=0.01"}


def test_tar_at_far_hand_case():
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    y = np.array([1, 0, 1, 1, 0, 0], bool)
    r = roc(s, y)
    # FPR 0 allows only the first threshold: TPR 1/3
    assert tar_at_far(r, 0.0) == pytest.approx(1 / 3)
    assert tar_at_far(r, 1 / 3) == pytest.approx(1.0)


def test_verification_needs_both_classes():
    with pytest.raises(EvaluationError, match="both positive and negative"):
        roc(np.array([0.1, 0.2]), np.array([1, 1]))


def _ssnet_ap_loop(scores, rel):
    """Plain reference: stable ranking (ties in gallery order), AP over relevant ranks."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, total = 0, 0.0
    for rank, i in enumerate(order, start=1):
        if rel[i]:
            hits += 1
            total += hits / rank
    return total / max(sum(rel), 1)


def test_ap_matches_sklearn_and_loop_reference():
    rng = np.random.default_rng(2)
    for trial in range(20):
        g = int(rng.integers(5, 60))
        rel = rng.random(g) < 0.3
        rel[0] = True
        s = rng.normal(size=g).astype(np.float32)
        if trial % 2:
            s = np.round(s, 0).astype(np.float32)  # heavy ties
        assert average_precision(s, rel, "sklearn") == pytest.approx(
            average_precision_score(rel, s), abs=1e-6
        )
        assert average_precision(s, rel, "ssnet") == pytest.approx(
            _ssnet_ap_loop(s.tolist(), rel.tolist()), abs=1e-9
        )


def test_retrieval_block_hand_case_precision_recall_rprec():
    # one query, gallery of 5, relevant = cols 0 and 3; scores rank: 3,1,0,2,4
    s = np.array([[0.5, 0.8, 0.2, 0.9, 0.1]], np.float32)
    idx = np.array([[0, 3]])
    mask = np.ones((1, 2), bool)
    for ap in ("sklearn", "ssnet"):
        st = retrieval_block(s, idx, mask, (1, 2, 5), ap)
        # relevant at ranks 1 and 3 -> AP = (1/1 + 2/3) / 2
        assert st.ap[0] == pytest.approx((1 + 2 / 3) / 2)
        assert st.hits_at[1][0] == 1 and st.hits_at[2][0] == 1 and st.hits_at[5][0] == 2
        assert st.r_prec[0] == pytest.approx(0.5)  # 1 hit in the top R=2


def test_retrieval_ties_expected_hits_and_constant_scorer():
    # constant scores: sklearn AP = R/N; expected hits@k = k * R/N
    s = np.zeros((1, 10), np.float32)
    idx = np.array([[2, 5, 7, 9]])
    st = retrieval_block(s, idx, np.ones((1, 4), bool), (1, 5), "sklearn")
    assert st.ap[0] == pytest.approx(0.4)
    assert st.hits_at[1][0] == pytest.approx(0.4)
    assert st.hits_at[5][0] == pytest.approx(2.0)
    # ssnet: stable order -> ranks 3,6,8,10
    st2 = retrieval_block(s, idx, np.ones((1, 4), bool), (1,), "ssnet")
    assert st2.ap[0] == pytest.approx((1 / 3 + 2 / 6 + 3 / 8 + 4 / 10) / 4)


def test_retrieval_padding_and_no_relevant():
    s = np.array([[0.3, 0.2, 0.1], [0.1, 0.2, 0.3]], np.float32)
    idx = np.array([[0, 1], [0, 0]])
    mask = np.array([[True, True], [False, False]])
    st = retrieval_block(s, idx, mask, (1,), "sklearn")
    assert st.ap[0] == pytest.approx(1.0) and st.ap[1] == 0.0
    with pytest.raises(EvaluationError, match="AP variant"):
        retrieval_block(s, idx, mask, (1,), "trec")


def test_one_to_two_fast_path_equals_the_general_tie_rule() -> None:
    rng = np.random.default_rng(3)
    s = rng.integers(0, 3, size=(500, 2)).astype(np.float32)  # many ties
    three = np.concatenate([s, np.full((500, 1), -9.0, np.float32)], axis=1)  # general path
    for rule in ("half", "correct"):
        assert np.array_equal(match_outcomes(s, rule), match_outcomes(three, rule))
    assert set(np.unique(match_outcomes(s, "half"))) == {0.0, 0.5, 1.0}


def _ssnet_argsort(
    s: np.ndarray, rel_idx: np.ndarray, rel_mask: np.ndarray, ks: tuple[int, ...]
) -> _QS:
    """Reference: SSNet-style statistics by a stable argsort of each row."""
    q, g = s.shape
    n_rel = rel_mask.sum(axis=1)
    order = np.argsort(-s, axis=1, kind="stable")
    relm = np.zeros((q, g), dtype=bool)
    relm[np.repeat(np.arange(q), rel_mask.sum(1)), rel_idx[rel_mask]] = True
    rel_sorted = np.take_along_axis(relm, order, axis=1)
    cum = np.cumsum(rel_sorted, axis=1, dtype=np.int64)
    ranks = np.arange(1, g + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        apv = np.where(n_rel > 0, (rel_sorted * (cum / ranks)).sum(1) / np.maximum(n_rel, 1), 0.0)
    hits = {k: cum[:, min(k, g) - 1].astype(np.float64) for k in ks}
    rp_idx = np.clip(n_rel - 1, 0, g - 1)
    rprec = np.where(n_rel > 0, cum[np.arange(q), rp_idx] / np.maximum(n_rel, 1), 0.0)
    return _QS(apv, hits, rprec, n_rel)


def test_ssnet_binary_search_path_equals_the_stable_argsort_reference() -> None:
    rng = np.random.default_rng(11)
    q, g, r = 40, 300, 12
    s = rng.normal(size=(q, g)).astype(np.float32)
    s[::3] = np.round(s[::3] * 2) / 2  # every third row heavily tied: the fallback
    rel_idx = np.stack([rng.choice(g, r, replace=False) for _ in range(q)])
    rel_mask = rng.random((q, r)) < 0.8
    rel_mask[5] = False  # a query without relevant items
    got = retrieval_block(s, rel_idx, rel_mask, (1, 5, 50), "ssnet")
    ref = _ssnet_argsort(s, rel_idx, rel_mask, (1, 5, 50))
    np.testing.assert_allclose(got.ap, ref.ap, atol=1e-12)
    np.testing.assert_allclose(got.r_prec, ref.r_prec, atol=1e-12)
    for k in (1, 5, 50):
        np.testing.assert_array_equal(got.hits_at[k], ref.hits_at[k])
    assert got.ap[5] == 0.0 and 0.0 < got.ap.max() <= 1.0


@pytest.mark.parametrize("ap", ["sklearn", "ssnet"])
@pytest.mark.parametrize("ties", [False, True])
def test_gallery_streaming_gives_the_in_memory_figures(tmp_path, ap: str, ties: bool) -> None:
    from vfbench.evaluate.metrics import rank_retrieval
    from vfbench.evaluate.scoring import normalize

    rng = np.random.default_rng(21 + ties)
    qv = rng.normal(size=(70, 16)).astype(np.float32)
    gv = rng.normal(size=(257, 16)).astype(np.float32)
    if ties:  # small integer vectors: many exactly equal dot products
        qv, gv = np.round(qv).astype(np.float32), np.round(gv).astype(np.float32)
    else:
        qv, gv = normalize(qv), normalize(gv)
    qc = rng.integers(0, 30, 70)
    gc = rng.integers(0, 30, 257)
    qc[0] = 99  # a query with no relevant gallery item
    scorer = "dot" if ties else "cosine"
    for direction in ("v2f", "f2v"):
        ref = rank_retrieval(qv, gv, qc, gc, scorer, ap, (1, 5, 20), direction)
        np.save(tmp_path / "g.npy", gv)
        mm = np.load(tmp_path / "g.npy", mmap_mode="r")
        for got in (
            rank_retrieval(qv, gv, qc, gc, scorer, ap, (1, 5, 20), direction, gallery_rows=40),
            rank_retrieval(
                qv,
                mm,
                qc,
                gc,
                scorer,
                ap,
                (1, 5, 20),
                direction,
                block_elems=1000,
                gallery_rows=64,
            ),
        ):
            assert set(got) == set(ref)
            for key in ref:
                np.testing.assert_allclose(got[key], ref[key], atol=1e-9, err_msg=key)
        assert ref["ap"][0] == 0.0 and ref["n_rel"][0] == 0
