"""Progress and console output that behave on a terminal *and* in a log file.

On a terminal, :func:`progress_bar` is a live tqdm bar (counts, rate, ETA). Off a terminal
(a log file, a pipe, CI) a carriage-return bar would write thousands of updates into one
line, so it prints a plain line when the stage starts, about every ``interval`` seconds
while it runs, and once when it ends. :func:`make_console` gives a rich console that never
wraps or truncates paths and ids when not on a terminal (so ``grep FILE log`` finds them).
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any, Protocol

__all__ = ["Bar", "is_terminal", "make_console", "progress_bar"]

PLAIN_INTERVAL_S = 10.0
"""Seconds between plain progress lines when the output is not a terminal."""


class Bar(Protocol):
    """What callers may use of a progress bar (tqdm's subset)."""

    def update(self, n: int = 1) -> Any: ...

    def set_description(self, desc: str, refresh: bool = True) -> Any: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...


def is_terminal(stream: IO[str] | None = None) -> bool:
    """True when ``stream`` (default stderr) is an interactive terminal."""
    s = sys.stderr if stream is None else stream
    try:
        return bool(s.isatty())
    except (AttributeError, ValueError):
        return False


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, desc: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fmt_s(s: float) -> str:
    s = max(0.0, s)
    if s < 60:
        return f"{s:.0f}s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class PlainBar:
    """A progress 'bar' for logs: one full line per report, never a carriage return."""

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        initial: int = 0,
        stream: IO[str] | None = None,
        interval: float = PLAIN_INTERVAL_S,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = initial
        self._initial = initial
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._t0 = time.monotonic()
        self._last = self._t0
        self._closed = False
        self._emit("started")

    def _line(self, state: str) -> str:
        done = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        el = time.monotonic() - self._t0
        rate = (self.n - self._initial) / el if el > 0 else 0.0
        parts = [f"{self.desc}: {done} {self.unit}", state, f"elapsed {_fmt_s(el)}"]
        if state == "running" and self.total and rate > 0:
            parts.append(f"eta {_fmt_s((self.total - self.n) / rate)}")
        if rate > 0 and state != "started":
            parts.append(f"{rate:.1f} {self.unit}/s")
        return " | ".join(parts)

    def _emit(self, state: str) -> None:
        try:
            print(self._line(state), file=self._stream, flush=True)
        except (OSError, ValueError):
            pass

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        finished = self.total is not None and self.n >= self.total
        if now - self._last >= self._interval and not finished:
            self._last = now
            self._emit("running")

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._emit("done")

    def __enter__(self) -> PlainBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(
    total: int | None,
    desc: str,
    unit: str = "it",
    *,
    enabled: bool = True,
    initial: int = 0,
    stream: IO[str] | None = None,
    leave: bool = True,
) -> Bar:
    """A progress bar for ``total`` units: tqdm on a terminal, plain lines elsewhere.

    ``enabled=False`` gives a silent object with the same methods. The environment
    variable ``VFBENCH_PROGRESS`` forces a style: ``bar``, ``plain`` or ``off``.
    """
    mode = os.environ.get("VFBENCH_PROGRESS", "").strip().lower()
    if not enabled or mode == "off":
        return _Silent()
    s = sys.stderr if stream is None else stream
    if mode == "plain" or (mode != "bar" and not is_terminal(s)):
        return PlainBar(total, desc, unit=unit, initial=initial, stream=s)
    from tqdm import tqdm

    bar: Any = tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        file=s,
        dynamic_ncols=True,
        leave=leave,
        mininterval=0.2,
    )
    return bar


def make_console(stderr: bool = False, **kwargs: Any) -> Any:
    """A rich console; off a terminal it is very wide and never wraps or folds text."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if not is_terminal(stream):
        kwargs.setdefault("width", 10_000)
        kwargs.setdefault("soft_wrap", True)
    kwargs.setdefault("highlight", False)
    return Console(stderr=stderr, **kwargs)
