"""Progress output off a terminal is plain lines, never carriage returns."""

from __future__ import annotations

import io

from vfbench.utils import progress as P


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_off_terminal(monkeypatch) -> None:
    monkeypatch.delenv("VFBENCH_PROGRESS", raising=False)
    buf = io.StringIO()
    clock = [100.0]
    monkeypatch.setattr(P.time, "monotonic", lambda: clock[0])
    with P.progress_bar(30, "voice", unit="item", stream=buf) as bar:
        for _ in range(30):
            clock[0] += 1.0  # 1 s per item: a line every 10 items
            bar.update(1)
    out = buf.getvalue()
    assert "\r" not in out
    lines = out.splitlines()
    assert lines[0].startswith("voice: 0/30 item | started")
    assert lines[-1].startswith("voice: 30/30 item | done")
    running = [ln for ln in lines if "| running" in ln]
    assert len(running) == 2  # at 10 s and 20 s; the 30 s one is the final 'done'
    assert "eta 20s" in running[0]  # 10 of 30 done at 1 item/s


def test_terminal_gets_tqdm_and_off_is_silent(monkeypatch) -> None:
    monkeypatch.delenv("VFBENCH_PROGRESS", raising=False)
    tty = _Tty()
    bar = P.progress_bar(5, "x", stream=tty)
    assert type(bar).__name__ == "tqdm"
    bar.close()
    buf = io.StringIO()
    silent = P.progress_bar(5, "x", stream=buf, enabled=False)
    silent.update(5)
    silent.close()
    assert buf.getvalue() == ""
    monkeypatch.setenv("VFBENCH_PROGRESS", "plain")
    assert isinstance(P.progress_bar(5, "x", stream=tty), P.PlainBar)


def test_console_never_wraps_off_terminal() -> None:
    con = P.make_console(file=io.StringIO())
    path = "runs/corpus/voices/id00001/" + "x" * 150 + "/00001.wav"
    con.print(f"error: {path}: bad file")
    assert path in con.file.getvalue()
