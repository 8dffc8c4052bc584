"""``torchrun --nproc_per_node=N -m vfbench.cli.ddp CONFIG --out DIR [--set k=v] [--resume]``:
one rank of ``vfbench train --ddp N``. Thin: resolves the method through the registry and
runs :func:`vfbench.train.ddp.main`."""

from __future__ import annotations

import sys

from vfbench.methods import get_method
from vfbench.train.ddp import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(None, get_method))
