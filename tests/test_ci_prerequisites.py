"""Under CI=true a missing prerequisite fails instead of skipping (conftest hook)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(
    ("ci", "expect"),
    [("true", {"failed": 1, "skipped": 1}), ("", {"skipped": 2})],
)
def test_missing_prerequisite_fails_on_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, expect: dict[str, int]
) -> None:
    from pathlib import Path

    conftest = Path(__file__).with_name("conftest.py").read_text(encoding="utf-8")
    pytester.makeconftest(conftest)
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            def test_needs_browser():
                pytest.skip("/usr/bin/chromium not installed")

            def test_needs_gpu():
                pytest.skip("needs a CUDA device")
            """
        )
    )
    monkeypatch.setenv("CI", ci)
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(**expect)
