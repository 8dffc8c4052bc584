"""Session fixtures of the real-media tests: a 7-person corpus cut from ``../shared/media``
with PyAV (see ``_corpus.py``), its manifest (``data prepare folder``) and its
preprocessing cache (``preprocess run``, dlib HOG detection + alignment), built once."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

NEEDED = ("av", "dlib", "resemblyzer", "face_recognition_models", "soundfile")


@dataclass(frozen=True)
class RealCorpus:
    root: Path  # voices/<id>/*.wav + faces/<id>/*.jpg + meta.csv
    manifest: Path
    cache: Path


@pytest.fixture(scope="session")
def media_dir(shared_dir: Path) -> Path:
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"real-media tests need {', '.join(missing)}")
    d = shared_dir / "media"
    if not (d / "real").is_dir() or not (d / "grid").is_dir():
        pytest.skip(f"{d} has no real clips")
    return d


@pytest.fixture(scope="session")
def real_corpus(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RealCorpus:
    from _corpus import build_corpus

    from vfbench.cli import main

    base = tmp_path_factory.mktemp("realmedia")
    root = build_corpus(media_dir, base / "corpus")
    manifest, cache = base / "manifest", base / "cache"
    assert main(["data", "prepare", "folder", "--root", str(root), "--out", str(manifest)]) == 0
    assert main(["preprocess", "run", str(manifest), "--out", str(cache), "-q"]) == 0
    return RealCorpus(root, manifest, cache)
