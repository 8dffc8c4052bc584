"""Decoding with PyAV: probe, audio extraction (mono float32 at a fixed rate), frame sampling.

Every decoded frame yields a small grey image (shot-change and mouth-motion signals); only
frames on the detection grid (``detect_fps``) are also converted to full-resolution RGB,
which keeps 720p decoding cheap. Damaged packets are skipped and counted, never fatal; an
unreadable container raises :class:`DataError` naming the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.errors import DataError


@dataclass(frozen=True)
class VideoInfo:
    """Stream facts. ``duration`` in seconds (0 = unknown); ``fps`` frames per second."""

    path: str
    duration: float
    width: int
    height: int
    fps: float
    has_video: bool
    has_audio: bool
    audio_rate: int


@dataclass
class Frame:
    """One decoded frame at time ``t`` (seconds from the start of the file).

    ``grey``: (h, w) uint8 at detection scale; ``rgb``: (H, W, 3) uint8 at full resolution
    and ``small``: (h, w, 3) uint8 at detection scale, both only for frames on the
    detection grid (else None); ``scale`` = h / H.
    """

    t: float
    index: int
    grey: np.ndarray
    rgb: np.ndarray | None
    scale: float
    small: np.ndarray | None = None


def _open(path: str | Path) -> Any:
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot open as a video ({exc})") from None


def probe(path: str | Path) -> VideoInfo:
    """Read stream facts of ``path``; raises :class:`DataError` when it is not a media file."""
    with _open(path) as c:
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        dur = 0.0
        if c.duration:
            dur = c.duration / 1_000_000
        elif v is not None and v.duration and v.time_base:
            dur = float(v.duration * v.time_base)
        fps = float(v.average_rate or v.base_rate or 25) if v is not None else 0.0
        return VideoInfo(
            path=str(path),
            duration=dur,
            width=v.codec_context.width if v is not None else 0,
            height=v.codec_context.height if v is not None else 0,
            fps=fps,
            has_video=v is not None,
            has_audio=a is not None,
            audio_rate=a.codec_context.sample_rate if a is not None else 0,
        )


def read_audio(
    path: str | Path,
    sample_rate: int = 16000,
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray | None:
    """The first audio stream as mono float32 in [-1, 1] at ``sample_rate`` Hz.

    Returns shape (n,) starting at ``start`` (or 0), or ``None`` when the file has no audio
    stream. Undecodable packets are skipped.
    """
    import av

    with _open(path) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        t0: float | None = None
        try:
            for packet in c.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                for fr in frames:
                    if t0 is None:
                        t0 = float(fr.time) if fr.time is not None else 0.0
                    for out in resampler.resample(fr):
                        chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise DataError(f"{path}: audio cannot be decoded ({exc})") from None
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    # Align sample 0 with t=0 of the file (streams may start late) then cut [start, end).
    lead = round((t0 or 0.0) * sample_rate)
    if lead > 0:
        audio = np.concatenate([np.zeros(lead, np.float32), audio])
    a = round((start or 0.0) * sample_rate)
    b = len(audio) if end is None else round(end * sample_rate)
    return np.clip(audio[a:b], -1.0, 1.0)


_LUMA_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray"}


def _grey(fr: Any, k: int, size: tuple[int, int]) -> np.ndarray:
    """(ceil(h/k), ceil(w/k)) uint8 grey image of a decoded frame, C-contiguous.

    Planar YUV frames give it for free: every k-th sample of the luma plane. PyAV pads
    rows to 32/64 bytes and dlib misreads such strided arrays, hence the copy.
    """
    if fr.format.name in _LUMA_FORMATS:
        plane = fr.planes[0]
        y = np.frombuffer(plane, np.uint8).reshape(fr.height, plane.line_size)
        return np.ascontiguousarray(y[::k, : fr.width : k])
    return np.ascontiguousarray(
        fr.reformat(width=size[0], height=size[1], format="gray").to_ndarray()
    )


def prefetch(it: Iterator[Frame], depth: int = 16) -> Iterator[Frame]:
    """Run ``it`` in a background thread, ``depth`` items ahead.

    PyAV and swscale release the GIL, so decoding the next frames overlaps with face
    detection on the current one (the second of the two cores). Exceptions raised by
    ``it`` are re-raised here; closing this generator stops the thread.
    """
    import queue
    import threading

    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in it:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as exc:  # handed to the consumer
            q.put(("error", exc))

    th = threading.Thread(target=work, daemon=True)
    th.start()
    try:
        while True:
            kind, val = q.get()
            if kind == "item":
                yield val
            elif kind == "end":
                return
            else:
                raise val
    finally:
        stop.set()
        while th.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(0.05)


def iter_frames(
    path: str | Path,
    detect_fps: float = 5.0,
    max_height: int = 360,
    start: float | None = None,
    end: float | None = None,
    threads: bool = True,
) -> Iterator[Frame]:
    """Decode every frame in [start, end); see :class:`Frame`.

    A frame is on the detection grid when it is the first at or after each multiple of
    ``1 / detect_fps`` seconds. Frames are downscaled by the smallest integer factor that
    brings their height to ``max_height`` or less (720p -> 360p, 1080p -> 360p, 480p -> 240p). Raises :class:`DataError` if the file has no video stream.
    """
    import av

    with _open(path) as c:
        if not c.streams.video:
            raise DataError(f"{path}: no video stream")
        stream = c.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        if start:
            try:
                c.seek(int(max(0.0, start - 1.0) * 1_000_000))
            except av.error.FFmpegError:
                pass
        step = 1.0 / detect_fps
        next_t = start or 0.0
        index = 0
        small: tuple[int, int] | None = None
        k = 1
        for packet in c.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for fr in frames:
                t = (
                    float(fr.time)
                    if fr.time is not None
                    else index / float(stream.average_rate or 25)
                )
                if start is not None and t < start - 1e-6:
                    continue
                if end is not None and t >= end:
                    return
                if small is None:
                    # downscale by the smallest integer factor k reaching <= max_height, so
                    # the grey image is a plain stride of the luma plane (no resampling)
                    k = max(1, math.ceil(fr.height / max_height))
                    small = (-(-fr.width // k), -(-fr.height // k))
                grey = _grey(fr, k, small)
                rgb = sm = None
                if t + 1e-6 >= next_t:
                    rgb = np.ascontiguousarray(fr.to_ndarray(format="rgb24"))
                    sm = np.ascontiguousarray(
                        fr.reformat(width=small[0], height=small[1], format="rgb24").to_ndarray()
                    )
                    next_t = next_t + step * max(1, math.floor((t - next_t) / step) + 1)
                yield Frame(
                    t=t, index=index, grey=grey, rgb=rgb, scale=small[1] / fr.height, small=sm
                )
                index += 1
