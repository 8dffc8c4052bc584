"""Thread limits for process pools and for per-item numpy work.

numpy's OpenBLAS starts one thread per core and lets idle threads spin. vfbench's
per-item work (rendering a synthetic voice, an STFT, a face crop) calls BLAS on small
vectors, where a second thread gains nothing, but the spinning threads of one worker
steal the core of the other: measured on the 2-core machine, ``vfbench synth`` used
2.4x the CPU time with default limits. Every process pool therefore starts its workers
with :func:`limit_worker_threads`, and in-process loops use :func:`single_threaded`.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from typing import Any


def limit_worker_threads(n: int = 1) -> None:
    """Pool initializer: cap BLAS/OpenMP threads (and torch's, if loaded) at ``n``."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


@contextlib.contextmanager
def single_threaded(n: int = 1) -> Iterator[Any]:
    """Cap BLAS/OpenMP threads at ``n`` inside the block (restored on exit)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(n) as limits:
        yield limits


@functools.lru_cache(maxsize=1)
def _controller_for(_n_modules: int) -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _blas_controller() -> Any:
    """The BLAS libraries loaded now (rebuilt, ~1 ms, after an import: faiss, for one,
    brings its own OpenBLAS)."""
    return _controller_for(len(sys.modules))


#: below this many multiply-adds a BLAS call runs on one thread (~10 ms on one core)
SMALL_BLAS_WORK = 1 << 26


@contextlib.contextmanager
def blas_single_thread_if_small(work: float) -> Iterator[None]:
    """One BLAS thread for a product of ``work`` multiply-adds below :data:`SMALL_BLAS_WORK`.

    OpenBLAS splits even tiny GEMMs across its threads, which then spin-wait: measured on
    the 2-core machine with one other busy process, 600 GEMMs of 400 x 640 x 128 took 4.05 s
    on two threads and 0.57 s on one (a 4000 x 4000 x 512 GEMM took the same 0.26 s either
    way). The controller is built once (~1 ms); each limit costs ~0.1 ms.
    """
    if work >= SMALL_BLAS_WORK:
        yield
        return
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield
