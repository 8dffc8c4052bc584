"""SOURCES.csv: which videos show which person.

Columns (header required; only ``source`` and ``identity`` are mandatory)::

    source,identity,gender,nationality,language,start,end
    videos/alice_talk.mp4,alice,f,GB,en,,
    videos/bob/,bob,m,CN,zh,5.0,65
    https://example.org/watch?v=xyz,carol,f,US,en,0:10,1:30

``source`` is a video file, a folder (every video file inside, sorted, not recursive) or an
``http(s)://`` URL fetched with ``yt-dlp`` (optional extra ``vfbench[download]``). Relative
paths are relative to the CSV file. ``start``/``end`` are seconds or ``[h:]mm:ss``; empty =
whole video. ``gender`` is ``m``, ``f`` or empty.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from vfbench.errors import DataError, ManifestError

VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".mpg", ".mpeg", ".m4v", ".flv", ".ts")
COLUMNS = ("source", "identity", "gender", "nationality", "language", "start", "end")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class VideoJob:
    """One video to process for one identity; ``start``/``end`` in seconds (None = open)."""

    key: str  # "<identity>/<stem>-<hash8>": folder name under DIR/videos/
    path: Path
    identity: str
    gender: str = ""
    nationality: str = ""
    language: str = ""
    start: float | None = None
    end: float | None = None
    row: int = 0  # line in SOURCES.csv


@dataclass(frozen=True)
class IdentityInfo:
    id: str
    gender: str = ""
    nationality: str = ""
    language: str = ""


def parse_time(text: str, where: str, line: int) -> float | None:
    """``""`` -> None; ``"12.5"`` -> 12.5; ``"1:02:03"`` -> 3723.0 (seconds)."""
    text = text.strip()
    if not text:
        return None
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise ManifestError(f"time {text!r} is not seconds or [h:]mm:ss", where, line) from None
    if len(parts) > 3 or any(p < 0 for p in parts):
        raise ManifestError(f"time {text!r} is not seconds or [h:]mm:ss", where, line)
    secs = 0.0
    for p in parts:
        secs = secs * 60 + p
    return secs


def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://"))


def _job_key(identity: str, path: Path, start: float | None, end: float | None) -> str:
    h = hashlib.sha256(f"{path.resolve()}|{start}|{end}".encode()).hexdigest()[:8]
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "_", path.stem)[:40] or "video"
    return f"{identity}/{stem}-{h}"


def read_sources(
    csv_path: str | Path, download_dir: str | Path | None = None
) -> tuple[list[VideoJob], dict[str, IdentityInfo]]:
    """Parse SOURCES.csv into video jobs and per-identity metadata.

    URL rows are downloaded into ``download_dir`` (required for them). Raises
    :class:`ManifestError` naming the file and line for any bad row.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise ManifestError("sources file not found", csv_path)
    base = csv_path.parent
    jobs: list[VideoJob] = []
    idents: dict[str, IdentityInfo] = {}
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ManifestError("empty file (no header)", csv_path, 1) from None
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            raise ManifestError(
                f"unknown column {unknown[0]!r}; known: {', '.join(COLUMNS)}", csv_path, 1
            )
        for col in ("source", "identity"):
            if col not in header:
                raise ManifestError(f"missing column {col!r}", csv_path, 1)
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                continue
            if len(row) != len(header):
                raise ManifestError(
                    f"expected {len(header)} fields, found {len(row)}", csv_path, line
                )
            rec = {h: v.strip() for h, v in zip(header, row, strict=True)}
            ident = rec["identity"]
            if not _ID_RE.match(ident):
                raise ManifestError(
                    f"identity {ident!r} must be letters, digits, '_', '-', '.' "
                    "(it becomes a folder name)",
                    csv_path,
                    line,
                )
            gender = rec.get("gender", "").lower()
            if gender not in ("m", "f", ""):
                raise ManifestError(f"gender {gender!r} must be 'm', 'f' or empty", csv_path, line)
            info = IdentityInfo(ident, gender, rec.get("nationality", ""), rec.get("language", ""))
            prev = idents.get(ident)
            if prev is not None and prev != info:
                raise ManifestError(
                    f"identity {ident!r} has different gender/nationality/language than on an "
                    "earlier row",
                    csv_path,
                    line,
                )
            idents[ident] = info
            start = parse_time(rec.get("start", ""), str(csv_path), line)
            end = parse_time(rec.get("end", ""), str(csv_path), line)
            if start is not None and end is not None and end <= start:
                raise ManifestError(f"end {end} is not after start {start}", csv_path, line)
            src = rec["source"]
            if not src:
                raise ManifestError("field 'source' is empty", csv_path, line)
            if _is_url(src):
                if download_dir is None:
                    raise ManifestError("URL rows need a download folder", csv_path, line)
                paths = [fetch_url(src, Path(download_dir), where=f"{csv_path}:{line}")]
            else:
                p = Path(src)
                p = p if p.is_absolute() else base / p
                if p.is_dir():
                    paths = sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_EXTS)
                    if not paths:
                        raise ManifestError(f"folder {src!r} holds no video files", csv_path, line)
                elif p.is_file():
                    paths = [p]
                else:
                    raise ManifestError(f"source {src!r} not found (looked at {p})", csv_path, line)
            for p in paths:
                jobs.append(
                    VideoJob(
                        key=_job_key(ident, p, start, end),
                        path=p,
                        identity=ident,
                        gender=gender,
                        nationality=info.nationality,
                        language=info.language,
                        start=start,
                        end=end,
                        row=line,
                    )
                )
    seen: dict[str, int] = {}
    for j in jobs:
        if j.key in seen:
            raise ManifestError(
                f"video {j.path} is listed twice for {j.identity!r} (also line {seen[j.key]})",
                csv_path,
                j.row,
            )
        seen[j.key] = j.row
    return jobs, idents


def fetch_url(url: str, out_dir: Path, where: str = "") -> Path:
    """Download ``url`` with yt-dlp into ``out_dir`` (cached by URL hash); returns the file.

    Raises :class:`DataError` with install instructions when yt-dlp is not installed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(url.encode()).hexdigest()[:12]
    done = sorted(out_dir.glob(f"{tag}.*"))
    done = [d for d in done if d.suffix.lower() in VIDEO_EXTS]
    if done:
        return done[0]
    exe = shutil.which("yt-dlp")
    try:
        import yt_dlp  # noqa: F401

        cmd = ["python", "-m", "yt_dlp"]

        cmd[0] = sys.executable
    except ImportError:
        if exe is None:
            raise DataError(
                f"{where}: {url} is a URL but yt-dlp is not installed; "
                "install it with `pip install 'vfbench[download]'` or download the video "
                "yourself and list the local file"
            ) from None
        cmd = [exe]
    tmpl = str(out_dir / f"{tag}.%(ext)s")
    res = subprocess.run(
        [*cmd, "-f", "mp4/best", "--no-playlist", "-o", tmpl, url],
        capture_output=True,
        text=True,
    )
    got = [d for d in sorted(out_dir.glob(f"{tag}.*")) if d.suffix.lower() in VIDEO_EXTS]
    if res.returncode != 0 or not got:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DataError(f"{where}: yt-dlp could not fetch {url}: {tail[0]}")
    return got[0]
