"""Data: typed manifests, corpus recipes, validation, statistics and the synthetic corpus."""

from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem, load_manifest

__all__ = ["FaceItem", "Identity", "Manifest", "VoiceItem", "load_manifest"]
