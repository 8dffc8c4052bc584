"""The CLI shell: version, help, and one-line errors (tracebacks only with --debug)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

import vfbench
from vfbench.cli import app, main
from vfbench.errors import DataError


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"vfbench {vfbench.__version__}"


def test_errors_are_one_line_unless_debug(capsys: pytest.CaptureFixture[str]) -> None:
    @app.command("_boom", hidden=True)
    def _boom() -> None:
        raise DataError("corpus/x.wav: cannot decode")

    assert main(["_boom"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: corpus/x.wav: cannot decode"
    with pytest.raises(DataError):
        main(["--debug", "_boom"])


def test_usage_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vfbench", "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage" in out.stdout


def test_typer_is_used() -> None:
    assert isinstance(app, typer.Typer)
