"""Session fixtures: the test videos (built from the real GRID clips) and one pipeline run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import _media

SOURCES = """source,identity,gender,nationality,language
m_clean.mp4,spk_m,m,GB,en
m_two_faces.mp4,spk_m,m,GB,en
m_silence.mp4,spk_m,m,GB,en
m_no_audio.mp4,spk_m,m,GB,en
f_clean.mp4,spk_f,f,GB,en
f_dubbed.mp4,spk_f,f,GB,en
f_corrupt.mp4,spk_f,f,GB,en
"""


@pytest.fixture(scope="session")
def videos(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    grid = shared_dir / "media" / "grid"
    if not (grid / _media.GRID_M).is_file():
        pytest.skip(f"GRID clips not found in {grid}")
    out = tmp_path_factory.mktemp("videos")
    vids = _media.build_set(grid, out)
    (out / "SOURCES.csv").write_text(SOURCES)
    return vids


@pytest.fixture(scope="session")
def sources_csv(videos: dict[str, Path]) -> Path:
    return videos["m_clean"].parent / "SOURCES.csv"


@pytest.fixture(scope="session")
def collection(sources_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR of one full pipeline run over all test videos (read-only for tests: copy it)."""
    from vfbench.collect.pipeline import run_collection

    out = tmp_path_factory.mktemp("collection")
    run_collection(sources_csv, out)
    return out


@pytest.fixture(scope="session")
def coll_json(collection: Path) -> dict:
    import json

    return json.loads((collection / "collection.json").read_text())
