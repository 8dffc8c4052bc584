"""Encoder registry: ``create_encoder(name, modality=..., **kw)`` (one file per architecture).

Every encoder is an ``nn.Module`` with three attributes:

``out_dim``
    size of the (B, out_dim) feature it returns;
``input_kind``
    what it reads (see :data:`INPUT_KINDS`): ``"spectrogram"`` (B, 1, 257, T) normalised
    STFT magnitudes, 100 frames/s; ``"image"`` (B, 3, 112, 112) in [-1, 1];
    ``"waveform"`` raw 16 kHz audio read from the manifest (pretrained speaker encoders);
    ``"chip150"`` (150, 150, 3) uint8 face chips read from the manifest (dlib);
    ``"vector"`` (B, D) imported feature vectors (``precomputed``: a feature store, no media);
``modality``
    ``"voice"`` or ``"face"``.

Encoders whose ``input_kind`` is ``waveform``/``chip150`` are frozen off-the-shelf models
with an ``embed_items(list_of_arrays) -> (N, out_dim)`` method; they are used only in
feature mode (:mod:`vfbench.train.features`), which reads the manifest media directly.

Packaged frozen encoders (resemblyzer, dlib) are never stored in a checkpoint: their network
is not a registered submodule (no parameters, empty ``state_dict``), and
:func:`packaged_info` records what rebuilds them instead (encoder, package, version, weight
file and its SHA-256). A checkpoint keeps that record; loading rebuilds the network from
the installed package.

The architecture modules are imported explicitly by :func:`load_all` (not by side effect of
``import vfbench``), so importing this package stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from importlib import metadata
from pathlib import Path
from typing import Any

from torch import nn

from vfbench.errors import ConfigError
from vfbench.registry import Registry

ENCODERS: Registry[Any] = Registry("encoder")

INPUT_KINDS = {
    "spectrogram": "(B, 1, 257, T) float32 normalised STFT magnitude, 100 frames/s",
    "image": "(B, 3, 112, 112) float32 in [-1, 1]",
    "waveform": "list of 1-D float32 16 kHz waveforms (read from the manifest)",
    "chip150": "list of (150, 150, 3) uint8 RGB face chips (read from the manifest)",
    "vector": "(B, D) float32 imported feature vectors (a feature store; no media)",
}

# One module per architecture; add a line here when adding a file.
MODULES = (
    "small_cnn",
    "iresnet",
    "resnet",
    "se_resnet",
    "vgg_m",
    "thin_resnet",
    "dimnet",
    "resemblyzer_enc",
    "dlib_face",
    "precomputed",
)

_loaded = False


def load_all() -> None:
    """Import every architecture module so that it registers into :data:`ENCODERS`."""
    global _loaded
    if _loaded:
        return
    for m in MODULES:
        importlib.import_module(f"vfbench.models.encoders.{m}")
    _loaded = True


def check_modality(name: str, modality: str, allowed: tuple[str, ...]) -> None:
    """Raise ConfigError if encoder ``name`` does not exist for ``modality``."""
    if modality not in allowed:
        raise ConfigError(
            f"encoder {name!r} is a {'/'.join(allowed)} encoder; it cannot encode {modality!r}"
        )


def encoder_options(name: str) -> list[str]:
    """The keyword options encoder ``name`` accepts (besides ``modality``)."""
    load_all()
    sig = inspect.signature(ENCODERS.get(name))
    return [
        p.name
        for p in sig.parameters.values()
        if p.name != "modality" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def check_encoder_options(name: str, kwargs: dict[str, Any], where: str = "") -> None:
    """Raise ConfigError naming the first option of ``kwargs`` that encoder ``name`` does
    not take, and the options it does take (``where``: e.g. ``"voice.kwargs"``)."""
    allowed = encoder_options(name)
    bad = [k for k in kwargs if k not in allowed]
    if bad:
        at = f"{where}: " if where else ""
        raise ConfigError(
            f"{at}encoder {name!r} has no option {bad[0]!r}; its options: "
            f"{', '.join(allowed) or '(none)'} (the options of another encoder stay in "
            f"kwargs when only the name is changed)"
        )


def create_encoder(
    name: str, modality: str, weights: str | Path | None = None, **kwargs: Any
) -> nn.Module:
    """Build encoder ``name`` for ``modality`` ("voice"/"face"); load ``weights`` if given.

    ``weights`` is a state-dict file loaded with ``weights_only=True``; a shape mismatch
    raises :class:`~vfbench.errors.CheckpointError` listing the keys.
    """
    if modality not in ("voice", "face"):
        raise ConfigError(f"modality must be 'voice' or 'face', got {modality!r}")
    load_all()
    check_encoder_options(name, kwargs)
    enc: nn.Module = ENCODERS.build(name, modality=modality, **kwargs)
    if weights is not None and str(weights) != "":
        if getattr(enc, "input_kind", "") in ("waveform", "chip150"):
            # off-the-shelf models take their own weight files in their builder
            raise ConfigError(
                f"encoder {name!r}: pass its weight file as kwargs.weights_path, not weights"
            )
        from vfbench.models.weights import load_weights

        load_weights(enc, weights)
    return enc


def encoder_names() -> list[str]:
    load_all()
    return ENCODERS.names()


def out_dim(encoder: nn.Module) -> int:
    """The encoder's feature size (its ``out_dim`` attribute)."""
    v = vars(encoder).get("out_dim")
    if not isinstance(v, int):
        raise ConfigError(f"encoder {type(encoder).__name__} has no integer out_dim")
    return v


def input_kind(encoder: nn.Module) -> str:
    """The encoder's input kind (see :data:`INPUT_KINDS`)."""
    return str(vars(encoder).get("input_kind", "spectrogram"))


def packaged_info(encoder: nn.Module) -> dict[str, Any] | None:
    """What rebuilds a packaged frozen encoder (None for a trainable one): encoder name,
    package, version, weight file and its SHA-256. Recorded in checkpoints and in the
    feature-cache key instead of the weights."""
    fn = getattr(encoder, "packaged_info", None)
    return dict(fn()) if callable(fn) else None


def package_version(*candidates: str) -> str:
    """Installed version of the first distribution/module of ``candidates`` that has one."""

    for c in candidates:
        try:
            return metadata.version(c)
        except metadata.PackageNotFoundError:
            pass
    for c in candidates:
        try:
            v = getattr(importlib.import_module(c), "__version__", None)
        except ImportError:
            continue
        if v:
            return str(v)
    return "unknown"


_SHA_CACHE: dict[tuple[str, float, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a weight file (memoised by path, mtime and size)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime, st.st_size)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]
