"""Faces in sampled frames: detection, 5-point landmarks, 128-d descriptors, alignment,
shot-change cuts and an IoU + descriptor tracker.

Detection uses the preprocessing stage's detector registry
(:data:`vfbench.preprocess.face.DETECTORS`: ``dlib_hog`` by default) on the downscaled
frame. Landmarks (dlib 5-point model), the exported 112x112 face (aligned exactly like
``vfbench preprocess`` does: eye centres + nose base onto the ArcFace template) and the
150x150 dlib chip for descriptors (dlib ResNet, 128-d, same person ≈ distance < 0.6) are
computed on the full-resolution frame. dlib and ``face_recognition_models`` are imported
lazily on first use.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfbench.errors import RegistryError

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in full-resolution pixels


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float


_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _dlib() -> Any:
    import dlib

    return dlib


def _model(name: str) -> Any:
    """Lazily loaded dlib models (5-point predictor, descriptor ResNet), one per process."""
    with _lock:
        if name not in _cache:
            dlib = _dlib()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import face_recognition_models as frm
            if name == "sp5":
                _cache[name] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
            elif name == "sp68":
                _cache[name] = dlib.shape_predictor(frm.pose_predictor_model_location())
            elif name == "rec":
                _cache[name] = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
            else:  # pragma: no cover
                raise KeyError(name)
        return _cache[name]


def build_detector(name: str, upsample: int = 0) -> Callable[[np.ndarray], list[tuple[Box, float]]]:
    """A detector from the preprocessing registry :data:`vfbench.preprocess.face.DETECTORS`
    (``dlib_hog``, ``dlib_cnn``, ``none``) as ``fn(rgb (h, w, 3) uint8) -> [(box, score)]``.

    Unknown names raise :class:`RegistryError` naming ``sampling.detector``.
    """
    from vfbench.preprocess.config import FaceConfig
    from vfbench.preprocess.face import DETECTORS, get_detector

    if name not in DETECTORS:
        raise RegistryError(
            f"unknown face detector {name!r} (sampling.detector); known: "
            f"{', '.join(DETECTORS.names())}"
        )
    det = get_detector(FaceConfig(detector=name, upsample=upsample))

    def run(img: np.ndarray) -> list[tuple[Box, float]]:
        return [(tuple(float(v) for v in d.box), float(d.score)) for d in det.detect(img)]  # type: ignore[misc]

    return run


def detect(
    detector: Callable[[np.ndarray], list[tuple[Box, float]]],
    small: np.ndarray,
    scale: float,
    min_score: float = -0.5,
    max_faces: int = 8,
) -> list[Detection]:
    """Run ``detector`` on the downscaled image; boxes come back in full-resolution pixels."""
    out = []
    for (x0, y0, x1, y1), s in detector(small):
        if s < min_score:
            continue
        out.append(Detection((x0 / scale, y0 / scale, x1 / scale, y1 / scale), s))
    out.sort(key=lambda d: -d.score)
    return out[:max_faces]


def detect_near(
    detector: Callable[[np.ndarray], list[tuple[Box, float]]],
    small: np.ndarray,
    scale: float,
    boxes: list[Box],
    margin: float = 0.6,
    max_faces: int = 8,
) -> list[Detection]:
    """Detect only in regions around ``boxes`` (full-resolution, e.g. the open tracks' last
    boxes), each grown by ``margin`` x its size per side; duplicates (IoU > 0.5) merged.

    Between full-frame detections this costs a fraction of a full pass (a 300 px face at
    720p -> a ~340x340 region of the 640x360 detection image instead of all of it) while
    still following every visible face; new faces wait for the next full detection.
    """
    h, w = small.shape[:2]
    found: list[Detection] = []
    for box in boxes:
        x0, y0, x1, y1 = (v * scale for v in box)
        mx, my = (x1 - x0) * margin, (y1 - y0) * margin
        a, b = max(0, int(x0 - mx)), max(0, int(y0 - my))
        c, d = min(w, int(x1 + mx) + 1), min(h, int(y1 + my) + 1)
        if c - a < 16 or d - b < 16:
            continue
        roi = np.ascontiguousarray(small[b:d, a:c])
        for (u0, v0, u1, v1), sc in detector(roi):
            det = Detection(
                ((u0 + a) / scale, (v0 + b) / scale, (u1 + a) / scale, (v1 + b) / scale), sc
            )
            if all(iou(det.box, o.box) <= 0.5 for o in found):
                found.append(det)
    found.sort(key=lambda d: -d.score)
    return found[:max_faces]


def landmarks5(rgb: np.ndarray, box: Box) -> Any:
    """dlib ``full_object_detection`` with 5 points (eye corners x4, nose base)."""
    dlib = _dlib()
    r = dlib.rectangle(*(round(v) for v in box))
    return _model("sp5")(np.ascontiguousarray(rgb), r)


def shape_points(shape: Any) -> np.ndarray:
    """(5, 2) float32 landmark coordinates of a dlib shape."""
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def chip_descriptors(chips: list[np.ndarray]) -> np.ndarray:
    """(n, 128) float32 descriptors of aligned 150x150 chips (:func:`align_chip` defaults).

    dlib's ResNet costs ~0.1 s per face on a CPU without AVX, so the pipeline only
    describes a few samples per track (``tracking.descriptors_per_track``).
    """
    if not chips:
        return np.zeros((0, 128), np.float32)
    rec = _model("rec")
    return np.asarray([np.asarray(rec.compute_face_descriptor(c)) for c in chips], np.float32)


def align_chip(rgb: np.ndarray, shape: Any, size: int = 150, padding: float = 0.25) -> np.ndarray:
    """(size, size, 3) uint8 face aligned by a similarity transform on the 5 landmarks.

    150 px with padding 0.25 is what dlib's descriptor network expects."""
    img = np.ascontiguousarray(rgb)
    return np.asarray(_dlib().get_face_chip(img, shape, size=size, padding=padding))


def align_112(rgb: np.ndarray, points: np.ndarray, size: int = 112) -> np.ndarray:
    """(size, size, 3) uint8 face aligned like :func:`vfbench.preprocess.face.align_face`:
    the two eye centres and the nose base of the 5 dlib landmarks ``points`` (5, 2) mapped
    onto ``ALIGN_TEMPLATE`` by a least-squares similarity transform."""
    from vfbench.preprocess.face import ALIGN_TEMPLATE, umeyama, warp_affine

    pts3 = np.vstack([points[2:4].mean(axis=0), points[0:2].mean(axis=0), points[4]])
    m = umeyama(pts3.astype(np.float64), ALIGN_TEMPLATE * (size / 112.0))
    return warp_affine(rgb, m, size)


def pose_score(points: np.ndarray) -> float:
    """Frontalness in [0, 1] from 5 dlib landmarks: 1 when the nose base lies midway between
    the eye centres, 0 when it is half an inter-ocular distance (or more) off — a yaw proxy.
    Also 0 for degenerate landmarks (eyes collapsed onto each other)."""
    eye_a = points[0:2].mean(axis=0)
    eye_b = points[2:4].mean(axis=0)
    iod = float(np.linalg.norm(eye_a - eye_b))
    if iod < 1e-3:
        return 0.0
    axis = (eye_b - eye_a) / iod
    offset = float(np.dot(points[4] - (eye_a + eye_b) / 2, axis)) / iod
    return float(np.clip(1.0 - 2.0 * abs(offset), 0.0, 1.0))


def sharpness(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a grey image (blur -> small values)."""
    g = grey.astype(np.float32)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (h, w) float32 luma (BT.601)."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def crop_with_margin(rgb: np.ndarray, box: Box, margin: float = 0.25) -> np.ndarray:
    """Original-resolution crop of ``box`` grown by ``margin`` of its size, clipped to frame."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    a, b = max(0, int(x0 - mx)), max(0, int(y0 - my))
    c, d = min(w, int(x1 + mx) + 1), min(h, int(y1 + my) + 1)
    return np.ascontiguousarray(rgb[b:d, a:c])


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when disjoint)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def grey_hist(grey: np.ndarray, bins: int = 64) -> np.ndarray:
    """(bins,) normalised histogram of a uint8 grey image (every 2nd pixel each way)."""
    sub = grey[::2, ::2]
    h = np.bincount((sub >> (8 - int(np.log2(bins)))).reshape(-1), minlength=bins)
    return h / max(1, sub.size)


def hist_distance(a: np.ndarray, b: np.ndarray, bins: int = 64) -> float:
    """Half the L1 distance between grey histograms (:func:`grey_hist`): 0 same .. 1 disjoint."""
    return float(0.5 * np.abs(grey_hist(a, bins) - grey_hist(b, bins)).sum())


def encode_jpg(rgb: np.ndarray, quality: int = 92) -> bytes:
    """JPEG bytes of an RGB uint8 image (faces are held encoded until written)."""

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@dataclass
class FaceSample:
    """One detected face on a sampled frame, with the measurements QC needs.

    Images are held JPEG-encoded (``chip_jpg`` aligned 112x112, ``orig_jpg`` the original
    crop) and dropped once the track is written; ``chip150`` is kept only for the few
    samples that may get a descriptor (see :meth:`Track.add`)."""

    t: float
    box: Box
    score: float
    points: np.ndarray  # (5, 2) landmarks, full-resolution pixels
    chip150: np.ndarray | None  # (150, 150, 3) aligned for the descriptor network
    chip_jpg: bytes
    orig_jpg: bytes
    thumb: np.ndarray  # (32, 32) float32 grey, for near-duplicate removal
    sharpness: float
    pose: float
    desc: np.ndarray | None = None  # (128,) descriptor, computed for a few samples only


@dataclass
class Track:
    """Detections of one face linked over consecutive sampled frames within one shot."""

    id: int
    shot: int
    samples: list[FaceSample] = field(default_factory=list)
    lip_t: list[float] = field(default_factory=list)  # frame times (s), every decoded frame
    lip_v: list[float] = field(default_factory=list)  # inner-lip opening (inter-ocular units)
    closed: bool = False
    flushed: bool = False  # QC done, images written and released
    chip_idx: list[int] = field(default_factory=list)  # samples still holding chip150
    chip_stride: int = 1

    @property
    def start(self) -> float:
        return self.samples[0].t

    @property
    def end(self) -> float:
        return self.samples[-1].t

    @property
    def last_box(self) -> Box:
        return self.samples[-1].box

    def add(self, s: FaceSample, keep_chips: int = 8) -> None:
        """Append a sample, keeping ``chip150`` for an evenly thinned subset of at most
        ``keep_chips`` samples (every ``chip_stride``-th; the stride doubles when full), so
        memory stays bounded however long the track runs."""
        i = len(self.samples)
        self.samples.append(s)
        if i % self.chip_stride:
            s.chip150 = None
            return
        self.chip_idx.append(i)
        if len(self.chip_idx) > max(1, keep_chips):
            for j in self.chip_idx[1::2]:
                self.samples[j].chip150 = None
            self.chip_idx = self.chip_idx[::2]
            self.chip_stride *= 2

    def describe(self, k: int) -> None:
        """Compute descriptors of up to ``k`` samples spread over the track from the
        retained chips, then release all chips."""
        idx = [i for i in self.chip_idx if self.samples[i].chip150 is not None]
        if idx:
            pick = sorted(
                {idx[int(j)] for j in np.linspace(0, len(idx) - 1, min(k, len(idx))).round()}
            )
            chips = [self.samples[i].chip150 for i in pick]
            for i, d in zip(pick, chip_descriptors(chips), strict=True):  # type: ignore[arg-type]
                self.samples[i].desc = d
        for s in self.samples:
            s.chip150 = None
        self.chip_idx = []

    def mean_descriptor(self) -> np.ndarray:
        """(128,) L2-normalised mean of the computed descriptors (zeros if none)."""
        ds = [s.desc for s in self.samples if s.desc is not None]
        if not ds:
            return np.zeros(128, np.float32)
        d = np.mean(ds, axis=0)
        return (d / max(1e-8, float(np.linalg.norm(d)))).astype(np.float32)


class Tracker:
    """Greedy-by-IoU assignment of detections to open tracks, gated by descriptor distance
    when both sides have a descriptor (the pipeline computes them after tracking, so in
    practice tracks are linked by IoU and cut at shot changes).

    A track closes when unmatched for more than ``max_gap_s`` or at a shot cut
    (:meth:`cut`); tracks never span a cut.
    """

    def __init__(
        self,
        iou_min: float = 0.3,
        desc_max: float = 0.6,
        max_gap_s: float = 0.5,
        keep_chips: int = 8,
    ):
        self.keep_chips = keep_chips
        self.iou_min = iou_min
        self.desc_max = desc_max
        self.max_gap_s = max_gap_s
        self.tracks: list[Track] = []
        self.shot = 0

    @property
    def active(self) -> list[Track]:
        return [t for t in self.tracks if not t.closed]

    def cut(self) -> None:
        """A shot change: close every open track."""
        for tr in self.active:
            tr.closed = True
        self.shot += 1

    def update(self, t: float, samples: list[FaceSample]) -> list[Track]:
        """Add the samples of one sampled frame at time ``t``; returns their tracks."""
        act = self.active
        for tr in act:
            if t - tr.end > self.max_gap_s + 1e-6:
                tr.closed = True
        act = self.active
        pairs = []
        for i, tr in enumerate(act):
            for j, s in enumerate(samples):
                ov = iou(tr.last_box, s.box)
                if ov < self.iou_min:
                    continue
                last = tr.samples[-1].desc
                if last is not None and s.desc is not None:
                    if float(np.linalg.norm(last - s.desc)) > self.desc_max:
                        continue
                pairs.append((ov, i, j))
        pairs.sort(reverse=True)
        used_t: set[int] = set()
        out: list[Track | None] = [None] * len(samples)
        for _, i, j in pairs:
            if i in used_t or out[j] is not None:
                continue
            used_t.add(i)
            act[i].add(samples[j], self.keep_chips)
            out[j] = act[i]
        for j, s in enumerate(samples):
            if out[j] is None:
                tr = Track(id=len(self.tracks), shot=self.shot)
                tr.add(s, self.keep_chips)
                self.tracks.append(tr)
                out[j] = tr
        return [tr for tr in out if tr is not None]

    def finish(self) -> list[Track]:
        for tr in self.active:
            tr.closed = True
        return self.tracks


def landmarks68(grey: np.ndarray, box: Box, scale: float) -> np.ndarray:
    """(68, 2) float32 dlib landmarks of the face in ``box`` (full-resolution pixels) fitted
    on the detection-scale grey image ``grey`` (coordinates at that scale).

    The shape predictor costs ~1 ms per face, so it runs on every decoded frame (lip motion
    for :func:`vfbench.collect.active.sync_score`) using the track's latest box.
    """
    dlib = _dlib()
    h, w = grey.shape
    x0, y0, x1, y1 = (v * scale for v in box)
    r = dlib.rectangle(
        int(max(0, round(x0))),
        int(max(0, round(y0))),
        int(min(w - 1, round(x1))),
        int(min(h - 1, round(y1))),
    )
    shape = _model("sp68")(grey, r)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
