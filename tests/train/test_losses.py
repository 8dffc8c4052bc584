"""Every loss against a plain hand-written loop on small random tensors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from vfbench.errors import ConfigError, RegistryError
from vfbench.train.losses import create_loss, loss_names


def d(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.sqrt(((a - b) ** 2).sum()))


def data(P: int = 5, K: int = 1, dim: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(P * K, dim, generator=g)
    f = torch.randn(P * K, dim, generator=g)
    lab = torch.arange(P).repeat_interleave(K)
    return v, lab, f, lab.clone()


def naive_eq1(v, lv, f, lf, m: float = 1.0) -> tuple[float, int]:
    """Eq. 1 written literally: sum over (v_i, f_i, f_j), y(f_i) = y(v_i) != y(f_j)."""
    total, n = 0.0, 0
    for a in range(len(v)):
        for p in range(len(f)):
            for q in range(len(f)):
                if lv[a] == lf[p] and lv[a] != lf[q]:
                    total += max(d(v[a], f[p]) - d(v[a], f[q]) + m, 0.0)
                    n += 1
    return total, n


@pytest.mark.parametrize(("P", "K", "m"), [(5, 1, 1.0), (4, 2, 1.0), (3, 3, 2.5)])
def test_trinet_eq1_matches_triple_loop(P: int, K: int, m: float) -> None:
    v, lv, f, lf = data(P, K)
    ref, n = naive_eq1(v, lv, f, lf, m)
    assert n == P * (P - 1) * K**3
    got = create_loss("trinet_triplet", margin=m)(v, lv, f, lf)
    assert math.isclose(float(got), ref, rel_tol=1e-5)
    got_mean = create_loss("trinet_triplet", margin=m, reduction="mean")(v, lv, f, lf)
    assert math.isclose(float(got_mean), ref / n, rel_tol=1e-5)


def test_trinet_eq1_on_scaled_sphere_and_gradient() -> None:
    v, lv, f, lf = data(6)
    v = 128 * F.normalize(v, dim=1)
    f = (128 * F.normalize(f, dim=1)).requires_grad_(True)
    loss = create_loss("trinet_triplet")(v, lv, f, lf)
    ref, _ = naive_eq1(v, lv, f.detach(), lf)
    assert math.isclose(float(loss), ref, rel_tol=1e-4)
    loss.backward()
    assert f.grad is not None and torch.isfinite(f.grad).all() and f.grad.abs().sum() > 0


def test_trinet_zero_when_positives_much_closer() -> None:
    f = torch.eye(4) * 10
    v = f.clone()
    lab = torch.arange(4)
    assert float(create_loss("trinet_triplet")(v, lab, f, lab)) == 0.0


def test_symmetric_is_voice_plus_face_anchored() -> None:
    v, lv, f, lf = data(4, 2)
    a, _ = naive_eq1(v, lv, f, lf)
    b, _ = naive_eq1(f, lf, v, lv)
    got = create_loss("symmetric_triplet")(v, lv, f, lf)
    assert math.isclose(float(got), a + b, rel_tol=1e-5)


def test_batch_hard_matches_loop() -> None:
    v, lv, f, lf = data(4, 2, seed=3)
    vals = []
    for a in range(len(v)):
        hp = max(d(v[a], f[p]) for p in range(len(f)) if lf[p] == lv[a])
        hn = min(d(v[a], f[q]) for q in range(len(f)) if lf[q] != lv[a])
        vals.append(max(hp - hn + 1.0, 0.0))
    got = create_loss("batch_hard")(v, lv, f, lf)
    assert math.isclose(float(got), sum(vals) / len(vals), rel_tol=1e-5)


def test_semi_hard_matches_loop() -> None:
    v, lv, f, lf = data(5, 1, dim=2, seed=1)
    m, total, n = 2.0, 0.0, 0
    for a, p, q in itertools.product(range(5), repeat=3):
        if lv[a] == lf[p] != lf[q]:
            dap, dan = d(v[a], f[p]), d(v[a], f[q])
            if dap < dan < dap + m:
                total += dap - dan + m
                n += 1
    assert n > 0
    got = create_loss("semi_hard", margin=m)(v, lv, f, lf)
    assert math.isclose(float(got), total / n, rel_tol=1e-5)


def test_contrastive_matches_loop() -> None:
    v, lv, f, lf = data(4, 1, seed=2)
    m, vals = 3.0, []
    for a in range(4):
        for b in range(4):
            dist = d(v[a], f[b])
            vals.append(dist**2 if lv[a] == lf[b] else max(m - dist, 0.0) ** 2)
    got = create_loss("contrastive", margin=m)(v, lv, f, lf)
    assert math.isclose(float(got), sum(vals) / len(vals), rel_tol=1e-5)


def test_infonce_matches_loop() -> None:
    v, lv, f, lf = data(3, 2, seed=4)
    t = 0.5
    vn, fn = F.normalize(v, dim=1), F.normalize(f, dim=1)

    def side(a_, la, b_, lb) -> float:
        out = []
        for i in range(len(a_)):
            s = [math.exp(float(a_[i] @ b_[j]) / t) for j in range(len(b_))]
            pos = sum(s[j] for j in range(len(b_)) if la[i] == lb[j])
            out.append(-math.log(pos / sum(s)))
        return sum(out) / len(out)

    ref = 0.5 * (side(vn, lv, fn, lf) + side(fn, lf, vn, lv))
    got = create_loss("infonce", temperature=t)(v, lv, f, lf)
    assert math.isclose(float(got), ref, rel_tol=1e-5)


def test_identity_ce_is_mean_of_two_cross_entropies() -> None:
    v, lv, f, lf = data(4, 1)
    loss = create_loss("identity_ce", dim=6, num_classes=4)
    ref = 0.5 * (F.cross_entropy(loss.classifier(v), lv) + F.cross_entropy(loss.classifier(f), lf))
    assert math.isclose(float(loss(v, lv, f, lf)), float(ref), rel_tol=1e-6)
    assert sum(p.numel() for p in loss.parameters()) == 6 * 4 + 4


def test_registry_and_bad_arguments() -> None:
    assert set(loss_names()) >= {
        "trinet_triplet", "symmetric_triplet", "batch_hard", "semi_hard", "contrastive",
        "infonce", "identity_ce",
    }  # fmt: skip
    with pytest.raises(ConfigError, match="reduction.*'median'"):
        create_loss("trinet_triplet", reduction="median")
    with pytest.raises(RegistryError, match="unknown loss 'arcface'"):
        create_loss("arcface")
    with pytest.raises(ConfigError, match="num_classes"):
        create_loss("identity_ce", dim=4, num_classes=1)
