"""Decoding with PyAV: probe, audio extraction (mono float32 at a fixed rate), frame sampling.

Every decoded frame yields a small grey image (shot-change and mouth-motion signals); only
frames on the detection grid (``detect_fps``) are also converted to full-resolution RGB,
which keeps 720p decoding cheap. Damaged packets are skipped and counted, never fatal; an
unreadable container raises :class:`DataError` naming the file.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
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

    ``grey``: (h, w) uint8 at detection scale; ``small``: (h, w, 3) uint8 RGB at detection
    scale, only for frames on the detection grid (else None); ``scale`` = h / H. The
    full-resolution picture of a grid frame is kept as its YUV planes (a plain copy, no
    colour conversion) and converted to RGB only where a face is, by :meth:`crop`: at
    1080p that saves converting 2 M pixels per sampled frame. ``rgb`` is the full RGB frame
    only for pixel formats other than 8-bit YUV 4:2:0.
    """

    t: float
    index: int
    grey: np.ndarray
    rgb: np.ndarray | None
    scale: float
    small: np.ndarray | None = None
    yuv: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    full_range: bool = False
    width: int = 0
    height: int = 0

    @property
    def sampled(self) -> bool:
        """True on the detection grid (full-resolution pixels available)."""
        return self.small is not None

    def crop(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """(y1 - y0, x1 - x0, 3) uint8 RGB of the full-resolution region, clipped to the
        frame (pass clipped coordinates to keep the offset exact)."""
        if self.rgb is not None:
            return np.ascontiguousarray(self.rgb[y0:y1, x0:x1])
        if self.yuv is None:
            raise ValueError("frame is not on the detection grid: no full-resolution pixels")
        return yuv420_to_rgb(*self.yuv, x0, y0, x1, y1, full_range=self.full_range)


def yuv420_to_rgb(
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    x0: int,
    y0: int,
    x1: int,
    y1: int,
    full_range: bool = False,
) -> np.ndarray:
    """RGB uint8 of the region ``[y0:y1, x0:x1]`` of an 8-bit YUV 4:2:0 picture (BT.601, as
    swscale converts untagged video; chroma upsampled by repetition). ``y`` (H, W), ``u``
    and ``v`` (ceil(H/2), ceil(W/2)).

    Done by PIL in C: limited-range samples are stretched to full range by a lookup table,
    then PIL's JFIF YCbCr -> RGB (the BT.601 matrix) converts.
    """
    from PIL import Image

    yy = Image.fromarray(np.ascontiguousarray(y[y0:y1, x0:x1]))
    cy0, cx0 = y0 // 2, x0 // 2
    uu = Image.fromarray(np.ascontiguousarray(u[cy0 : (y1 + 1) // 2, cx0 : (x1 + 1) // 2]))
    vv = Image.fromarray(np.ascontiguousarray(v[cy0 : (y1 + 1) // 2, cx0 : (x1 + 1) // 2]))
    if not full_range:
        yy = yy.point(_LUT_Y)
        uu, vv = uu.point(_LUT_C), vv.point(_LUT_C)
    w, h = yy.size
    box = (x0 % 2, y0 % 2, x0 % 2 + w, y0 % 2 + h)
    uu = uu.resize((2 * uu.size[0], 2 * uu.size[1]), Image.Resampling.NEAREST).crop(box)
    vv = vv.resize((2 * vv.size[0], 2 * vv.size[1]), Image.Resampling.NEAREST).crop(box)
    return np.asarray(Image.merge("YCbCr", (yy, uu, vv)).convert("RGB"))


_LUT_Y = [min(255, max(0, round((i - 16) * 255 / 219))) for i in range(256)]
_LUT_C = [min(255, max(0, round((i - 128) * 255 / 224 + 128))) for i in range(256)]


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
_YUV420 = {"yuv420p", "yuvj420p"}


def _plane(fr: Any, i: int, h: int, w: int) -> np.ndarray:
    """Copy of plane ``i`` of a decoded frame as (h, w) uint8 (row padding dropped)."""
    p = fr.planes[i]
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:h, :w].copy()


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
    brings their shorter side to ``max_height`` or less (720p -> 360p, 1080p -> 360p,
    480p -> 240p, portrait 1080x1920 -> 360x640). Raises :class:`DataError` if the file has
    no video stream.
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
                    k = max(1, math.ceil(min(fr.height, fr.width) / max_height))
                    small = (-(-fr.width // k), -(-fr.height // k))
                grey = _grey(fr, k, small)
                rgb = sm = yuv = None
                if t + 1e-6 >= next_t:
                    if fr.format.name in _YUV420:
                        h2, w2 = (fr.height + 1) // 2, (fr.width + 1) // 2
                        yuv = (
                            _plane(fr, 0, fr.height, fr.width),
                            _plane(fr, 1, h2, w2),
                            _plane(fr, 2, h2, w2),
                        )
                    else:
                        rgb = np.ascontiguousarray(fr.to_ndarray(format="rgb24"))
                    sm = np.ascontiguousarray(
                        fr.reformat(width=small[0], height=small[1], format="rgb24").to_ndarray()
                    )
                    next_t = next_t + step * max(1, math.floor((t - next_t) / step) + 1)
                yield Frame(
                    t=t,
                    index=index,
                    grey=grey,
                    rgb=rgb,
                    scale=small[1] / fr.height,
                    small=sm,
                    yuv=yuv,
                    full_range=fr.format.name == "yuvj420p",
                    width=fr.width,
                    height=fr.height,
                )
                index += 1


def remux_with_audio(
    video: str | Path, audio: np.ndarray, sample_rate: int, out: str | Path
) -> Path:
    """Write ``out`` (Matroska) with the video stream of ``video`` copied bit for bit and
    ``audio`` (mono float32 in [-1, 1], time 0 = the video's time 0) as its only sound.

    Builds the dubbed (another person's voice) and time-shifted clips the speaker-check
    tests and benchmark need without re-encoding the pictures.
    """

    import av

    with _open(video) as src, av.open(str(out), "w", format="matroska") as dst:
        if not src.streams.video:
            raise DataError(f"{video}: no video stream")
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        aout = dst.add_stream("aac", rate=sample_rate)
        aout.layout = "mono"
        for pkt in src.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            dst.mux(pkt)
        pcm = np.clip(audio, -1.0, 1.0).astype(np.float32)
        for k in range(0, len(pcm), 1024):
            fr = av.AudioFrame.from_ndarray(
                pcm[k : k + 1024].reshape(1, -1), format="flt", layout="mono"
            )
            fr.sample_rate, fr.pts, fr.time_base = sample_rate, k, Fraction(1, sample_rate)
            for p in aout.encode(fr):
                dst.mux(p)
        for p in aout.encode():
            dst.mux(p)
    return Path(out)
