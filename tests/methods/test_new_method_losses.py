"""The objectives of FOP, CMPC, Wen et al. (SSNet), FV-CME, LAFV, Self-Lifting, CAE and
Barlow Twins against plain hand-written loops on tiny tensors, plus gradient checks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vfbench.errors import ConfigError
from vfbench.train.losses import create_loss
from vfbench.train.losses.cmpc import recalibration_weights
from vfbench.train.losses.fop import orthogonal_projection_loss
from vfbench.train.losses.kim_triplet import random_triplets
from vfbench.train.losses.pair_parts import (
    FeatureQueue,
    concentration,
    spherical_kmeans,
    step_generator,
)
from vfbench.train.losses.self_lifting import multi_similarity

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def _pairs(n: int = 6, d: int = 4, seed: int = 0, labels: list[int] | None = None):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, d, generator=g, dtype=torch.float64)
    f = torch.randn(n, d, generator=g, dtype=torch.float64)
    lab = torch.tensor(labels if labels is not None else list(range(n)))
    return v, lab, f, lab.clone()


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    return sum(float(x) * float(y) for x, y in zip(a, b, strict=True))


def _unit(a: torch.Tensor) -> list[float]:
    n = math.sqrt(sum(float(x) ** 2 for x in a))
    return [float(x) / n for x in a]


def _lse(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def _ce(logits: list[float], target: int) -> float:
    return _lse(logits) - logits[target]


# ------------------------------------------------------------------------------ FOP
def _opl_loop(z: torch.Tensor, labels: list[int], gamma: float) -> float:
    u = [_unit(r) for r in z]
    pos, npos, neg, nneg = 0.0, 0, 0.0, 0
    for i in range(len(u)):
        for j in range(len(u)):
            c = sum(a * b for a, b in zip(u[i], u[j], strict=True))
            if labels[i] == labels[j] and i != j:
                pos, npos = pos + c, npos + 1
            elif labels[i] != labels[j]:
                neg, nneg = neg + abs(c), nneg + 1
    return (1.0 - pos / max(npos, 1)) + gamma * neg / max(nneg, 1)


def test_opl_equals_loop_and_vanishes_on_orthogonal_identities() -> None:
    v, lab, _, _ = _pairs(6, 4, labels=[0, 0, 1, 1, 2, 2])
    got = orthogonal_projection_loss(v, lab, 0.7)
    assert float(got) == pytest.approx(_opl_loop(v, lab.tolist(), 0.7), rel=1e-10)
    e = torch.eye(3, dtype=torch.float64)
    z = torch.stack(
        [e[0], 2 * e[0], e[1], 3 * e[1], e[2], e[2]]
    )  # same id parallel, others orthogonal
    assert float(orthogonal_projection_loss(z, lab, 0.7)) == pytest.approx(0.0, abs=1e-12)


def test_fop_loss_equals_gate_ce_opl_loop() -> None:
    v, lab, f, _ = _pairs(6, 4, labels=[0, 0, 1, 1, 2, 2])
    loss = create_loss("fop", dim=4, num_classes=3, alpha=0.5, gamma=0.7, hidden=5).double()
    got = loss(v, lab, f, lab)
    a = torch.sigmoid(loss.fusion.attention(torch.cat([f, v], 1))).detach()  # the gate's MLP
    z = torch.tensor(
        [[float(a[i, k]) * math.tanh(float(f[i, k])) + (1 - float(a[i, k])) * math.tanh(float(v[i, k]))
          for k in range(4)] for i in range(6)], dtype=torch.float64)  # fmt: skip
    w, b = loss.classifier.weight.detach(), loss.classifier.bias.detach()
    ce = (
        sum(_ce([_dot(z[i], w[c]) + float(b[c]) for c in range(3)], int(lab[i])) for i in range(6))
        / 6
    )
    assert float(got) == pytest.approx(ce + 0.5 * _opl_loop(z, lab.tolist(), 0.7), rel=1e-9)


def test_fop_needs_aligned_pairs() -> None:
    v, lab, f, _ = _pairs(4, 4)
    loss = create_loss("fop", dim=4, num_classes=4).double()
    with pytest.raises(ConfigError, match="fop: needs aligned"):
        loss(v, lab, f, lab.flip(0))


# --------------------------------------------------------------------------- FV-CME
def _npair_loop(a: torch.Tensor, p: torch.Tensor, lab: list[int]) -> float:
    out = []
    for i in range(len(lab)):
        sii = _dot(a[i], p[i])
        terms = [math.exp(_dot(a[i], p[j]) - sii) for j in range(len(lab)) if lab[j] != lab[i]]
        out.append(math.log(1.0 + sum(terms)))
    return sum(out) / len(out)


@pytest.mark.parametrize("anchor", ["voice", "face", "both"])
def test_npair_equals_loop(anchor: str) -> None:
    v, lab, f, _ = _pairs(6, 4, labels=[0, 0, 1, 1, 2, 3])  # same-id non-pairs are no negatives
    got = create_loss("npair", anchor=anchor, l2_reg=0.01)(v, lab, f, lab)
    parts = {"face": _npair_loop(f, v, lab.tolist()), "voice": _npair_loop(v, f, lab.tolist())}
    want = parts[anchor] if anchor != "both" else 0.5 * (parts["face"] + parts["voice"])
    reg = 0.5 * (sum(_dot(x, x) for x in v) / 6 + sum(_dot(x, x) for x in f) / 6)
    assert float(got) == pytest.approx(want + 0.01 * reg, rel=1e-10)


# ----------------------------------------------------------------------------- LAFV
def _softmax_ratio_loop(a: torch.Tensor, p: torch.Tensor, n: torch.Tensor, squared: bool) -> float:
    dp = math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, p, strict=True)))
    dn = math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, n, strict=True)))
    sp, sn = (
        math.exp(dp) / (math.exp(dp) + math.exp(dn)),
        math.exp(dn) / (math.exp(dp) + math.exp(dn)),
    )
    dist2 = sp**2 + (sn - 1.0) ** 2  # distance of (s+, s-) to (0, 1)
    return dist2 if squared else math.sqrt(dist2)


@pytest.mark.parametrize(
    ("anchors", "squared"), [("voice", False), ("both", False), ("both", True)]
)
def test_softmax_triplet_equals_loop(anchors: str, squared: bool) -> None:
    v, lab, f, _ = _pairs(6, 3, labels=[0, 0, 1, 1, 2, 2])
    loss = create_loss("softmax_triplet", anchors=anchors, squared=squared, seed=3)
    loss.set_step(7)
    got = loss(v, lab, f, lab)
    gen = step_generator(3, 7)  # the same draws, in the same order (voice anchors first)
    parts = []
    for x, y in [(v, f)] if anchors == "voice" else [(v, f), (f, v)]:
        a, p, n = random_triplets(lab, lab, gen)
        assert (lab[a] == lab[p]).all() and (lab[a] != lab[n]).all()
        vals = [
            _softmax_ratio_loop(x[i], y[j], y[k], squared) for i, j, k in zip(a, p, n, strict=True)
        ]
        parts.append(sum(vals) / len(vals))
    assert float(got) == pytest.approx(sum(parts) / len(parts), rel=1e-10)


def test_softmax_triplet_saturates_when_negatives_are_far() -> None:
    v = torch.zeros(2, 2, dtype=torch.float64)
    f = torch.tensor([[0.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    f2 = torch.tensor([[0.0, 0.0], [0.0, 50.0]], dtype=torch.float64)
    lab = torch.tensor([0, 1])
    loss = create_loss("softmax_triplet", anchors="voice")
    assert float(loss(v, lab, f, lab)) == pytest.approx(math.sqrt(2) * 0.5, rel=1e-9)  # d+ = d-
    assert float(loss(v[:1], lab[:1], f2[:1], lab[:1])) == 0.0  # no negative: zero, no crash


# ---------------------------------------------------------------------- Barlow Twins
def _barlow_loop(za: torch.Tensor, zb: torch.Tensor, lam: float) -> float:
    n, d = za.shape

    def std_cols(z: torch.Tensor) -> list[list[float]]:
        cols = []
        for k in range(d):
            col = [float(z[i, k]) for i in range(n)]
            m = sum(col) / n
            s = math.sqrt(sum((x - m) ** 2 for x in col) / (n - 1))
            cols.append([(x - m) / (s + 1e-6) for x in col])
        return cols

    a, b = std_cols(za), std_cols(zb)
    total = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(a[i][t] * b[j][t] for t in range(n)) / n
            total += (1 - c) ** 2 if i == j else lam * c * c
    return total


def test_barlow_twins_equals_loop() -> None:
    v, lab, f, _ = _pairs(7, 4)
    loss = create_loss("barlow_twins", dim=4, proj_dim=3, lam=0.01).double()
    w = loss.projector.weight.detach()
    want = _barlow_loop(v @ w.T, f @ w.T, 0.01)
    assert float(loss(v, lab, f, lab)) == pytest.approx(want, rel=1e-9)


# ------------------------------------------------------------------------------- CAE
def test_cross_modal_ae_equals_loop() -> None:
    v, lab, f, _ = _pairs(5, 3)
    g = torch.Generator().manual_seed(1)
    xv = torch.randn(5, 6, generator=g, dtype=torch.float64)
    xf = torch.randn(5, 4, generator=g, dtype=torch.float64)
    loss = create_loss("cross_modal_ae", dim=3, voice_dim=6, face_dim=4, hidden=5,
                       align_weight=0.5, recon_weight=2.0).double().eval()  # fmt: skip
    got = loss(v, lab, f, lab, voice_input=xv, face_input=xf)

    def mse(a: torch.Tensor, b: torch.Tensor) -> float:
        vals = [(float(x) - float(y)) ** 2 for ra, rb in zip(a, b, strict=True)
                for x, y in zip(ra, rb, strict=True)]  # fmt: skip
        return sum(vals) / len(vals)

    with torch.no_grad():
        rf, rv = loss.voice_to_face(v), loss.face_to_voice(f)  # voice emb -> face features
    assert rf.shape == xf.shape and rv.shape == xv.shape

    def mean_var(x: torch.Tensor) -> float:  # mean over dims of the population variance
        cols = [[float(x[i, k]) for i in range(x.shape[0])] for k in range(x.shape[1])]
        return sum(sum((a - sum(c) / len(c)) ** 2 for a in c) / len(c) for c in cols) / len(cols)

    rel = mse(rf, xf) / mean_var(xf) + mse(rv, xv) / mean_var(xv)
    want = 0.5 * mse(v, f) + 2.0 * rel
    assert float(got) == pytest.approx(want, rel=1e-10)


# ------------------------------------------------------------------ Wen et al. / SSNet
def _cross_logit_loop(
    x: torch.Tensor, y: torch.Tensor, lab: list[int], offset: float
) -> list[float]:
    out = []
    for i in range(len(lab)):  # raw anchor x_i, unit candidates y_j (the official code)
        yu = [_unit(r) for r in y]
        sii = sum(float(a) * b for a, b in zip(x[i], yu[i], strict=True))
        tot = 1.0 + offset
        for j in range(len(lab)):
            if lab[j] != lab[i]:
                tot += math.exp(sum(float(a) * b for a, b in zip(x[i], yu[j], strict=True)) - sii)
        out.append(math.log(tot))
    return out


def test_wen_terms_and_weighted_total_equal_loop() -> None:
    v, lab, f, _ = _pairs(5, 3, labels=[0, 1, 2, 3, 1])
    loss = create_loss("wen_adaptive", dim=3, num_classes=4, scale=2.0, offset=4.4,
                       normalize_weights=False).double()  # fmt: skip
    loss.weights.copy_(torch.tensor([1.0, 0.5, 0.0, 0.25]))
    loss.eval()  # no tracking
    got = loss(v, lab, f, lab)
    w, b = loss.classifier.weight.detach(), loss.classifier.bias.detach()
    labs = lab.tolist()
    g = [_ce([_dot(v[i] / 2, w[c]) + float(b[c]) for c in range(4)], labs[i])
         + _ce([_dot(f[i] / 2, w[c]) + float(b[c]) for c in range(4)], labs[i]) for i in range(5)]  # fmt: skip
    lv, lf = _cross_logit_loop(v, f, labs, 4.4), _cross_logit_loop(f, v, labs, 4.4)
    loc = [0.5 * (a + c) for a, c in zip(lv, lf, strict=True)]
    wt = [[1.0, 0.5, 0.0, 0.25][y] for y in labs]
    want = sum(a * x for a, x in zip(wt, g, strict=True)) / 5 + sum(
        a * x for a, x in zip(wt, loc, strict=True)) / 5  # fmt: skip
    assert float(got) == pytest.approx(want, rel=1e-10)


def test_wen_reweighting_schedule_by_hand() -> None:
    """10 identities, hardness = identity index (0 easiest): the first round keeps the 3
    easiest, each later round switches on the next easiest and halves the others; frozen
    once 9 of 10 have a weight."""
    loss = create_loss("wen_adaptive", dim=2, num_classes=10, warmup=0, update_every=1,
                       init_ratio=0.3, add_fraction=0.1, decay=0.5, beta=0.9, coverage=0.9)  # fmt: skip
    loss.track(torch.arange(10), torch.arange(10, dtype=torch.float32))
    assert loss.hardness.tolist() == list(range(10)) and bool(loss.seen.all())
    loss.update_weights()
    assert loss.weights.tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    loss.update_weights()
    assert loss.weights.tolist() == [0.5, 0.5, 0.5, 1, 0, 0, 0, 0, 0, 0]
    for _ in range(5):
        loss.update_weights()
    assert (loss.weights > 0).sum() == 9 and bool(loss.frozen)
    assert loss.weights[9] == 0  # the hardest identity is never switched on
    # EMA: a second observation moves hardness by (1 - beta)
    loss.track(torch.tensor([2, 2]), torch.tensor([12.0, 8.0]))
    assert float(loss.hardness[2]) == pytest.approx(0.9 * 2 + 0.1 * 10.0)


def test_wen_forward_tracks_and_reweights_by_step() -> None:
    v, lab, f, _ = _pairs(4, 3)
    loss = create_loss("wen_adaptive", dim=3, num_classes=4, warmup=2, update_every=2,
                       init_ratio=0.5).double()  # fmt: skip
    for step in range(2):  # warm-up: nothing tracked
        loss.set_step(step)
        loss(v, lab, f, lab)
    assert not bool(loss.seen.any())
    loss.set_step(2)
    loss(v, lab, f, lab)
    assert bool(loss.seen.all()) and loss.weights.tolist() == [1, 1, 1, 1]
    loss.set_step(3)
    loss(v, lab, f, lab)  # (3 - 2 + 1) % 2 == 0: first round -> the easier half
    assert sorted(loss.weights.tolist()) == [0, 0, 1, 1]


# ------------------------------------------------------------------------------ CMPC
def test_cmpc_instance_terms_equal_loop_before_clustering() -> None:
    v, lab, f, _ = _pairs(5, 3)
    loss = create_loss("cmpc", dim=3, temperature=0.5, clusters=[2], queue=8).double()
    got = loss(v, lab, f, lab)
    vn, fn = [_unit(r) for r in v], [_unit(r) for r in f]

    def nce(a: list[list[float]], b: list[list[float]]) -> float:
        return sum(_ce([sum(x * y for x, y in zip(a[i], b[j], strict=True)) / 0.5 for j in range(5)], i)
                   for i in range(5)) / 5  # fmt: skip

    assert float(got) == pytest.approx(nce(vn, fn) + nce(fn, vn), rel=1e-10)
    assert int(loss.queue_v.count) == 5  # the batch went to the memory


def test_cmpc_prototype_terms_and_recalibration_equal_loop() -> None:
    v, lab, f, _ = _pairs(6, 3, seed=2)
    loss = create_loss("cmpc", dim=3, temperature=0.5, clusters=[2, 3], queue=8, delta=-1.0,
                       kappa=0.1).double().eval()  # fmt: skip
    g = torch.Generator().manual_seed(5)
    protos = {}
    for m in ("v", "f"):
        for r, k in enumerate([2, 3]):
            c = F.normalize(torch.randn(k, 3, generator=g, dtype=torch.float64), dim=1)
            phi = torch.rand(k, generator=g, dtype=torch.float64) + 0.2
            loss.get_buffer(f"cent_{m}{r}").copy_(c)
            loss.get_buffer(f"phi_{m}{r}").copy_(phi)
            protos[m, r] = (c, phi)
    loss.ready.fill_(True)
    got = loss(v, lab, f, lab)

    vn, fn = [_unit(x) for x in v], [_unit(x) for x in f]

    def dot(a: list[float], b: torch.Tensor) -> float:
        return sum(x * float(y) for x, y in zip(a, b, strict=True))

    lv, lf, rho = [], [], []
    for i in range(6):
        tv = _ce([dot(vn[i], torch.tensor(fn[j], dtype=torch.float64)) / 0.5 for j in range(6)], i)
        tf = _ce([dot(fn[i], torch.tensor(vn[j], dtype=torch.float64)) / 0.5 for j in range(6)], i)
        agree = 0.0
        for r in range(2):
            (cv, pv), (cf, pf) = protos["v", r], protos["f", r]
            av = max(range(len(cv)), key=lambda c: dot(vn[i], cv[c]))
            af = max(range(len(cf)), key=lambda c: dot(fn[i], cf[c]))
            tv += _ce([dot(vn[i], cf[c]) / float(pf[c]) for c in range(len(cf))], af) / 2
            tf += _ce([dot(fn[i], cv[c]) / float(pv[c]) for c in range(len(cv))], av) / 2
            agree += _dot(cv[av], cf[af]) / 2
        lv.append(tv)
        lf.append(tf)
        rho.append(sum(a * b for a, b in zip(vn[i], fn[i], strict=True)) - agree)
    m = sum(rho) / 6
    sd = math.sqrt(sum((x - m) ** 2 for x in rho) / 5)
    mu, sigma = m - 1.0 * sd, math.sqrt(0.1) * sd
    w = [0.5 * (1 + math.erf((x - mu) / sigma / math.sqrt(2))) for x in rho]
    want = (
        sum(a * b for a, b in zip(w, lv, strict=True))
        + sum(a * b for a, b in zip(w, lf, strict=True))
    ) / sum(w)
    assert float(got) == pytest.approx(want, rel=1e-9)
    wt = recalibration_weights(torch.tensor(rho, dtype=torch.float64), -1.0, 0.1)
    assert wt.argmin() == int(torch.tensor(rho).argmin())  # the most deviating pair weighs least


def test_spherical_kmeans_recovers_separated_groups_and_concentration_loop() -> None:
    g = torch.Generator().manual_seed(0)
    centers = torch.eye(3, dtype=torch.float64)
    x = F.normalize(centers.repeat_interleave(5, 0) + 0.05 * torch.randn(15, 3, generator=g,
                    dtype=torch.float64), dim=1)  # fmt: skip
    cent, assign = spherical_kmeans(x, 3, 10, torch.Generator().manual_seed(1))
    groups = torch.arange(3).repeat_interleave(5)
    for k in range(3):  # one cluster per group (a permutation)
        assert len(set(assign[groups == k].tolist())) == 1
    assert len(set(assign.tolist())) == 3
    assert torch.allclose(cent.norm(dim=1), torch.ones(3, dtype=torch.float64))
    phi = concentration(x, cent, assign, temperature=0.2)
    raw = []
    for c in range(3):
        members = [i for i in range(15) if int(assign[i]) == c]
        d = sum(float((x[i] - cent[c]).norm()) for i in members)
        raw.append(d / (len(members) * math.log(len(members) + 10)))
    raw_t = torch.tensor(raw, dtype=torch.float64)
    raw_t = raw_t.clamp(torch.quantile(raw_t, 0.1), torch.quantile(raw_t, 0.9))
    assert torch.allclose(phi, 0.2 * raw_t / raw_t.mean())
    assert float(phi.mean()) == pytest.approx(0.2)


def test_feature_queue_is_fifo() -> None:
    q = FeatureQueue(4, 1)
    q.push(torch.tensor([[1.0], [2.0], [3.0]]))
    q.push(torch.tensor([[4.0], [5.0]]))
    assert sorted(q.filled()[:, 0].tolist()) == [2.0, 3.0, 4.0, 5.0] and int(q.count) == 5


# ---------------------------------------------------------------------- Self-Lifting
def _ms_loop(z: torch.Tensor, lab: list[int], alpha: float, beta: float, base: float) -> float:
    u = [_unit(r) for r in z]
    out = []
    for i in range(len(u)):
        ps, ns = 0.0, 0.0
        for j in range(len(u)):
            s = sum(a * b for a, b in zip(u[i], u[j], strict=True))
            if lab[j] == lab[i] and j != i:
                ps += math.exp(-alpha * (s - base))
            elif lab[j] != lab[i]:
                ns += math.exp(beta * (s - base))
        out.append(math.log(1 + ps) / alpha + math.log(1 + ns) / beta)
    return sum(out) / len(out)


def test_multi_similarity_equals_loop() -> None:
    v, _, _, _ = _pairs(7, 3)
    lab = torch.tensor([0, 0, 1, 1, 1, 2, 3])
    got = multi_similarity(v, lab, 2.0, 10.0, 0.5)
    assert float(got) == pytest.approx(_ms_loop(v, lab.tolist(), 2.0, 10.0, 0.5), rel=1e-10)


def test_self_lifting_instance_labels_then_cluster_labels() -> None:
    v, lab, f, _ = _pairs(4, 3)
    loss = create_loss("self_lifting", dim=3, clusters=2, queue=16, cluster_every=1,
                       alpha=2.0, beta=50.0, base=1.0).double()  # fmt: skip
    loss.set_step(0)
    got = loss(v, lab, f, lab)  # memory empty: each pair its own class
    want = _ms_loop(torch.cat([v, f]), [0, 1, 2, 3, 0, 1, 2, 3], 2.0, 50.0, 1.0)
    assert float(got) == pytest.approx(want, rel=1e-10)
    # two well-separated groups of pairs: after clustering, a group shares one pseudo-label
    e = torch.eye(3, dtype=torch.float64)
    gv = torch.stack([e[0], e[0], e[1], e[1]]) + 0.01 * v
    gf = torch.stack([e[2], e[2], -e[2], -e[2]]) + 0.01 * f
    loss.set_step(1)
    loss(gv, lab, gf, lab)
    loss.set_step(2)
    loss(gv, lab, gf, lab)  # clusters the memory (now holding these pairs)
    pair = F.normalize(torch.cat([F.normalize(gv, dim=1), F.normalize(gf, dim=1)], 1), dim=1)
    y = loss.pseudo_labels(pair).tolist()
    assert y[0] == y[1] and y[2] == y[3] and y[0] != y[2]


# ------------------------------------------------------------------ gradients, shapes
GRAD_CASES = {
    "fop": dict(dim=3, num_classes=3),
    "npair": {},
    "softmax_triplet": {},
    "barlow_twins": dict(dim=3, proj_dim=4),
    "wen_adaptive": dict(dim=3, num_classes=3),
    "cmpc": dict(dim=3, clusters=[2], queue=8),
    "self_lifting": dict(dim=3, clusters=2, queue=8),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_finite_differences(name: str) -> None:
    v, lab, f, _ = _pairs(6, 3, labels=[0, 0, 1, 1, 2, 2], seed=4)
    loss = create_loss(name, **GRAD_CASES[name]).double()
    loss.eval()  # FOP's BatchNorm on running statistics; no memory/weight updates
    vv, ff = v.clone().requires_grad_(True), f.clone().requires_grad_(True)
    out = loss(vv, lab, ff, lab)
    assert out.dim() == 0 and torch.isfinite(out)
    out.backward()
    assert vv.grad is not None and ff.grad is not None
    assert vv.grad.shape == v.shape and bool(vv.grad.abs().sum() > 0)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, lab, b, lab),
                                    (v.clone().requires_grad_(True), f.clone().requires_grad_(True)))  # fmt: skip


def test_cae_gradients_reach_both_embeddings() -> None:
    v, lab, f, _ = _pairs(4, 3)
    loss = create_loss("cross_modal_ae", dim=3, voice_dim=5, face_dim=2, hidden=4).double().eval()
    xv, xf = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda a, b: loss(a, lab, b, lab, voice_input=xv, face_input=xf),
        (v.clone().requires_grad_(True), f.clone().requires_grad_(True)),
    )


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("npair", {"anchor": "audio"}, "anchor"),
        ("softmax_triplet", {"anchors": "x"}, "anchors"),
        ("cmpc", {"clusters": [1]}, "clusters"),
        ("self_lifting", {"clusters": 64, "queue": 8}, "clusters"),
        ("wen_adaptive", {"init_ratio": 0.0}, "init_ratio"),
        ("barlow_twins", {"proj_dim": 0}, "proj_dim"),
        ("cross_modal_ae", {"voice_dim": 0, "face_dim": 3}, "voice_dim"),
        ("fop", {"num_classes": 1}, "identities"),
    ],
)
def test_bad_loss_options_name_the_problem(name: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        create_loss(name, **kwargs)
