"""vfbench: a benchmark and toolkit for voice-face cross-modal matching and retrieval.

The package is a library first: every CLI command is a function importable from the
stage subpackages (``vfbench.data``, ``vfbench.preprocess``, ``vfbench.models``,
``vfbench.train``, ``vfbench.evaluate``, ``vfbench.collect``, ``vfbench.report``).
Importing ``vfbench`` is cheap: heavy dependencies (torch, dlib, matplotlib) are imported
inside the functions that need them.
"""

__version__ = "0.1.0"

from vfbench.errors import VfbenchError

__all__ = ["VfbenchError", "__version__"]
