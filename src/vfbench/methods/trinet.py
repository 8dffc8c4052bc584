"""TriNet (the paper's baseline, section 4): two FC + L2 + scale heads on pretrained
backbones, trained with voice-anchored Eq. 1 triplets; voice backbone frozen, face backbone
at a fixed tiny LR, heads on the step schedule; compared by cosine similarity.

Its hooks are the defaults of :class:`vfbench.methods.base.Method` (every other method
starts from them), so this file only registers it. See docs/trinet.md.
"""

from __future__ import annotations

from vfbench.methods.base import Method
from vfbench.methods.registry import METHODS


@METHODS.register("trinet")
class TriNet(Method):
    name = "trinet"
    description = "TriNet: FC+L2+scale heads, voice-anchored triplet loss (Eq. 1)"
