"""Fixtures of the preprocessing tests (media builders live in ``_pp_media.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _pp_media import GRID, REAL, clip_frames, grid_frames


@pytest.fixture(scope="session")
def grid(shared_dir: Path) -> dict[str, list[np.ndarray]]:
    if not (shared_dir / "media" / "grid" / GRID[0]).is_file():
        pytest.skip("GRID clips not present")
    return grid_frames(shared_dir)


@pytest.fixture(scope="session")
def real_frames(shared_dir: Path) -> dict[str, list[np.ndarray]]:
    """Three frames of every real clip of ``../shared/media`` (README): {clip: frames}."""
    missing = [c for c in REAL if not (shared_dir / "media" / c).is_file()]
    if missing:
        pytest.skip(f"real clips not present: {missing}")
    return {c: clip_frames(shared_dir / "media" / c) for c in REAL}
