"""A small evaluated run shared by the report tests."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.evaluate.api import evaluate, make_trials
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.protocol import Protocol


def _emb(noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_ids, per = 24, 6
    names = np.array([f"p{i:02d}" for i in range(n_ids)])
    idx = np.repeat(np.arange(n_ids), per)
    c = np.random.default_rng(99).normal(size=(n_ids, 12))
    v = Embeddings(
        [f"v{k}" for k in range(idx.size)],
        names[idx],
        c[idx] + noise * rng.normal(size=(idx.size, 12)),
        "voice",
    )
    f = Embeddings(
        [f"f{k}" for k in range(idx.size)],
        names[idx],
        c[idx] + noise * rng.normal(size=(idx.size, 12)),
        "face",
    )
    attrs = {n: {"gender": "m" if i % 2 else "f", "nationality": "X"} for i, n in enumerate(names)}
    return v, f, attrs


def _protocol() -> Protocol:
    p = Protocol.quick()
    p.n_boot = 100
    p.matching.n_trials = 500
    p.verification.n_pairs = 500
    p.repeated.repeats = 3
    p.repeated.n_trials = 200
    return p


@pytest.fixture(scope="session")
def runs():
    """(result A, result B, trials, embeddings) - B is a noisier system on the same trials."""
    v, f, attrs = _emb(0.8)
    v2, f2, _ = _emb(1.6, seed=1)
    p = _protocol()
    ts = make_trials(v, f, attrs, p)
    a = evaluate(v, f, attrs, p, trials=ts)
    b = evaluate(v2, f2, attrs, p, trials=ts)
    return a, b, ts, (v, f, v2, f2)
