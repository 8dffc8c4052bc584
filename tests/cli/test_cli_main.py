"""The CLI shell: version, help, and one-line errors (tracebacks only with --debug)."""

from __future__ import annotations

import os
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


def test_disk_full_is_one_line_with_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    @app.command("_full", hidden=True)
    def _full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "cache/voice/00001.npz.tmp")

    assert main(["_full"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no space left on the device while writing cache/voice/")
    assert "\n" not in err and "Traceback" not in err
    with pytest.raises(OSError):
        main(["--debug", "_full"])


def test_other_os_errors_are_not_disguised() -> None:
    @app.command("_perm", hidden=True)
    def _perm() -> None:
        raise PermissionError(13, "Permission denied", "/root/x")

    with pytest.raises(PermissionError):
        main(["_perm"])


def test_help_style_applies_when_typer_loads_its_renderer_later() -> None:
    """The house style patches typer's renderer when typer first imports it (a fresh
    process); importing the CLI alone does not load the renderer (~0.05 s per command)."""
    code = (
        "import sys, vfbench.cli\n"
        "print('loaded' if 'typer.rich_utils' in sys.modules else 'lazy')\n"
        "rc = vfbench.cli.main(['evaluate', '--help'])\n"
        "sys.exit(rc or vfbench.cli.main(['data', 'import-features', '--help']))\n"
    )
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    first, _, page = out.stdout.partition("\n")
    assert first == "lazy"
    assert "KEY=VALUE" in page  # our metavar for --set
    assert "<list" not in page and "<path>" not in page  # typer's type tags are gone
    assert "[default: (" not in page
    assert "'id identity [language]'" in page  # the renderer's patch: brackets kept as text
