"""Synthetic embeddings with known structure for evaluation tests."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.evaluate.embeddings import Embeddings


def make_embeddings(
    n_ids: int = 40,
    per: int = 6,
    dim: int = 16,
    noise: float = 0.0,
    seed: int = 0,
    random: bool = False,
) -> tuple[Embeddings, Embeddings, dict[str, dict[str, str]]]:
    """Identity centres + noise (``random``: no identity structure at all).

    Even identities are male, odd female; nationality cycles over 3 values.
    """
    rng = np.random.default_rng(seed)
    names = np.array([f"p{i:03d}" for i in range(n_ids)])
    idx = np.repeat(np.arange(n_ids), per)
    centres = rng.normal(size=(n_ids, dim))
    if random:
        v = rng.normal(size=(idx.size, dim))
        f = rng.normal(size=(idx.size, dim))
    else:
        v = centres[idx] + noise * rng.normal(size=(idx.size, dim))
        f = centres[idx] + noise * rng.normal(size=(idx.size, dim))
    voices = Embeddings([f"v/{names[i]}/{k}" for k, i in enumerate(idx)], names[idx], v, "voice")
    faces = Embeddings([f"f/{names[i]}/{k}" for k, i in enumerate(idx)], names[idx], f, "face")
    attrs = {
        names[i]: {"gender": "m" if i % 2 == 0 else "f", "nationality": ["US", "UK", "IN"][i % 3]}
        for i in range(n_ids)
    }
    return voices, faces, attrs


@pytest.fixture
def structured():
    return make_embeddings(noise=0.8)


@pytest.fixture
def make_emb():
    """The :func:`make_embeddings` factory (tests have no package to import it from)."""
    return make_embeddings


def small_match_list(folder):  # type: ignore[no-untyped-def]
    """A 40-trial 1:2 list in the published layout (``match_v2f_2_mine.txt`` in ``folder``)
    and unit embeddings for its items: (list path, voices, faces)."""
    from vfbench.evaluate.importers import import_list

    rows = [f"id{i % 7}/v{i}.wav p{i % 5}/f{i}.jpg p{(i + 1) % 5}/f{i + 1}.jpg" for i in range(40)]
    lst = folder / "match_v2f_2_mine.txt"
    lst.write_text("\n".join(rows) + "\n")
    ts, _ = import_list("matching", [lst])
    v = Embeddings(ts.voice_ids, ts.voice_identities, np.ones((ts.voice_ids.size, 2)), "voice")
    f = Embeddings(ts.face_ids, ts.face_identities, np.ones((ts.face_ids.size, 2)), "face")
    return lst, v, f


@pytest.fixture
def match_list():
    """The :func:`small_match_list` factory."""
    return small_match_list
