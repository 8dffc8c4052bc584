"""Shared fixtures. ``shared_dir`` is the read-only ``../shared`` reference folder."""

from __future__ import annotations

import os
import re
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


# Under CI a missing prerequisite (../shared, the real media, Chromium, Playwright, one of
# our own modules) must fail loudly: a skip would let CI pass with those tests never run.
_PREREQ = re.compile(
    r"chromium|playwright|reference folder|shared|GRID clips|media|not installed|"
    r"not present|not available|No module named|could not import",
    re.IGNORECASE,
)


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    if not (rep.skipped and _on_ci()) or hasattr(rep, "wasxfail"):
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if _PREREQ.search(str(reason)):
        rep.outcome = "failed"
        rep.longrepr = (
            f"CI=true: a prerequisite of this test is missing, which must fail, not skip: {reason}"
        )
