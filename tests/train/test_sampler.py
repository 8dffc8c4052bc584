"""Identity sampler invariants, seeded determinism, exact state resume, the paper's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.errors import DataError
from vfbench.train.sampler import IdentitySampler, triplet_arithmetic, triplets_per_step


def make(n_ids: int = 20, per: int = 3, **kw) -> tuple[IdentitySampler, np.ndarray, np.ndarray]:
    vi = np.repeat(np.arange(n_ids), per)
    fi = np.repeat(np.arange(n_ids), per + 1)
    genders = ["m" if i % 2 else "f" for i in range(n_ids)]
    return IdentitySampler(n_ids, vi, fi, genders=genders, **kw), vi, fi


@pytest.mark.parametrize("K", [1, 2, 5])
def test_batches_hold_P_distinct_identities_K_items_each(K: int) -> None:
    s, vi, fi = make(P=8, K=K, seed=1)
    for _ in range(50):
        b = s.next()
        assert len(set(b.identities.tolist())) == 8
        assert len(b.voice_items) == len(b.face_items) == 8 * K
        assert (vi[b.voice_items] == b.voice_labels).all()
        assert (fi[b.face_items] == b.face_labels).all()
        assert (np.bincount(b.voice_labels, minlength=20)[b.identities] == K).all()
        if K <= 3:  # enough voices per identity: no repeats within an identity
            assert len(set(b.voice_items.tolist())) == 8 * K


def test_gender_balance() -> None:
    s, _, _ = make(P=6, gender_balance=True, seed=0)
    for _ in range(20):
        g = np.array(["m" if i % 2 else "f" for i in s.next().identities])
        assert (g == "m").sum() == 3 and (g == "f").sum() == 3


def test_seeded_and_resumable() -> None:
    a, _, _ = make(P=5, K=2, seed=7)
    b, _, _ = make(P=5, K=2, seed=7)
    c, _, _ = make(P=5, K=2, seed=8)
    seq_a = [a.next().voice_items for _ in range(10)]
    assert all((x == b.next().voice_items).all() for x in seq_a)
    assert any((x != c.next().voice_items).any() for x in seq_a)
    # resume: restore the state after 4 batches and get batches 5..10 again
    d, _, _ = make(P=5, K=2, seed=7)
    for _ in range(4):
        d.next()
    state = d.state_dict()
    e, _, _ = make(P=5, K=2, seed=999)
    e.load_state_dict(state)
    assert e.step == 4
    assert all((seq_a[i] == e.next().voice_items).all() for i in range(4, 10))


def test_shards_partition_the_global_batch() -> None:
    s, _, _ = make(P=8, K=1, seed=3)
    b = s.next()
    parts = [b.shard(r, 2) for r in range(2)]
    assert np.array_equal(np.concatenate([p.voice_items for p in parts]), b.voice_items)
    assert np.array_equal(np.concatenate([p.face_labels for p in parts]), b.face_labels)


def test_too_few_identities_is_an_error() -> None:
    with pytest.raises(DataError, match="P=30.*found 20"):
        make(P=30)
    with pytest.raises(DataError, match="6 male identities"):
        make(n_ids=10, P=12, gender_balance=True)


def test_triplet_arithmetic_and_the_papers_figure() -> None:
    assert triplets_per_step(56) == 56 * 55 == 3080
    assert triplets_per_step(4, 2) == 4 * 3 * 8
    line = triplet_arithmetic(10_000, 56)
    assert "30,800,000 triplets (30.80M)" in line
    # The paper quotes 30.72M per 10k steps, i.e. 3,072 per step; no integer P has
    # P(P-1) = 3072 (55*56 = 3080), so the paper's figure is 0.26% off P = 56's.
    assert all(p * (p - 1) != 3072 for p in range(2, 200))
