"""The ``vfbench`` command: a thin layer that parses arguments and prints results.

Each stage has its own module ``vfbench/cli/<stage>.py`` exposing ``register(app)``,
which adds its commands or sub-groups. Library errors (:class:`VfbenchError`) are
printed as one line with exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import errno
import importlib
import sys

import typer

try:  # typer >= 0.20 vendors its own copy of click
    from typer._click import exceptions as _cx  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as _cx  # type: ignore[no-redef,unused-ignore]

from vfbench import __version__
from vfbench.cli import _help
from vfbench.errors import VfbenchError

# Stage modules, in the order they appear in --help. A missing module is skipped so
# the CLI keeps working while a stage is being built.
STAGES = (
    "data",
    "synth",
    "preprocess",
    "train",
    "crossval",
    "embed",
    "embeddings",
    "evaluate",
    "report",
    "collect",
    "demo",
    "methods",
    "fame",
)

app = typer.Typer(
    name="vfbench",
    help="Voice-face cross-modal matching and retrieval: data, TriNet baseline, evaluation with test confidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


def _version_cb(value: bool) -> None:
    if value:
        typer.echo(f"vfbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_cb, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug


def _register_stages() -> None:
    for stage in STAGES:
        try:
            mod = importlib.import_module(f"vfbench.cli.{stage}")
        except ModuleNotFoundError as exc:
            if exc.name == f"vfbench.cli.{stage}":
                continue
            raise
        mod.register(app)


_help.install()
_register_stages()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vfbench`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        rc = app(args=args, prog_name="vfbench", standalone_mode=False)
    except VfbenchError as exc:
        if debug:
            raise
        typer.secho(f"error: {exc}", err=True, fg="red")
        return 2
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except _cx.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except OSError as exc:
        # A full disk or quota is the user's to fix, not a bug: one line naming the file.
        # Outputs are written atomically, so nothing already written is damaged and a rerun
        # resumes where this one stopped.
        if debug or exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" while writing {exc.filename}" if exc.filename else ""
        typer.secho(
            f"error: no space left on the device{where}; free some space and rerun "
            "(finished work is kept and resumed)",
            err=True,
            fg="red",
        )
        return 2
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
