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
