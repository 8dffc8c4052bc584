"""Atomic writes, hashing, root-confined paths and advisory locks.

Every file vfbench writes goes through :func:`atomic_write` (temp file in the same
folder + ``os.replace``), so a crash or Ctrl-C never leaves a half-written output and an
existing file is only replaced by a complete new one.

Permissions are those ``open(path, "w")`` would give: a new file gets ``0o666`` minus the
process umask (``-rw-r--r--`` under the usual umask 022, so a colleague or a web server can
read a report), and a replaced file keeps its mode. ``tempfile.mkstemp`` alone would make
every output private (``0600``) whatever the umask.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from vfbench.errors import DataError, ManifestError, PathEscapeError

#: Largest metadata/table file read into memory (meta.csv, manifests, split lists).
MAX_TABLE_BYTES = 256 * 1024 * 1024

_UMASK_LOCK = threading.Lock()


class LockHeld(DataError):
    """Another process holds the advisory lock asked for (see :func:`exclusive_lock`)."""


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it: set it straight back
        old = os.umask(0o022)
        os.umask(old)
    return old


def new_file_mode(path: str | Path) -> int:
    """Mode ``open(path, "w")`` would leave: the existing file's, else ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_write(
    path: str | Path, mode: str = "w", encoding: str | None = "utf-8", *, fsync: bool = True
) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success rename it over ``path``.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (binary). On any exception the temp file is
    removed and ``path`` is left untouched. The result has the permissions ``open()``
    would give (see the module doc); ``fsync=False`` skips flushing to disk before the
    rename (faster; still atomic against a killed process, not against power loss).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode(path))
        with os.fdopen(
            fd, mode, encoding=None if binary else encoding, newline=None if binary else ""
        ) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


def atomic_write_json(path: str | Path, obj: Any, indent: int = 2) -> None:
    atomic_write_text(
        path, json.dumps(obj, indent=indent, sort_keys=False, default=_json_default) + "\n"
    )


def atomic_save_npz(path: str | Path, compressed: bool = False, **arrays: np.ndarray) -> None:
    """``np.savez`` to ``path`` atomically (the exact name is kept; no ``.npz`` is appended)."""
    buf = io.BytesIO()
    if compressed:
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    else:
        np.savez(buf, **arrays)  # type: ignore[arg-type]
    atomic_write_bytes(path, buf.getvalue())


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, as ``np.load(path, allow_pickle=False)`` gives them.

    Members stored uncompressed (what :func:`atomic_save_npz` and ``np.savez`` write) are
    read straight into their arrays at their offsets - one read per array, no zip CRC pass
    (~0.4 s per GB) and no intermediate bytes; compressed members, object arrays and
    anything unusual go through ``np.load``. A member shorter than its header says is an
    error (``ValueError``, as ``np.load`` raises), never a silently short array."""
    import zipfile

    from numpy.lib import format as npformat

    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        slow: list[str] = []
        for info in zf.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                slow.append(key)
                continue
            fh.seek(info.header_offset)
            head = fh.read(30)
            if len(head) != 30 or head[:4] != b"PK\x03\x04":
                raise ValueError(f"{info.filename}: bad zip local header")
            start = info.header_offset + 30 + int.from_bytes(head[26:28], "little")
            start += int.from_bytes(head[28:30], "little")
            fh.seek(start)
            version = npformat.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = npformat.read_array_header_2_0(fh)
            else:
                slow.append(key)
                continue
            if dtype.hasobject:
                slow.append(key)
                continue
            count = int(np.prod(shape, dtype=np.int64))
            if fh.tell() + count * dtype.itemsize > start + info.file_size:
                raise ValueError(f"{info.filename}: array data runs past its zip member")
            arr = np.fromfile(fh, dtype=dtype, count=count) if count else np.empty(0, dtype)
            if arr.size != count:
                raise ValueError(f"{info.filename}: {arr.size} of {count} values present")
            out[key] = arr.reshape(shape, order="F" if fortran else "C")
        if slow:
            with np.load(path, allow_pickle=False) as z:
                for key in slow:
                    out[key] = z[key]
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stable_hash(obj: Any, length: int = 16) -> str:
    """Short hash of a JSON-serialisable object with sorted keys (config hashes, cache keys)."""
    text = json.dumps(obj, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def resolve_under(root: str | Path, rel: str | Path) -> Path:
    """Resolve ``rel`` against ``root`` and refuse results outside ``root``.

    Absolute ``rel`` paths and ``..`` components that escape the root raise
    :class:`PathEscapeError` naming both paths.
    """
    root_p = Path(root).resolve()
    rel_p = Path(rel)
    if rel_p.is_absolute():
        raise PathEscapeError(
            f"path {str(rel)!r} is absolute; manifest paths must be relative to {root_p}"
        )
    full = (root_p / rel_p).resolve()
    if full != root_p and root_p not in full.parents:
        raise PathEscapeError(f"path {str(rel)!r} escapes its root {root_p}")
    return full


def ensure_inside(path: str | Path, root: str | Path) -> Path:
    """Return ``path`` resolved, or raise if it is not inside ``root``."""
    p = Path(path).resolve()
    r = Path(root).resolve()
    if p != r and r not in p.parents:
        raise PathEscapeError(f"refusing to write {p}: outside the output folder {r}")
    return p


@contextlib.contextmanager
def exclusive_lock(
    path: str | Path, *, wait: bool = False, what: str = "", grace_s: float = 2.0
) -> Iterator[Path]:
    """Hold an advisory ``fcntl`` lock on ``path`` (created if needed) for the ``with`` body.

    ``wait=False`` raises :class:`LockHeld` (a :class:`DataError`) when another process
    still holds it after ``grace_s`` seconds (naming the lock file and ``what`` it
    protects; the grace covers the worker processes of a run killed a moment ago, which
    share its lock until they are gone); ``wait=True`` blocks until it is free. The kernel drops the lock when the holder exits, even after ``kill -9``, so a
    crashed run never leaves a stale lock behind.
    """

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + grace_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                holder = ""
                with contextlib.suppress(OSError, ValueError):
                    holder = os.pread(fd, 64, 0).decode("ascii").strip()
                by = f" (held by process {holder})" if holder else ""
                raise LockHeld(
                    f"{p}: {what or p.parent} is in use by another run{by}; wait for it to "
                    "finish or write elsewhere"
                ) from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield p
    finally:
        os.close(fd)  # releases the lock


def input_file_stat(
    path: str | Path, max_bytes: int | None = None
) -> tuple[os.stat_result | None, str | None]:
    """``(stat, None)`` for a readable input file, else ``(stat or None, why not)``: the one
    place these messages are worded ("file not found", "is a directory, not a file",
    "too large ...")."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None, "file not found"
    except NotADirectoryError:
        return None, "file not found (a parent in the path is a file)"
    except OSError as exc:
        return None, f"cannot read ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return st, "is a directory, not a file"
    if not stat.S_ISREG(st.st_mode):
        return st, "is not a regular file"
    if max_bytes is not None and st.st_size > max_bytes:
        return st, f"too large ({st.st_size:,} bytes; the limit is {max_bytes:,})"
    return st, None


def input_file_problem(path: str | Path, max_bytes: int | None = None) -> str | None:
    """Why ``path`` cannot be read as an input file, or None (see :func:`input_file_stat`)."""
    return input_file_stat(path, max_bytes)[1]


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def read_text_file(path: str | Path, what: str = "file", max_bytes: int = MAX_TABLE_BYTES) -> str:
    """A text table's contents: UTF-8, or UTF-16/32 when a byte-order mark says so.

    Raises :class:`ManifestError` naming the file for a missing file, a directory, a file
    over ``max_bytes``, or bytes that are not UTF-8 (with the offset of the first bad one).
    """
    p = Path(path)
    why = input_file_problem(p, max_bytes)
    if why:
        raise ManifestError(f"{what} not found" if why == "file not found" else why, p)
    data = p.read_bytes()
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc).lstrip("\ufeff")
            except UnicodeDecodeError as exc:
                raise ManifestError(
                    f"starts with a {enc} byte-order mark but is not valid {enc} "
                    f"(byte {exc.start})",
                    p,
                ) from None
    if b"\x00" in data[:4096]:  # valid UTF-8, but no table has NUL bytes
        raise ManifestError(
            "not UTF-8 text (NUL bytes: looks like UTF-16 without a byte-order mark); save "
            "it as UTF-8",
            p,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at byte {exc.start}); "
            "save it as UTF-8",
            p,
        ) from None
