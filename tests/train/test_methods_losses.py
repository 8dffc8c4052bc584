"""The compared methods' objectives against plain hand-written loops on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from vfbench.errors import ConfigError
from vfbench.methods.base import PairMatcher
from vfbench.train.losses import create_loss
from vfbench.train.losses.curriculum_contrastive import choose_negatives, hard_fraction
from vfbench.train.losses.kim_triplet import random_triplets

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def _data(nv: int = 6, nf: int = 6, d: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(nv, d, generator=g, dtype=torch.float64)
    f = torch.randn(nf, d, generator=g, dtype=torch.float64)
    lv = torch.tensor([0, 0, 1, 1, 2, 3][:nv])
    lf = torch.tensor([0, 1, 1, 2, 2, 3][:nf])
    return v, lv, f, lf


def _dist(a: torch.Tensor, b: torch.Tensor) -> float:
    return math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b, strict=True)))


# ------------------------------------------------------------------ SVHF forced choice
def _ce(logits: list[float]) -> float:
    m = max(logits)
    return -(logits[0] - m) + math.log(sum(math.exp(x - m) for x in logits))


def test_forced_choice_1to2_equals_loop_of_two_way_softmax() -> None:
    v, lv, f, lf = _data()
    matcher = PairMatcher(4, hidden=5, product=True).double().eval()
    loss = create_loss("forced_choice", score_fn=matcher.matrix, n_candidates=2)
    got = float(loss(v, lv, f, lf))

    def score(x: torch.Tensor, y: torch.Tensor, flip: bool) -> float:
        vv, ff = (y, x) if flip else (x, y)  # the matcher takes (voice, face)
        return float(matcher.pairs(vv[None], ff[None])[0])

    parts = []
    for anchors, la, cands, lc, flip in ((v, lv, f, lf, False), (f, lf, v, lv, True)):
        vals = []
        for a in range(len(anchors)):
            for p in range(len(cands)):
                for n in range(len(cands)):
                    if la[a] == lc[p] and la[a] != lc[n]:
                        sp = score(anchors[a], cands[p], flip)
                        sn = score(anchors[a], cands[n], flip)
                        vals.append(_ce([sp, sn]))
        parts.append(sum(vals) / len(vals))
    assert got == pytest.approx(sum(parts) / 2, rel=1e-9)


def test_forced_choice_matrix_equals_pairs() -> None:
    v, _, f, _ = _data()
    m = PairMatcher(4, hidden=3, product=True).double().eval()
    mat = m.matrix(v, f)
    for i in range(len(v)):
        for j in range(len(f)):
            assert float(mat[i, j]) == pytest.approx(float(m.pairs(v[i : i + 1], f[j : j + 1])[0]))


def test_forced_choice_default_score_and_single_direction() -> None:
    v, lv, f, lf = _data()
    loss = create_loss("forced_choice", directions=["v2f"])
    vals = []
    for a in range(6):
        for p in range(6):
            for n in range(6):
                if lv[a] == lf[p] and lv[a] != lf[n]:
                    vals.append(_ce([-(_dist(v[a], f[p]) ** 2), -(_dist(v[a], f[n]) ** 2)]))
    assert float(loss(v, lv, f, lf)) == pytest.approx(sum(vals) / len(vals), rel=1e-9)


def test_forced_choice_1ton_has_n_candidates_and_is_seeded() -> None:
    v, lv, f, lf = _data()
    loss = create_loss("forced_choice", n_candidates=4, seed=3)
    loss.set_step(5)
    a = float(loss(v, lv, f, lf))
    assert float(loss(v, lv, f, lf)) == a  # same step -> same draws
    # a perfect scorer (same identity -> +inf-ish) gives ~0 loss; a constant one log(n)
    const = create_loss("forced_choice", score_fn=lambda x, y: (x @ y.T) * 0.0, n_candidates=4)
    assert float(const(v, lv, f, lf)) == pytest.approx(math.log(4))
    oracle = create_loss(
        "forced_choice",
        score_fn=lambda x, y: 50.0 * (x[:, :1] == y[:, :1].T).double(),
        n_candidates=4,
    )
    lab_v = lv.double()[:, None].expand(-1, 4).contiguous()
    lab_f = lf.double()[:, None].expand(-1, 4).contiguous()
    assert float(oracle(lab_v, lv, lab_f, lf)) < 1e-6


@pytest.mark.parametrize(
    ("kw", "culprit"),
    [({"n_candidates": 1}, "n_candidates"), ({"directions": ["x2y"]}, "directions")],
)
def test_forced_choice_bad_options(kw: dict, culprit: str) -> None:
    with pytest.raises(ConfigError, match=culprit):
        create_loss("forced_choice", **kw)


# ------------------------------------------------------------------ DIMNet covariates
def test_covariate_ce_equals_loop() -> None:
    v, lv, f, lf = _data()
    tables = {
        "identity": torch.arange(4),
        "gender": torch.tensor([0, 1, -1, 0]),  # identity 2 unknown -> ignored
    }
    loss = create_loss("covariate_ce", dim=4, tables=tables, weights={"gender": 0.5}).double()
    got = float(loss(v, lv, f, lf))

    def ce_items(x: torch.Tensor, lab: torch.Tensor, c: str) -> float:
        clf = loss.classifiers[c]
        vals = []
        for i in range(len(x)):
            y = int(tables[c][lab[i]])
            if y < 0:
                continue
            z = [float(t) for t in clf(x[i : i + 1])[0]]
            vals.append(_ce([z[y], *[z[k] for k in range(len(z)) if k != y]]))
        return sum(vals) / len(vals)

    want = 0.0
    for c, w in (("identity", 1.0), ("gender", 0.5)):
        want += w * 0.5 * (ce_items(v, lv, c) + ce_items(f, lf, c))
    assert got == pytest.approx(want, rel=1e-9)


def test_covariate_ce_needs_two_classes() -> None:
    with pytest.raises(ConfigError, match="'nationality'"):
        create_loss("covariate_ce", dim=4, tables={"nationality": torch.tensor([0, 0, -1])})


# ------------------------------------------------------------------ PINs curriculum
def test_hard_fraction_schedule() -> None:
    assert hard_fraction(0, 0.0, 0.5, 100, 300) == 0.0
    assert hard_fraction(100, 0.0, 0.5, 100, 300) == 0.0
    assert hard_fraction(200, 0.0, 0.5, 100, 300) == pytest.approx(0.25)
    assert hard_fraction(300, 0.0, 0.5, 100, 300) == pytest.approx(0.5)
    assert hard_fraction(10_000, 0.0, 0.5, 100, 300) == pytest.approx(0.5)
    assert hard_fraction(5, 0.2, 0.9, 10, 10) == 0.2 and hard_fraction(10, 0.2, 0.9, 10, 10) == 0.9


@pytest.mark.parametrize("frac", [0.0, 0.5, 1.0])
def test_choose_negatives_hard_are_closest_random_are_negatives(frac: float) -> None:
    v, lv, f, lf = _data()
    d = torch.cdist(v, f)
    rows, negs, hard = choose_negatives(d, lv, lf, frac, torch.Generator().manual_seed(0))
    assert rows.tolist() == list(range(6))  # every voice has a negative face
    assert int(hard.sum()) == round(frac * 6)
    for r, n, h in zip(rows.tolist(), negs.tolist(), hard.tolist(), strict=True):
        assert lf[n] != lv[r]
        if h:
            closest = min((float(d[r, j]), j) for j in range(6) if lf[j] != lv[r])[1]
            assert n == closest


def test_curriculum_contrastive_equals_loop() -> None:
    v, lv, f, lf = _data()
    m = 2.0
    loss = create_loss(
        "curriculum_contrastive", margin=m, hard_start=0.5, hard_end=0.5, seed=1, symmetric=True
    )
    loss.set_step(7)
    got = float(loss(v, lv, f, lf))
    # replay the loss's draws, then compute the terms by hand
    from vfbench.train.losses.parts import euclidean

    d = euclidean(v, f)
    gen = torch.Generator().manual_seed(1 * 1_000_003 + 7)
    r1, n1, _ = choose_negatives(d, lv, lf, 0.5, gen)
    r2, n2, _ = choose_negatives(d.T, lf, lv, 0.5, gen)

    def direction(a, la, c, lc, rows, negs) -> float:
        terms = [_dist(a[i], c[j]) ** 2 for i in range(6) for j in range(6) if la[i] == lc[j]]
        terms += [
            max(m - _dist(a[i], c[j]), 0.0) ** 2
            for i, j in zip(rows.tolist(), negs.tolist(), strict=True)
        ]
        return sum(terms) / len(terms)

    want = 0.5 * (direction(v, lv, f, lf, r1, n1) + direction(f, lf, v, lv, r2, n2))
    assert got == pytest.approx(want, rel=1e-6)


def test_curriculum_contrastive_bad_fraction() -> None:
    with pytest.raises(ConfigError, match="hard_end"):
        create_loss("curriculum_contrastive", hard_end=1.5)


# ------------------------------------------------------------------ Kim triplets
def test_kim_triplet_all_equals_loop() -> None:
    v, lv, f, lf = _data()
    loss = create_loss("kim_triplet", margin=1.5, negatives="all")
    got = float(loss(v, lv, f, lf))
    want = 0.0
    for a_, la, c, lc in ((v, lv, f, lf), (f, lf, v, lv)):
        vals = [
            max(_dist(a_[a], c[p]) - _dist(a_[a], c[n]) + 1.5, 0.0)
            for a in range(6)
            for p in range(6)
            for n in range(6)
            if la[a] == lc[p] and la[a] != lc[n]
        ]
        want += sum(vals) / len(vals)
    assert got == pytest.approx(want, rel=1e-6)


def test_kim_triplet_random_equals_loop_over_its_draws() -> None:
    v, lv, f, lf = _data()
    loss = create_loss("kim_triplet", margin=1.0, negatives="random", seed=2)
    loss.set_step(11)
    got = float(loss(v, lv, f, lf))
    gen = torch.Generator().manual_seed(2 * 1_000_003 + 11)
    want = 0.0
    for a_, la, c, lc in ((v, lv, f, lf), (f, lf, v, lv)):
        a, p, n = random_triplets(la, lc, gen)
        n_pos = sum(1 for i in range(6) for j in range(6) if la[i] == lc[j])
        assert len(a) == n_pos  # one negative per positive pair
        vals = []
        for i, j, k in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
            assert la[i] == lc[j] and la[i] != lc[k]
            vals.append(max(_dist(a_[i], c[j]) - _dist(a_[i], c[k]) + 1.0, 0.0))
        want += sum(vals) / len(vals)
    assert got == pytest.approx(want, rel=1e-6)


def test_kim_bad_negatives() -> None:
    with pytest.raises(ConfigError, match="negatives"):
        create_loss("kim_triplet", negatives="hardest")


# ------------------------------------------------------------------ Horiguchi pair BCE
@pytest.mark.parametrize("balance", [True, False])
def test_pair_bce_equals_loop(balance: bool) -> None:
    v, lv, f, lf = _data()
    m = PairMatcher(4, hidden=4, product=True).double().eval()
    loss = create_loss("pair_bce", score_fn=m.matrix, balance=balance, embed_weight=0.3, margin=2)
    got = float(loss(v, lv, f, lf))

    def sp(x: float) -> float:
        return math.log1p(math.exp(-abs(x))) + max(x, 0.0)

    pos: list[float] = []
    neg: list[float] = []
    allv: list[float] = []
    cons = []
    for i in range(6):
        for j in range(6):
            s = float(m.pairs(v[i : i + 1], f[j : j + 1])[0])
            same = bool(lv[i] == lf[j])
            (pos if same else neg).append(sp(-s) if same else sp(s))
            allv.append(sp(-s) if same else sp(s))
            dd = _dist(v[i], f[j])
            cons.append(dd**2 if same else max(2 - dd, 0.0) ** 2)
    bce = 0.5 * (sum(pos) / len(pos) + sum(neg) / len(neg)) if balance else sum(allv) / 36
    assert got == pytest.approx(bce + 0.3 * sum(cons) / 36, rel=1e-6)


def test_pair_bce_bad_weight() -> None:
    with pytest.raises(ConfigError, match="embed_weight"):
        create_loss("pair_bce", embed_weight=-1.0)


def test_matcher_normalisation_makes_scores_offset_and_scale_free() -> None:
    """In training mode the matcher standardises each modality over the batch, so an
    affine change of the embeddings' scale/offset leaves the (concat-MLP) scores as they were."""
    v, _, f, _ = _data()
    m = PairMatcher(4, hidden=6, product=False).double().train()
    a = m.matrix(v, f)
    b = m.matrix(0.5 * v + 3.0, 10.0 * f - 2.0)
    torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
    raw = PairMatcher(4, hidden=6, product=False, normalize=False).double()
    assert not torch.allclose(raw.matrix(v, f), raw.matrix(0.01 * v + 3.0, f))
