"""Resemblyzer's pretrained GE2E speaker encoder (Wan et al. 2018) as a frozen voice backbone.

Reads raw 16 kHz waveforms (``input_kind = "waveform"``), returns (N, 256) L2-normalised
utterance embeddings. The weights ship inside the ``resemblyzer`` package (no download);
``weights_path`` selects another file of the same format. Used in feature mode only.

The network is built lazily and held outside the module tree, so it never appears in a
``state_dict`` (a checkpoint records :meth:`packaged_info` and is rebuilt from the package)
and the feature-cache key does not depend on whether the network was loaded yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vfbench.errors import CheckpointError
from vfbench.models.encoders import ENCODERS, check_modality, file_sha256, package_version


class ResemblyzerEncoder(nn.Module):
    def __init__(self, weights_path: str | None = None) -> None:
        super().__init__()
        self.modality, self.input_kind, self.out_dim = "voice", "waveform", 256
        self.sample_rate = 16000
        self.weights_path = weights_path
        self._enc: Any = None

    def weights_file(self) -> Path:
        """The weight file in use (the package's ``pretrained.pt`` unless ``weights_path``)."""
        if self.weights_path:
            return Path(self.weights_path)
        import importlib.util

        spec = importlib.util.find_spec("resemblyzer")
        if spec is None or spec.origin is None:
            raise CheckpointError(
                "resemblyzer: the package is not installed (pip install resemblyzer)"
            )
        return Path(spec.origin).parent / "pretrained.pt"

    def packaged_info(self) -> dict[str, Any]:
        """Encoder name, package + version, weight file and SHA-256 (what rebuilds it)."""
        path = self.weights_file()
        if not path.is_file():
            raise CheckpointError(f"resemblyzer: weights file {path} not found")
        return {
            "encoder": "resemblyzer",
            "package": "resemblyzer",
            "version": package_version("resemblyzer", "Resemblyzer"),
            "weights": "(packaged)" if not self.weights_path else str(path),
            "weights_sha256": file_sha256(path),
        }

    def _encoder(self) -> Any:
        if self._enc is None:
            from resemblyzer import VoiceEncoder

            try:
                enc = VoiceEncoder("cpu", verbose=False, weights_fpath=self.weights_path)
            except Exception as exc:
                raise CheckpointError(
                    f"resemblyzer: cannot load weights {self.weights_path or '(packaged)'}: {exc}"
                ) from None
            for p in enc.parameters():
                p.requires_grad_(False)
            # outside the module tree: never in state_dict(), parameters() or a checkpoint
            object.__setattr__(self, "_enc", enc)
        return self._enc

    def embed_items(self, waves: Sequence[np.ndarray]) -> torch.Tensor:
        """List of 1-D float 16 kHz waveforms -> (N, 256) float32."""
        from resemblyzer import preprocess_wav

        enc = self._encoder()
        out = []
        for w in waves:
            wav = preprocess_wav(np.asarray(w, dtype=np.float32), source_sr=self.sample_rate)
            if len(wav) < 1600:  # VAD trimmed everything: embed the raw signal instead
                wav = np.asarray(w, dtype=np.float32)
            out.append(enc.embed_utterance(wav))
        return torch.from_numpy(np.stack(out).astype(np.float32))

    def forward(self, x: Any) -> torch.Tensor:
        return self.embed_items(x)


@ENCODERS.register("resemblyzer")
def resemblyzer(modality: str, weights_path: str | None = None) -> ResemblyzerEncoder:
    check_modality("resemblyzer", modality, ("voice",))
    return ResemblyzerEncoder(weights_path)
