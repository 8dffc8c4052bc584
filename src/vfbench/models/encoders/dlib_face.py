"""dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat`` from the
``face_recognition_models`` package) as a frozen face backbone.

Reads (150, 150, 3) uint8 RGB face chips (``input_kind = "chip150"``), returns (N, 128).
``weights_path`` selects another ``.dat`` file. Used in feature mode only. The dlib network
is not a torch module: it is never in a ``state_dict``; checkpoints record
:meth:`DlibFaceEncoder.packaged_info` and rebuild it from the package.
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


class DlibFaceEncoder(nn.Module):
    def __init__(self, weights_path: str | None = None) -> None:
        super().__init__()
        self.modality, self.input_kind, self.out_dim = "face", "chip150", 128
        self.weights_path = weights_path
        self._model: Any = None

    def weights_file(self) -> Path:
        """The ``.dat`` in use (face_recognition_models' unless ``weights_path``)."""
        if self.weights_path:
            return Path(self.weights_path)
        try:
            import face_recognition_models
        except ImportError:
            raise CheckpointError(
                "dlib_face: face_recognition_models is not installed (pip install "
                "face_recognition_models)"
            ) from None
        return Path(face_recognition_models.face_recognition_model_location())

    def packaged_info(self) -> dict[str, Any]:
        """Encoder name, packages + versions, weight file and SHA-256 (what rebuilds it)."""
        path = self.weights_file()
        if not path.is_file():
            raise CheckpointError(f"dlib_face: weights file {path} not found")
        return {
            "encoder": "dlib_face",
            "package": "dlib",
            "version": package_version("dlib", "dlib-bin"),
            "weights_package": "face_recognition_models",
            "weights_version": package_version("face_recognition_models"),
            "weights": "(packaged)" if not self.weights_path else str(path),
            "weights_sha256": file_sha256(path),
        }

    def _net(self) -> Any:
        if self._model is None:
            import dlib

            path = self.weights_file()
            try:
                self._model = dlib.face_recognition_model_v1(str(path))
            except Exception as exc:
                raise CheckpointError(f"dlib_face: cannot load {path}: {exc}") from None
        return self._model

    def embed_items(self, chips: Sequence[np.ndarray]) -> torch.Tensor:
        """List of (150, 150, 3) uint8 RGB chips -> (N, 128) float32."""
        net = self._net()
        out = [
            np.asarray(net.compute_face_descriptor(np.ascontiguousarray(c, dtype=np.uint8)))
            for c in chips
        ]
        return torch.from_numpy(np.stack(out).astype(np.float32))

    def forward(self, x: Any) -> torch.Tensor:
        return self.embed_items(x)


@ENCODERS.register("dlib_face")
def dlib_face(modality: str, weights_path: str | None = None) -> DlibFaceEncoder:
    check_modality("dlib_face", modality, ("face",))
    return DlibFaceEncoder(weights_path)
