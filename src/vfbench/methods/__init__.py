"""The voice-face methods: TriNet and the compared systems of the paper (section 2,
Table 2: SVHF, DIMNet, Learnable PINs, Kim et al., Horiguchi et al.), one file each.

Each file subclasses :class:`~vfbench.methods.base.Method` (or ``ZooMethod`` /
``MatcherMethod`` in :mod:`vfbench.methods.base`) and overrides only its head, objective
and options; the training loop, feature mode, checkpoints, validation and ``vfbench embed``
are shared (:mod:`vfbench.train`, which takes a method object and never imports this
package). A method's options live in ``loss.kwargs`` of its config and are validated by
the method's options dataclass. Resolve a name with :func:`get_method`. See docs/methods.md.
"""

from vfbench.methods.base import Method
from vfbench.methods.registry import METHODS, get_method, method_names

__all__ = ["METHODS", "Method", "get_method", "method_names"]
