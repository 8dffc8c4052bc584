"""Cross-modal autoencoder (CAE, the "CCAE" baseline of Self-Lifting, Chen et al. ICMR 2022).

Each modality's embedding must (i) agree with the other modality's embedding of the same
pair (``MSE(v, f)``) and (ii) reconstruct the OTHER modality's input features through a
decoder (voice embedding -> face features, face embedding -> voice features; MLP
``emb -> hidden -> hidden -> feature`` with ReLU, dropout on its input). Reconstruction keeps
the alignment term from collapsing the embeddings to a constant. No labels: only the pairing.
The reconstruction error is relative (MSE over the targets' batch variance), so the balance
of the two terms does not depend on the scale of the backbone's features.

``forward(v, lv, f, lf, voice_input=..., face_input=...)``: ``*_input`` are the backbone
features the heads read (the reconstruction targets; detached).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfbench.errors import ConfigError
from vfbench.train.losses import LOSSES
from vfbench.train.losses.pair_parts import require_pairs


def decoder(dim: int, hidden: int, out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out),
    )  # fmt: skip


def relative_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of ``pred`` to the (detached) ``target`` over the target's mean per-dimension
    variance in the batch: 1 for predicting the batch mean, whatever the feature scale."""
    t = target.detach()
    var = t.var(0, unbiased=False).mean() if t.shape[0] > 1 else t.new_tensor(1.0)
    return F.mse_loss(pred, t) / var.clamp_min(1e-12)


class CrossModalAELoss(nn.Module):
    def __init__(
        self,
        dim: int = 128,
        voice_dim: int = 0,
        face_dim: int = 0,
        hidden: int = 256,
        dropout: float = 0.5,
        align_weight: float = 1.0,
        recon_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if voice_dim < 1 or face_dim < 1:
            raise ConfigError(f"cae: voice_dim/face_dim must be >= 1, got {voice_dim}, {face_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"cae: dropout must be in [0, 1), got {dropout}")
        self.align_weight, self.recon_weight = float(align_weight), float(recon_weight)
        self.voice_to_face = decoder(dim, hidden, face_dim, dropout)
        self.face_to_voice = decoder(dim, hidden, voice_dim, dropout)

    def forward(
        self,
        v: torch.Tensor,
        lv: torch.Tensor,
        f: torch.Tensor,
        lf: torch.Tensor,
        *,
        voice_input: torch.Tensor,
        face_input: torch.Tensor,
    ) -> torch.Tensor:
        require_pairs(lv, lf, "cae")
        align = F.mse_loss(v, f)
        recon = relative_mse(self.voice_to_face(v), face_input) + relative_mse(
            self.face_to_voice(f), voice_input
        )
        return self.align_weight * align + self.recon_weight * recon


@LOSSES.register("cross_modal_ae")
def cross_modal_ae(
    dim: int = 128,
    voice_dim: int = 0,
    face_dim: int = 0,
    hidden: int = 256,
    dropout: float = 0.5,
    align_weight: float = 1.0,
    recon_weight: float = 1.0,
) -> CrossModalAELoss:
    return CrossModalAELoss(dim, voice_dim, face_dim, hidden, dropout, align_weight, recon_weight)
