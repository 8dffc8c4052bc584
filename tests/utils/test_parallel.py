"""``vfbench.utils.parallel``: BLAS thread limits for small products."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info

from vfbench.utils.parallel import SMALL_BLAS_WORK, blas_single_thread_if_small


def _blas_threads() -> list[int]:
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


def test_small_products_run_on_one_blas_thread_and_the_limit_is_restored() -> None:
    before = _blas_threads()
    assert before, "numpy has no BLAS pool to limit"
    with blas_single_thread_if_small(SMALL_BLAS_WORK - 1):
        assert _blas_threads() == [1] * len(before)
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        np.testing.assert_array_equal(a @ a.T, np.einsum("ik,jk->ij", a, a))
    assert _blas_threads() == before
    with blas_single_thread_if_small(SMALL_BLAS_WORK):  # large work: the pool is untouched
        assert _blas_threads() == before
