"""SOURCES.csv parsing: rows, folders, times, and every bad input naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbench.collect import sources as S
from vfbench.errors import DataError, ManifestError


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "SOURCES.csv"
    p.write_text(text)
    return p


@pytest.fixture
def vids(tmp_path: Path) -> Path:
    (tmp_path / "a.mp4").write_bytes(b"x")
    d = tmp_path / "bob"
    d.mkdir()
    for n in ("2.mkv", "1.webm", "notes.txt"):
        (d / n).write_bytes(b"x")
    return tmp_path


def test_rows_folders_times_and_metadata(vids: Path) -> None:
    p = _write(
        vids,
        "source,identity,gender,nationality,language,start,end\n"
        "a.mp4,alice,F,GB,en,,\n"
        "# a comment row\n"
        "bob,bob,m,CN,zh,1:02,1:01:00.5\n",
    )
    jobs, idents = S.read_sources(p)
    assert [j.path.name for j in jobs] == ["a.mp4", "1.webm", "2.mkv"]  # sorted, txt ignored
    assert jobs[0].gender == "f" and jobs[0].start is None and jobs[0].end is None
    assert jobs[1].start == 62.0 and jobs[1].end == 3660.5
    assert jobs[1].language == "zh" and jobs[1].row == 4
    assert idents["bob"].nationality == "CN"
    assert len({j.key for j in jobs}) == 3 and all(j.key.startswith(j.identity + "/") for j in jobs)


def test_parse_time() -> None:
    assert S.parse_time("", "f", 1) is None
    assert S.parse_time("12.5", "f", 1) == 12.5
    assert S.parse_time("1:02:03", "f", 1) == 3723.0
    with pytest.raises(ManifestError, match="f:7: time 'x1'"):
        S.parse_time("x1", "f", 7)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("source,person\na.mp4,x\n", r"SOURCES.csv:1: unknown column 'person'"),
        ("source,gender\na.mp4,m\n", r"SOURCES.csv:1: missing column 'identity'"),
        ("source,identity,gender\na.mp4,al,q\n", r"SOURCES.csv:2: gender 'q'"),
        ("source,identity\nmissing.mp4,al\n", r"SOURCES.csv:2: source 'missing.mp4' not found"),
        ("source,identity\na.mp4,../evil\n", r"SOURCES.csv:2: identity '../evil'"),
        ("source,identity\na.mp4\n", r"SOURCES.csv:2: expected 2 fields, found 1"),
        (
            "source,identity,start,end\na.mp4,al,5,3\n",
            r"SOURCES.csv:2: end 3.0 is not after start 5.0",
        ),
        ("source,identity,start\na.mp4,al,1:xx\n", r"SOURCES.csv:2: time '1:xx'"),
        (
            "source,identity\na.mp4,al\na.mp4,al\n",
            r"SOURCES.csv:3: video .*a.mp4 is listed twice .*line 2",
        ),
        (
            "source,identity,language\na.mp4,al,en\nbob,al,zh\n",
            r"SOURCES.csv:3: identity 'al' has different",
        ),
        ("source,identity\nempty_dir,al\n", r"SOURCES.csv:2: folder 'empty_dir' holds no video"),
        ("", r"SOURCES.csv:1: empty file"),
    ],
)
def test_bad_rows_name_file_and_line(vids: Path, text: str, match: str) -> None:
    (vids / "empty_dir").mkdir(exist_ok=True)
    with pytest.raises(ManifestError, match=match):
        S.read_sources(_write(vids, text))


def test_missing_sources_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="nope.csv: sources file not found"):
        S.read_sources(tmp_path / "nope.csv")


def test_url_without_yt_dlp_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ytdlp(name: str, *a: object, **k: object) -> object:
        if name == "yt_dlp":
            raise ImportError(name)
        return real_import(name, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ytdlp)
    monkeypatch.setattr(S.shutil, "which", lambda _: None)
    p = _write(tmp_path, "source,identity\nhttps://example.org/v?x=1,al\n")
    with pytest.raises(
        DataError,
        match=r"SOURCES.csv:2: https://example.org/v\?x=1 is a URL but yt-dlp is not installed.*vfbench\[download\]",
    ):
        S.read_sources(p, download_dir=tmp_path / "dl")
    with pytest.raises(ManifestError, match="URL rows need a download folder"):
        S.read_sources(p)


def test_url_already_downloaded_is_reused(tmp_path: Path) -> None:
    import hashlib

    url = "https://example.org/v"
    dl = tmp_path / "dl"
    dl.mkdir()
    cached = dl / (hashlib.sha256(url.encode()).hexdigest()[:12] + ".mp4")
    cached.write_bytes(b"x")
    assert S.fetch_url(url, dl) == cached  # no network, no yt-dlp needed
