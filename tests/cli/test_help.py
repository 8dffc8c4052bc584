"""Every ``--help`` page reads like a well-kept CLI: no type noise, upper-case metavars,
one default style, nothing truncated, the same option names for the same things."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from vfbench.cli import app


def _commands() -> list[tuple[list[str], Any]]:
    root = typer.main.get_command(app)
    out: list[tuple[list[str], Any]] = []

    def walk(path: list[str], cmd: Any) -> None:
        out.append((path, cmd))
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click)
            for name, sub in cmd.commands.items():
                if not sub.hidden:
                    walk([*path, name], sub)

    walk([], root)
    return out


COMMANDS = _commands()
assert len(COMMANDS) > 20, [p for p, _ in COMMANDS]


def _help(path: list[str], width: int = 80) -> str:
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(width), "TERM": "dumb"})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "root")
def test_help_page_is_clean(path: list[str]) -> None:
    text = _help(path)
    assert "<bool>" not in text and "<path>" not in text and "<int>" not in text
    tag = r"<(bool|path|int|float|str|file|dir|choice|list\[\w+\])>"
    assert not re.search(tag, text), text  # no typer type tags at all
    assert "…" not in text, text  # nothing cut with an ellipsis at 80 columns
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage  # required arguments as CONFIG, not {config}


def test_flags_show_no_type_and_values_show_a_metavar() -> None:
    text = _help(["train"], width=120)
    resume = next(line for line in text.splitlines() if "--resume" in line)
    assert "BOOL" not in resume and "TEXT" not in resume
    out = next(line for line in text.splitlines() if "--out" in line)
    assert "PATH" in out
    assert "KEY=VALUE" in next(line for line in text.splitlines() if "--set" in line)


def test_defaults_written_one_way() -> None:
    """Defaults appear as ``[default: X]`` (typer's style), never as ``(default ...)``."""
    bad = []
    for path, cmd in COMMANDS:
        for p in cmd.params:
            h = getattr(p, "help", None) or ""
            if re.search(r"\(default[: ]", h):
                bad.append(f"{' '.join(path)} {p.opts}: {h}")
    assert not bad, "\n".join(bad)


def test_parallelism_and_output_options_are_named_alike() -> None:
    """``--workers/-j`` for parallelism and ``-o`` beside ``--out`` on every command."""
    bad = []
    for path, cmd in COMMANDS:
        for p in cmd.params:
            if getattr(p, "hidden", False):  # old spellings kept for scripts, not shown
                continue
            opts = set(getattr(p, "opts", [])) | set(getattr(p, "secondary_opts", []))
            if opts & {"--jobs", "--workers", "-j"} and not {"--workers", "-j"} <= opts:
                bad.append(f"{' '.join(path)}: {sorted(opts)}")
            if "--out" in opts and "-o" not in opts:
                bad.append(f"{' '.join(path)}: {sorted(opts)}")
    assert not bad, "\n".join(bad)


def test_square_brackets_in_help_print_as_written() -> None:
    """Help strings are plain text: ``identity[,gender]`` is not rich markup to be eaten."""
    checked = 0
    for path, cmd in COMMANDS:
        for p in cmd.params:
            h = getattr(p, "help", None) or ""
            m = re.search(r"\[[^\]]+\]", h)
            if m is None:
                continue
            page = re.sub(r"\s+", "", _help(path, width=400))
            assert re.sub(r"\s+", "", m.group(0)) in page, (path, h)
            checked += 1
    assert checked >= 2  # e.g. collect run SOURCES, data import-features --meta
