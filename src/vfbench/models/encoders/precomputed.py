"""``precomputed``: the "backbone" of imported feature vectors (issue 16, item 1).

Data imported with ``vfbench data import-features`` already are backbone outputs: the
training data layer (:func:`vfbench.train.data.load_split` on a feature store) serves the
stored (B, dim) vectors, and this encoder passes them through unchanged. It has no
parameters, so heads-only training, ``embed`` and ``methods benchmark`` treat imported
features exactly like the cached features of a frozen media backbone. ``dim`` must equal
the stored dimension (``OUT/train.yaml`` written by the import sets it).
"""

from __future__ import annotations

import torch
from torch import nn

from vfbench.errors import ConfigError, DataError
from vfbench.models.encoders import ENCODERS


class PrecomputedEncoder(nn.Module):
    """Identity map on (B, dim) float vectors; checks the width."""

    def __init__(self, modality: str, dim: int) -> None:
        super().__init__()
        self.modality, self.input_kind, self.out_dim = modality, "vector", int(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.out_dim:
            raise DataError(
                f"precomputed {self.modality} encoder expects (B, {self.out_dim}) vectors, got "
                f"{tuple(x.shape)}: set {self.modality}.kwargs.dim to the imported dimension "
                "and data.cache to the imported feature store"
            )
        return x.float()


@ENCODERS.register("precomputed")
def precomputed(modality: str, dim: int = 0) -> PrecomputedEncoder:
    """Imported features of size ``dim`` (either modality)."""
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ConfigError(
            f"encoder 'precomputed' ({modality}) needs kwargs.dim >= 1 (the imported feature "
            f"dimension), got {dim!r}"
        )
    return PrecomputedEncoder(modality, dim)
