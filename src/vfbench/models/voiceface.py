"""``VoiceFaceModel``: a voice backbone + head and a face backbone + head.

The model only maps inputs to embeddings; how it is trained (loss, sampling, which parts
are frozen) is the business of a :class:`vfbench.methods.Method`.
"""

from __future__ import annotations

import torch
from torch import nn


class VoiceFaceModel(nn.Module):
    """``embed_voice`` (B, ...) -> (B, D); ``embed_face`` (B, ...) -> (B, D).

    With ``features=True`` the input is the backbone's (B, out_dim) output (feature mode,
    cached features) and only the head runs.
    """

    def __init__(
        self,
        voice_backbone: nn.Module,
        face_backbone: nn.Module,
        voice_head: nn.Module,
        face_head: nn.Module,
    ) -> None:
        super().__init__()
        self.voice_backbone = voice_backbone
        self.face_backbone = face_backbone
        self.voice_head = voice_head
        self.face_head = face_head

    def backbone(self, modality: str) -> nn.Module:
        return self.voice_backbone if modality == "voice" else self.face_backbone

    def head(self, modality: str) -> nn.Module:
        return self.voice_head if modality == "voice" else self.face_head

    def embed(self, modality: str, x: torch.Tensor, features: bool = False) -> torch.Tensor:
        h = x if features else self.backbone(modality)(x)
        out: torch.Tensor = self.head(modality)(h)
        return out

    def embed_voice(self, x: torch.Tensor, features: bool = False) -> torch.Tensor:
        return self.embed("voice", x, features)

    def embed_face(self, x: torch.Tensor, features: bool = False) -> torch.Tensor:
        return self.embed("face", x, features)

    def forward(
        self, voice: torch.Tensor, face: torch.Tensor, features: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embed_voice(voice, features), self.embed_face(face, features)
