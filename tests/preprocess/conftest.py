"""Fixtures of the preprocessing tests (media builders live in ``_pp_media.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _pp_media import GRID, grid_frames


@pytest.fixture(scope="session")
def grid(shared_dir: Path) -> dict[str, list[np.ndarray]]:
    if not (shared_dir / "media" / "grid" / GRID[0]).is_file():
        pytest.skip("GRID clips not present")
    return grid_frames(shared_dir)
