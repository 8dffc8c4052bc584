"""``vfbench.utils.io.read_npz``: the arrays ``np.load`` gives, read without the CRC pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vfbench.errors import EvaluationError
from vfbench.evaluate.embeddings import Embeddings
from vfbench.utils.io import atomic_save_npz, read_npz


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "vectors": rng.normal(size=(100, 7)).astype(np.float32),
        "ids": np.array(["a/1", "b/22", "ünï/3"]),
        "scalar": np.array(3),
        "fortran": np.asfortranarray(rng.normal(size=(5, 3))),
        "empty": np.zeros((0, 4), np.int32),
        "text": np.array('{"k": "héllo"}'),
    }


@pytest.mark.parametrize("compressed", [False, True])
def test_same_arrays_as_np_load(tmp_path: Path, compressed: bool) -> None:
    p = tmp_path / "x.npz"
    atomic_save_npz(p, compressed=compressed, **_arrays())
    got = read_npz(p)
    with np.load(p, allow_pickle=False) as z:
        assert sorted(got) == sorted(z.files)
        for k in z.files:
            want = z[k]
            assert got[k].dtype == want.dtype and got[k].shape == want.shape, k
            np.testing.assert_array_equal(got[k], want)
    assert got["fortran"].flags.f_contiguous


def test_a_truncated_member_is_an_error_not_a_short_array(tmp_path: Path) -> None:
    p = tmp_path / "x.npz"
    atomic_save_npz(p, **_arrays())
    blob = p.read_bytes()
    # same length, the zip directory intact: the array header claims more rows than the
    # member holds
    bad = blob.replace(b"'shape': (100, 7)", b"'shape': (900, 7)", 1)
    assert bad != blob
    q = tmp_path / "bad.npz"
    q.write_bytes(bad)
    with pytest.raises(ValueError, match="vectors.npy"):
        read_npz(q)


def test_embeddings_load_names_the_file_on_a_bad_archive(tmp_path: Path) -> None:
    p = tmp_path / "voices.npz"
    Embeddings(["a", "b"], ["p", "q"], np.eye(2), "voice").save(p)
    e = Embeddings.load(p)
    np.testing.assert_array_equal(e.vectors, np.eye(2, dtype=np.float32))
    assert e.ids.tolist() == ["a", "b"] and e.modality == "voice"
    p.write_bytes(b"not a zip at all")
    with pytest.raises(EvaluationError, match=r"voices\.npz: cannot read embeddings"):
        Embeddings.load(p)
    p.write_bytes(p.read_bytes()[:0])
    with pytest.raises(EvaluationError, match=r"voices\.npz"):
        Embeddings.load(p)
