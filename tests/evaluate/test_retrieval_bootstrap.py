"""All-roles identity bootstrap of retrieval (issue #20.1): every replicate is the plain
metric of an explicitly duplicated test set."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score

from vfbench.errors import EvaluationError
from vfbench.evaluate.confidence import (
    bootstrap_weights,
    retrieval_cells,
    retrieval_figures,
    retrieval_replicates,
)
from vfbench.evaluate.metrics import rank_retrieval, retrieval_block

KS = (1, 3)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _toy(seed: int, ties: bool):
    """6 identities (labels not 0..I-1, one gallery-only, one query-only), 1-3 gallery items
    and 1-3 queries each. ``ties``: vectors from a 3-point set, so scores tie exactly
    (relevant with non-relevant, and relevant with relevant)."""
    rng = np.random.default_rng(seed)
    labels = np.array([3, 8, 11, 20, 21, 40])
    gper, qper = [2, 1, 3, 2, 2, 0], [1, 2, 3, 1, 2, 2]
    gc = np.repeat(labels, gper)
    qc = np.repeat(labels, qper)
    rng.shuffle(gc)  # gallery not grouped by identity: the SSNet tie order is gallery order
    if ties:
        pts = _unit(np.array([[1.0, 0, 0], [0.6, 0.8, 0], [0, 0, 1.0]]))
        gv, qv = pts[rng.integers(0, 3, gc.size)], pts[rng.integers(0, 3, qc.size)]
    else:
        gv, qv = _unit(rng.normal(size=(gc.size, 5))), _unit(rng.normal(size=(qc.size, 5)))
    return qv, gv, qc, gc


def _brute(qv, gv, qc, gc, mult: dict[int, int], ap: str) -> dict[str, float]:
    """The plain metrics of the test set where identity i appears mult[i] times: every copy
    is a query set and a gallery; a query sees its own copy's items as relevant, w_j copies
    of every other identity j's items (a copy right after its original: SSNet's gallery
    order), and not the other copies of its own identity (the documented choice)."""
    s = qv @ gv.T
    vals: dict[str, list[float]] = {}
    for i in range(qc.size):
        cols = [g for g in range(gc.size) for _ in range(1 if gc[g] == qc[i] else mult[gc[g]])]
        row = s[i, cols][None, :].astype(np.float32)
        rel = np.flatnonzero(gc[cols] == qc[i])
        mask = np.ones((1, rel.size), bool)
        st = retrieval_block(row, rel[None, :], mask, KS, ap)
        if ap == "sklearn" and rel.size:  # the plain metric, independently: scikit-learn
            ref = average_precision_score(gc[cols] == qc[i], row[0])
            assert st.ap[0] == pytest.approx(ref, abs=1e-12)
        figs = {"mAP": st.ap[0], "R-precision": st.r_prec[0]}
        for k in KS:
            figs[f"p@{k}"] = st.hits_at[k][0] / k
            figs[f"recall@{k}"] = st.hits_at[k][0] / max(rel.size, 1) if rel.size else 0.0
        for _ in range(mult[qc[i]]):  # every copy of the query's identity asks it again
            for name, v in figs.items():
                vals.setdefault(name, []).append(float(v))
    return {name: float(np.mean(v)) for name, v in vals.items()}


@pytest.mark.parametrize("ap", ["sklearn", "ssnet"])
@pytest.mark.parametrize("ties", [False, True])
def test_replicates_equal_the_metric_on_an_explicitly_duplicated_set(ap, ties):
    qv, gv, qc, gc = _toy(7 if ties else 3, ties)
    labels = np.unique(np.concatenate([qc, gc]))
    w = bootstrap_weights(labels.size, 12, np.random.default_rng(5)).T  # (I, B)
    w[:, 0] = 1.0  # the plain test set
    w[:, 1] = 0.0
    w[[0, 5], 1] = [3.0, 3.0]  # only two identities, one query-only: a tiny set
    w = w[:, w[np.searchsorted(labels, np.unique(qc))].sum(0) > 0]  # some query survives
    figs = retrieval_figures(qv, gv, qc, gc, w, ap=ap, ks=KS, block_elems=16)
    for b in range(w.shape[1]):
        ref = _brute(
            qv, gv, qc, gc, dict(zip(labels.tolist(), w[:, b].astype(int), strict=True)), ap
        )
        for name, v in ref.items():
            assert figs[name][b] == pytest.approx(v, abs=1e-6), (name, b)
    st = rank_retrieval(qv, gv, qc, gc, "cosine", ap, KS)  # w = 1: the reported figures
    assert figs["mAP"][0] == pytest.approx(st["ap"].mean(), abs=1e-6)
    assert figs["p@3"][0] == pytest.approx((st["hits@3"] / 3).mean(), abs=1e-6)


def test_ties_follow_the_ap_rule():
    """One query, two relevant items and two distractors, all four tied at score 1: the
    sklearn AP puts the block in at once (2/4 = 0.5, p@1 = 1/2 expected), SSNet's order is
    the gallery order (relevant first here: AP 1). Duplicating the distractor identity
    (w = 2) doubles it in the block: sklearn 2/6, SSNet still 1 (copies sit after)."""
    qv = _unit(np.array([[1.0, 0.0]]))
    gv = _unit(np.array([[1.0, 0.0]] * 4))
    qc, gc = np.array([0]), np.array([0, 0, 1, 1])
    w = np.array([[1.0, 1.0], [1.0, 2.0]])
    sk = retrieval_figures(qv, gv, qc, gc, w, ap="sklearn", ks=(1,))
    assert sk["mAP"] == pytest.approx([0.5, 2 / 6])
    assert sk["p@1"] == pytest.approx([0.5, 2 / 6])
    assert sk["R-precision"] == pytest.approx([0.5, 2 / 6])  # 2 of 4 (6) tied land in the top 2
    ss = retrieval_figures(qv, gv, qc, gc, w, ap="ssnet", ks=(1,))
    assert ss["mAP"] == pytest.approx([1.0, 1.0])
    gv2 = gv[[2, 3, 0, 1]]  # distractors first in the gallery: ranks 3 and 4, then 5 and 6
    ss2 = retrieval_figures(qv, gv2, qc, gc[[2, 3, 0, 1]], w, ap="ssnet", ks=(1,))
    assert ss2["mAP"] == pytest.approx([(1 / 3 + 2 / 4) / 2, (1 / 5 + 2 / 6) / 2])


def test_replicates_use_the_one_resampling_primitive():
    qv, gv, qc, gc = _toy(1, False)
    n_ids = np.unique(np.concatenate([qc, gc])).size
    reps = retrieval_replicates(qv, gv, qc, gc, 50, np.random.default_rng(9), ks=KS)
    w = bootstrap_weights(n_ids, 50, np.random.default_rng(9)).T
    ref = retrieval_figures(qv, gv, qc, gc, w, ks=KS)
    for name in ref:
        np.testing.assert_allclose(reps[name], ref[name], rtol=1e-12)
    assert np.isfinite(reps["mAP"]).mean() > 0.9  # NaN only when no query identity is drawn


def test_cells_and_bad_weights():
    qc, gc = np.array([1, 1, 2]), np.array([1, 1, 1, 2, 5])
    assert retrieval_cells(qc, gc) == 3 * 3 * 3  # Q x most relevant items x identities
    qv, gv = _unit(np.ones((3, 2))), _unit(np.ones((5, 2)))
    with pytest.raises(EvaluationError, match=r"\(3, B\)"):
        retrieval_figures(qv, gv, qc, gc, np.ones((2, 4)))


def _retrieval_protocol(directions: tuple[str, ...] = ("v2f", "f2v")):
    from vfbench.evaluate.protocol import Protocol

    p = Protocol.quick()
    p.tasks = ["retrieve"]
    p.directions = list(directions)
    p.n_boot = 200
    p.retrieval.full = False
    return p


def test_evaluate_reports_the_all_roles_interval_by_default(make_emb):
    from vfbench.evaluate.api import evaluate

    v, f, attrs = make_emb(n_ids=16, per=4, noise=1.5)
    res = evaluate(v, f, attrs, _retrieval_protocol())
    rows = [m for m in res.metrics if m.task == "retrieve"]
    names = {m.name for m in rows}
    assert {"mAP", "R-precision", "p@1", "recall@5"} <= names
    for m in rows:
        a, q = m.intervals["bootstrap-all"], m.intervals["bootstrap-identity"]
        j, js = m.intervals["jackknife-all"], m.intervals["jackknife-all-t"]
        assert m.interval() is js  # the default interval of the row (coverage, docs)
        assert j.low <= m.value <= j.high and a.low <= m.value <= a.high
        assert js.low <= m.value <= js.high
        if 0.0 < js.low and js.high < 1.0 and 0.0 < j.low and j.high < 1.0:
            # same se: the default is t(df) / z times as long as the plain jackknife, df the
            # effective identities the row records (tests/evaluate/test_jackknife_t.py)
            df = m.params["jackknife_df"]
            assert 1 <= df <= m.n_identities - 1
            t = stats.t.ppf(0.975, df)
            assert js.high - js.low == pytest.approx((j.high - j.low) * t / 1.959964, rel=1e-5)
        assert a.n == q.n == j.n == js.n == m.n
        assert "bootstrap_all_skipped" not in m.params
    # gallery identities resampled too: wider than the query-only interval on average
    wa = np.mean([m.intervals["bootstrap-all"].half_width for m in rows if m.name == "mAP"])
    wq = np.mean([m.intervals["bootstrap-identity"].half_width for m in rows if m.name == "mAP"])
    assert wa > wq
    wj = np.mean([m.intervals["jackknife-all"].half_width for m in rows if m.name == "mAP"])
    assert wj > wq
    perfect = evaluate(*make_emb(n_ids=16, per=4, noise=0.0), _retrieval_protocol())
    m = perfect.get(
        task="retrieve", name="mAP", direction="v2f"
    )  # every resampled set is still perfect
    assert (m.value, m.intervals["bootstrap-all"].low) == pytest.approx((1.0, 1.0))


def test_too_large_sets_fall_back_to_the_query_bootstrap_and_say_why(make_emb, monkeypatch):
    from vfbench.evaluate import confidence
    from vfbench.evaluate.api import evaluate

    v, f, attrs = make_emb(n_ids=10, per=3, noise=1.0)
    p = _retrieval_protocol(("v2f",))
    full = evaluate(v, f, attrs, p).get(task="retrieve", name="mAP")
    monkeypatch.setattr(confidence, "RETRIEVAL_MAX_CELLS", 10)
    res = evaluate(v, f, attrs, p)
    m = res.get(task="retrieve", name="mAP")
    assert "bootstrap-all" not in m.intervals and "jackknife-all" not in m.intervals
    assert "jackknife-all-t" not in m.intervals
    assert m.interval() is m.intervals["bootstrap-identity"]
    assert m.intervals["bootstrap-identity"] == full.intervals["bootstrap-identity"]
    cells = retrieval_cells(np.repeat(np.arange(10), 3), np.repeat(np.arange(10), 3))
    assert f"{cells:,} count cells > 10" in m.params["bootstrap_all_skipped"]
    assert any("all-roles bootstrap not computed" in w for w in res.warnings)


def test_centred_interval_shifts_the_percentiles_by_the_replicates_mean_offset():
    from vfbench.evaluate.confidence import centred_interval

    reps = np.r_[0.3 + np.linspace(0.0, 0.2, 101), np.nan]  # mean 0.4, one undefined
    est, shift = centred_interval(0.35, reps, 0.9, 7, "bootstrap-all")
    lo, hi = np.quantile(reps[:-1], [0.05, 0.95])
    assert shift == pytest.approx(0.05)
    assert (est.value, est.low, est.high, est.n) == pytest.approx((0.35, lo - 0.05, hi - 0.05, 7))
    clipped, _ = centred_interval(0.99, np.linspace(0.9, 1.0, 11), 0.9, 3, "bootstrap-all")
    assert clipped.high == 1.0 and clipped.low == pytest.approx(0.99 - 0.045)
    none, s = centred_interval(0.5, np.array([np.nan]), 0.95, 1, "bootstrap-all")
    assert np.isnan(none.low) and np.isnan(s)


def test_paired_retrieval_bootstrap_resamples_both_systems_with_the_same_draws(tmp_path):
    from vfbench.evaluate.confidence import (
        centred_interval,
        paired_retrieval_bootstrap,
        save_counts,
    )
    from vfbench.evaluate.results import load_outcomes, save_outcomes

    qv, gv, qc, gc = _toy(2, False)
    rng = np.random.default_rng(4)
    qv2 = _unit(qv + 0.8 * rng.normal(size=qv.shape))  # a second, noisier system
    saved = {}
    for name, q in (("a", qv), ("b", qv2)):
        keep: list = []
        retrieval_replicates(q, gv, qc, gc, 10, np.random.default_rng(0), ks=KS, keep=keep)
        saved[name] = save_counts(keep)
    save_outcomes(tmp_path / "o.npz", saved)  # what compare reads back
    saved = load_outcomes(tmp_path / "o.npz")
    est, p = paired_retrieval_bootstrap(saved["a"], saved["b"], 400, 0.9, 3)
    w = bootstrap_weights(np.unique(np.concatenate([qc, gc])).size, 400, np.random.default_rng(3)).T
    diff = (
        retrieval_figures(qv, gv, qc, gc, w)["mAP"] - retrieval_figures(qv2, gv, qc, gc, w)["mAP"]
    )
    point = (
        rank_retrieval(qv, gv, qc, gc)["ap"].mean() - rank_retrieval(qv2, gv, qc, gc)["ap"].mean()
    )
    ref, _ = centred_interval(point, diff, 0.9, qc.size, "paired-bootstrap", (-1.0, 1.0))
    assert (est.value, est.low, est.high) == pytest.approx((ref.value, ref.low, ref.high), abs=1e-6)
    assert 0 < p <= 1
    same, p_same = paired_retrieval_bootstrap(saved["a"], saved["a"], 100)
    assert (same.value, same.low, same.high, p_same) == (0.0, 0.0, 0.0, 1.0)


def test_compare_resamples_retrieval_in_every_role(make_emb):
    from vfbench.evaluate.api import evaluate, make_trials
    from vfbench.report.compare import compare_results

    v, f, attrs = make_emb(n_ids=14, per=4, noise=1.0)
    v2, f2, _ = make_emb(n_ids=14, per=4, noise=2.0, seed=1)
    p = _retrieval_protocol(("v2f",))
    ts = make_trials(v, f, attrs, p)
    a, b = evaluate(v, f, attrs, p, trials=ts), evaluate(v2, f2, attrs, p, trials=ts)
    (row,) = compare_results(a, b, n_boot=200)
    assert row.resampling == "all roles" and row.metric == "mAP"
    assert row.diff.value == pytest.approx(row.a - row.b, abs=1e-6)
    assert row.diff.low <= row.diff.value <= row.diff.high


def test_retrieval_coverage_design_and_a_short_simulation():
    from vfbench.evaluate.coverage import RetrievalDesign, per_query, retrieval_coverage

    d = RetrievalDesign("f2v", 30, 2.0, 0.5, 1.2, target_sets=40)
    s, qc, gc = d.draw(np.random.default_rng(0))
    assert s.shape == (30 * 4, 30 * 5) and s.dtype == np.float32
    same = qc[:, None] == gc[None, :]
    assert s[same].mean() == pytest.approx(2.0, abs=0.3)  # mu + a_q + e
    ap = per_query(s, qc, gc)
    for i in (0, 17, 119):
        assert ap[i] == pytest.approx(average_precision_score(gc == qc[i], s[i]), abs=1e-9)
    target, se = d.target()
    assert 0.0 < se < 0.02 and 0.05 < target < 0.6
    c = retrieval_coverage(d, 30, n_boot=200, target=target)
    # strong distractors: the query-only intervals miss far more often than the default
    assert c["bootstrap-all"] >= 0.8 and c["bootstrap-all"] > c["bootstrap-identity"] + 0.1
    assert c["jackknife-all"] >= 0.8 and c["jackknife-all"] > c["bootstrap-identity"] + 0.1


def test_jackknife_values_are_the_metric_with_one_identity_left_out():
    """After the replicates come the I leave-one-identity-out figures: the plain metric
    (rank_retrieval) of the set without that identity's queries and gallery items."""
    from vfbench.evaluate.confidence import jackknife_interval

    qv, gv, qc, gc = _toy(5, True)
    labels = np.unique(np.concatenate([qc, gc]))
    out = retrieval_replicates(qv, gv, qc, gc, 7, np.random.default_rng(0), ks=KS, jackknife=True)
    loo = out["mAP"][7:]
    assert loo.size == labels.size
    for i, lab in enumerate(labels):
        kq, kg = qc != lab, gc != lab
        if not kq.any():
            assert np.isnan(loo[i])
            continue
        st = rank_retrieval(qv[kq], gv[kg], qc[kq], gc[kg], "cosine", "sklearn", KS)
        assert loo[i] == pytest.approx(st["ap"].mean(), abs=1e-6)
        assert out["p@3"][7 + i] == pytest.approx((st["hits@3"] / 3).mean(), abs=1e-6)
    est = jackknife_interval(0.4, np.array([0.3, 0.5, np.nan, 0.4]), 0.95, 9)
    se = np.sqrt(2 / 3 * 0.02)  # (m - 1) / m * sum of squared deviations, m = 3
    assert (est.low, est.high, est.n) == pytest.approx(
        (0.4 - 1.959964 * se, 0.4 + 1.959964 * se, 9)
    )


def _stats_before(c, w, ks):
    """The per-query-major formula :func:`retrieval_stats` had before its item-major,
    in-place rewrite (the reference its figures must equal bit for bit)."""
    qb, r = c.mask.shape
    b = w.shape[1]
    w32 = np.asarray(w, dtype=np.float32)
    m = c.mask[..., None]
    n_rel = c.mask.sum(1).astype(np.float64)
    inv_rel = np.where(n_rel > 0, 1.0 / np.maximum(n_rel, 1), 0.0)[:, None]
    n_hi = (c.hi @ w32).reshape(qb, r, b) + c.rel_hi[..., None]
    out = {"mAP": (c.rel_hi[..., None] / np.maximum(n_hi, 1.0)).sum(1) * inv_rel}
    if c.lo is None and np.array_equal(c.rel_lo, c.rel_hi - c.mask):
        above = np.where(m, n_hi - 1.0, np.inf)

        def hits(k):
            kk = np.asarray(k, dtype=np.float32)
            return (above < (kk[:, None, None] if kk.ndim else kk)).sum(1).astype(np.float64)

    else:
        nw_lo = n_hi - c.rel_hi[..., None] if c.lo is None else (c.lo @ w32).reshape(qb, r, b)
        n_lo = nw_lo + c.rel_lo[..., None]
        tie = np.maximum(n_hi - n_lo, 1.0)

        def hits(k):
            kk = np.asarray(k, dtype=np.float32)
            kk = kk[:, None, None] if kk.ndim else kk
            return np.where(m, np.clip((kk - n_lo) / tie, 0.0, 1.0), 0.0).sum(1)

    out["R-precision"] = hits(n_rel) * inv_rel
    for k in ks:
        out[f"p@{k}"] = hits(k) / k
        out[f"recall@{k}"] = hits(k) * inv_rel
    return out


@pytest.mark.parametrize(
    ("ap", "levels"),
    [("sklearn", 0), ("sklearn", 3), ("sklearn", 40), ("ssnet", 3)],
)
def test_item_major_stats_equal_the_previous_formula_bit_for_bit(ap, levels):
    """Demo-sized sets (80 identities, 5 gallery items and 8 queries each, 1,080 replicate
    and jackknife weights): continuous scores (no ties), scores on a coarse grid (relevant
    items tie with each other and with distractors: the ``lo`` tables), a finer grid (fewer
    ties), SSNet order; queries with fewer relevant items (padding) included."""
    from vfbench.evaluate.confidence import identity_rank_counts, retrieval_stats

    rng = np.random.default_rng(levels)
    n_ids = 80
    gc = np.repeat(np.arange(n_ids), 5)[:-7]  # the last identities hold fewer items
    qc = np.repeat(np.arange(n_ids), 8)
    s = rng.normal(size=(qc.size, gc.size)).astype(np.float32)
    if levels:
        s = np.round(s * levels / 4).astype(np.float32)
    w = bootstrap_weights(n_ids, 1000, rng).T
    w = np.concatenate([w, 1.0 - np.eye(n_ids)], axis=1)
    lo_seen = False
    for a in range(0, qc.size, 211):  # uneven query blocks
        c = identity_rank_counts(s[a : a + 211], qc[a : a + 211], gc, n_ids, ap)
        lo_seen = lo_seen or c.lo is not None
        new, old = retrieval_stats(c, w, (1, 5, 10)), _stats_before(c, w, (1, 5, 10))
        assert new.keys() == old.keys()
        for name in old:
            assert new[name].dtype == old[name].dtype, name
            np.testing.assert_array_equal(new[name], old[name], err_msg=name)
        has_rel = c.mask.any(1)  # the last identity has no gallery items left
        assert (new["mAP"][has_rel] > 0).all() and (new["mAP"][~has_rel] == 0).all()
        assert ((new["p@10"] >= 0) & (new["p@10"] <= 1)).all()
    assert not has_rel.all()
    assert lo_seen == (levels in (3, 40) and ap == "sklearn")  # the distractor-tie tables


@pytest.mark.parametrize("ties", ["none", "relevant", "distractors"])
def test_cache_sized_tiles_give_the_untiled_figures_bit_for_bit(ties, monkeypatch):
    """counts_figures evaluates the per-query figures in cache-sized (query x replicate)
    tiles, one formula per block (a tile without ties uses the block's tie formula when the
    block has ties), and sums over the block's queries as before: the figures equal one
    whole-block pass exactly, also against the previous formula (``_stats_before``).
    Ties on the last 40 queries only: among their relevant items (no ``lo`` tables), or
    with distractors too."""
    from vfbench.evaluate import confidence
    from vfbench.evaluate.confidence import counts_figures, identity_rank_counts

    rng = np.random.default_rng(len(ties))
    n_ids = 80
    gc = np.repeat(np.arange(n_ids), 5)
    qc = np.repeat(np.arange(n_ids), 8)
    s = rng.normal(size=(qc.size, gc.size)).astype(np.float32)
    if ties == "relevant":  # two relevant items of each query share a score
        s[np.arange(600, 640), 5 * qc[600:] + 1] = s[np.arange(600, 640), 5 * qc[600:]]
    elif ties == "distractors":
        s[600:] = np.round(s[600:] * 1.5)
    w = np.concatenate([bootstrap_weights(n_ids, 300, rng).T, 1.0 - np.eye(n_ids)], axis=1)
    blocks = [identity_rank_counts(s, qc, gc, n_ids)]  # 640 queries x 5 relevant items
    assert (blocks[0].lo is not None) == (ties == "distractors")
    q_rows = confidence.STATS_TILE_ELEMS // (5 * confidence.STATS_TILE_COLS)
    assert q_rows < 600  # tiles with ties and tiles without
    ks = (1, 5, 10)
    tiled = counts_figures(blocks, w, ks)
    monkeypatch.setattr(confidence, "STATS_TILE_ELEMS", 1 << 40)
    monkeypatch.setattr(confidence, "STATS_TILE_COLS", 1 << 40)
    whole = counts_figures(blocks, w, ks)
    monkeypatch.setattr(
        confidence, "retrieval_stats", lambda c, wb, k, _=None: _stats_before(c, wb, k)
    )
    before = counts_figures(blocks, w, ks)
    for name in whole:
        np.testing.assert_array_equal(tiled[name], whole[name], err_msg=name)
        np.testing.assert_array_equal(tiled[name], before[name], err_msg=name)
    assert np.isfinite(tiled["mAP"]).all() and np.ptp(tiled["mAP"]) > 0
