"""Shared fixtures. ``shared_dir`` is the read-only ``../shared`` reference folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VFBENCH_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"reference folder {SHARED} not present")
    return SHARED


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO
