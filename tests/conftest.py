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


class SimulatedCrash(RuntimeError):
    """Raised by the ``crash_after_step`` fixture inside a training run."""


@pytest.fixture
def crash_after_step(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``arm(n)``: the next training run raises :class:`SimulatedCrash` right after step
    ``n`` is logged (``n`` must be a multiple of ``log.every``), before that step's
    checkpoint; once (a resumed run goes on). Fault injection from outside the loop,
    which has no test hooks (issue 19.6)."""
    from vfbench.train import loop

    def arm(n: int) -> None:
        logged = loop._Logger.step
        fired: list[int] = []

        def step(self: loop._Logger, row: dict) -> None:  # type: ignore[type-arg]
            logged(self, row)
            if row["step"] == n and not fired:
                fired.append(n)
                raise SimulatedCrash(f"simulated crash after step {n}")

        monkeypatch.setattr(loop._Logger, "step", step)

    return arm
