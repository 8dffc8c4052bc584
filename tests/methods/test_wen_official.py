"""Wen et al. 2021 (``wen_adaptive``) against a line-by-line port of the authors' code
(``KID-7391/seeking-the-shape-of-sound``): the local term of ``Classifier.cross_logit``
(``models/backbones.py``) and the identity weights of ``center.update`` /
``center.get_weight`` (``models/center_model.py``)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vfbench.train.losses import create_loss
from vfbench.train.losses.wen_adaptive import cross_logit


def _official_cross_logit(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``Classifier.cross_logit(x, v)`` as published (rows = raw ``v``, columns = unit ``x``)."""
    dist = (F.normalize(x).unsqueeze(0) * v.unsqueeze(1)).sum(-1)
    one_hot = torch.zeros(dist.size(), dtype=dist.dtype)
    one_hot.scatter_(1, torch.arange(len(x)).view(-1, 1).long(), 1)
    pos = (one_hot * dist).sum(-1, keepdim=True)
    logit = (1.0 - one_hot) * (dist - pos)
    return torch.log(1 + torch.exp(logit).sum(-1) + 3.4)


class _OfficialCenter:
    """``center`` of ``models/center_model.py`` (the weights part), float32 as published."""

    def __init__(self, num_classes: int) -> None:
        self.ratio = -1.0
        self.num_classes = num_classes
        self.loss_mean = torch.full((num_classes,), 14.0)
        self.weight = torch.ones(num_classes)

    def update(self) -> None:
        if self.ratio < 0:
            self.weight.fill_(0)
            add_ratio = 0.5
        else:
            add_ratio = 0.024
        if self.ratio >= 0.90:
            return
        n = int(add_ratio * self.num_classes)
        self.loss_mean[self.weight > 0] += 1e6
        top = self.loss_mean.argsort()[:n]
        self.loss_mean[self.weight > 0] -= 1e6
        self.weight *= 0.99
        self.weight[top] = 1
        self.ratio = float((self.weight > 0).float().sum() / self.weight.shape[0])

    def get_weight(self, y: torch.Tensor) -> torch.Tensor:
        weight = self.weight * len(self.weight) / self.weight.sum()
        w = torch.index_select(weight, 0, y)
        if w.sum() < 1e-3:
            return w + 1
        return w


def _pairs(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * 3.0, torch.randn(n, d, generator=g) * 0.5


def test_local_term_equals_the_official_cross_logit() -> None:
    """One identity per pair (the official sum runs over every other row): both directions
    of our local term equal the authors' ``0.5 * cross_logit(z_x, z_v) + 0.5 *
    cross_logit(z_v, z_x)`` (z_x faces, z_v voices)."""
    v, f = _pairs(7, 5, seed=1)
    labels = torch.arange(7)
    loss = create_loss("wen_adaptive", dim=5, num_classes=7, offset=4.4)
    _, local = loss.terms(v, f, labels)
    want = 0.5 * _official_cross_logit(f, v) + 0.5 * _official_cross_logit(v, f)
    assert torch.allclose(local, want, rtol=1e-5, atol=1e-5)
    # the voice-anchored direction alone
    assert torch.allclose(cross_logit(v, f, labels, 4.4), _official_cross_logit(f, v), atol=1e-5)


def test_candidates_are_unit_vectors_anchors_are_not() -> None:
    """Rescaling the candidates leaves the term unchanged (they are normalised); rescaling
    the anchors does not (their norm is the temperature) - the reverse of normalising the
    anchor side."""
    v, f = _pairs(6, 4, seed=2)
    labels = torch.arange(6)
    base = cross_logit(v, f, labels, 4.4)
    s = torch.linspace(0.2, 5.0, 6)[:, None]
    assert torch.allclose(cross_logit(v, f * s, labels, 4.4), base, atol=1e-5)
    assert not torch.allclose(cross_logit(v * s, f, labels, 4.4), base, atol=1e-3)


def test_default_schedule_and_weights_equal_the_official_center() -> None:
    """924 identities (the authors' training split), distinct hardness: every round of our
    defaults switches on the same identities with the same decayed weights as the authors'
    ``update``, freezes at the same round, and a batch gets the same ``get_weight``."""
    c = 924
    hard = torch.randperm(c, generator=torch.Generator().manual_seed(3)).float()
    ours = create_loss("wen_adaptive", dim=4, num_classes=c)
    ours.hardness.copy_(hard)
    ours.seen.fill_(True)
    theirs = _OfficialCenter(c)
    theirs.loss_mean.copy_(hard)
    labels = torch.tensor([0, 5, 17, 400, 923, 5])
    rounds = 0
    while not bool(ours.frozen):
        ours.update_weights()
        theirs.update()
        rounds += 1
        assert torch.allclose(ours.weights, theirs.weight)
        assert torch.allclose(ours.batch_weights(labels), theirs.get_weight(labels))
    assert rounds == 1 + math.ceil((0.9 - 0.5) * c / 22)  # 462 on, then 22 per round
    theirs.update()  # the authors' next call returns early: frozen too
    assert torch.allclose(ours.weights, theirs.weight)


def test_batch_weights_mean_one_and_all_off_fallback() -> None:
    loss = create_loss("wen_adaptive", dim=3, num_classes=4)
    loss.weights.copy_(torch.tensor([1.0, 0.5, 0.0, 0.5]))  # sum 2 -> x 2
    assert loss.batch_weights(torch.tensor([0, 1, 3])).tolist() == [2.0, 1.0, 1.0]
    assert loss.batch_weights(torch.tensor([2, 2])).tolist() == [1.0, 1.0]  # all off
    raw = create_loss("wen_adaptive", dim=3, num_classes=4, normalize_weights=False)
    raw.weights.copy_(loss.weights)
    assert raw.batch_weights(torch.tensor([0, 1, 2])).tolist() == [1.0, 0.5, 0.0]


def test_forward_uses_the_normalised_weights() -> None:
    v, f = _pairs(4, 3, seed=4)
    v, f = v.double(), f.double()
    labels = torch.tensor([0, 1, 2, 3])
    loss = create_loss("wen_adaptive", dim=3, num_classes=4).double()
    loss.weights.copy_(torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64))
    loss.eval()  # no tracking
    g, local = loss.terms(v, f, labels)
    w = torch.tensor([2.0, 2.0, 0.0, 0.0], dtype=torch.float64)
    want = (w * g).mean() + (w * local).mean()
    got = loss(v, labels, f, labels).detach()
    assert float(got) == pytest.approx(float(want.detach()), rel=1e-12)
