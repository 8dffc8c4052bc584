"""Face detection and alignment to 112 x 112 x 3 (paper Sec. 5.1 and Table 5).

Detectors live in the registry :data:`DETECTORS` (``DETECTORS.build(name, cfg=FaceConfig)``):

* ``dlib_hog``  dlib's HOG + linear SVM frontal detector (fast on CPU)
* ``dlib_cnn``  dlib's MMOD CNN detector (``mmod_human_face_detector.dat``; slower, more poses)
* ``none``      no detection: the centre square of the image (already-aligned data such
                as the synthetic corpus). The paper shows that skipping detection on real
                photos is clearly worse (Table 5), so use it only for aligned input.

dlib models come from the ``face_recognition_models`` package (no download) and are
imported lazily.

Alignment (``face.align``):

* ``landmarks`` (default): dlib's 5-point predictor gives the two corners of each eye and
  the base of the nose (subnasale). We map three points — the two eye centres (mean of each
  eye's corners) and the nose base — to the standard 112 x 112 ArcFace template by a
  least-squares similarity transform (Umeyama 1991). The template's eye positions are used
  as they are; its nose *tip* is replaced by the nose *base* position
  ``NOSE_BASE_TEMPLATE = (56.03, 79.16)``, which we calibrated by mapping dlib's 68-point
  landmarks of real GRID frames onto the full 5-point ArcFace template and averaging where
  the 5-point model's nose point lands. Mouth corners are not available from dlib's
  5-point model and are not used.
* ``box``: a square crop of side ``box_scale`` x the detector box's larger side, centred
  on the box (1.1 in the paper's Table 5), resized to ``size``.

Both are one affine warp with PIL ``Image.transform(AFFINE)`` (bilinear), black outside
the image. Several faces -> the largest (or most central, ``face.select``); no face ->
:class:`ItemRejected` with code ``no_face``.

Speed and memory on real images (:func:`load_image`, :func:`detect_faces`):

* an image of more than ``face.max_pixels`` pixels is refused from its header
  (``too_large``) before any pixel is decoded; one of more than ``face.decode_pixels`` is
  decoded reduced (JPEG: libjpeg's DCT scaling via PIL ``draft``, others: ``reduce``), so
  memory stays bounded for any input;
* detection runs on downscaled copies: first without upsampling on a copy whose longer side
  is at most ``face.fast_side`` (640: a 1080p frame in ~30 ms instead of ~1.1 s), and only
  if that finds no face (of at least ``min_face``) with ``face.upsample`` on a copy of at
  most ``face.max_side`` (1920, so every image up to 1080p gets exactly the old full-size
  pass: the detection rate can only go up);
* landmarks and the warp always use the decoded image at its own resolution.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vfbench.data.media import MAX_MEDIA_BYTES
from vfbench.preprocess.audio import ItemRejected
from vfbench.preprocess.config import FaceConfig
from vfbench.registry import Registry
from vfbench.utils.io import input_file_problem

#: The 5-point ArcFace template at 112 x 112: image-left eye, image-right eye, nose tip,
#: mouth left, mouth right (x, y) in pixels (pixel centres at integer coordinates).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
#: Where dlib's 5-point "nose base" lands in the ArcFace frame (calibrated, see module doc).
NOSE_BASE_TEMPLATE = np.array([56.03, 79.16])
#: Targets of (image-left eye centre, image-right eye centre, nose base) at 112 x 112.
ALIGN_TEMPLATE = np.vstack([ARCFACE_TEMPLATE[:2], NOSE_BASE_TEMPLATE])


@dataclass
class Detection:
    """A face box ``(left, top, right, bottom)`` in pixel-edge coordinates, and a score."""

    box: tuple[float, float, float, float]
    score: float = 0.0

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def side(self) -> float:
        return max(self.width, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


class FaceDetector(Protocol):
    """What a detector builder returns."""

    has_landmarks: bool

    def detect(self, img: np.ndarray, upsample: int | None = None) -> list[Detection]:
        """Faces in RGB uint8 (H, W, 3) ``img`` (``upsample``: passes, default the config's)."""
        ...

    def landmarks(self, img: np.ndarray, det: Detection) -> np.ndarray:
        """(3, 2) points: image-left eye centre, image-right eye centre, nose base."""
        ...


DETECTORS: Registry[Any] = Registry("face detector")


def _models() -> Any:

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation inside the package
        import face_recognition_models

    return face_recognition_models


class _DlibBase:
    has_landmarks = True

    def __init__(self, cfg: FaceConfig) -> None:
        import dlib

        self.dlib = dlib
        self.upsample = cfg.upsample
        self._predictor = dlib.shape_predictor(_models().pose_predictor_five_point_model_location())

    def landmarks(self, img: np.ndarray, det: Detection) -> np.ndarray:
        left, top, right, bottom = (round(v) for v in det.box)
        rect = self.dlib.rectangle(left, top, right - 1, bottom - 1)
        shape = self._predictor(np.ascontiguousarray(img), rect)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        # dlib 5-point order: 0,1 = corners of the image-right eye; 2,3 = image-left eye; 4 = nose base
        return np.vstack([pts[2:4].mean(axis=0), pts[0:2].mean(axis=0), pts[4]])


@DETECTORS.register("dlib_hog")
class DlibHogDetector(_DlibBase):
    """dlib HOG frontal face detector (``get_frontal_face_detector``)."""

    def __init__(self, cfg: FaceConfig) -> None:
        super().__init__(cfg)
        self._det = self.dlib.get_frontal_face_detector()

    def detect(self, img: np.ndarray, upsample: int | None = None) -> list[Detection]:
        # dlib silently misreads non-contiguous arrays (e.g. PyAV frames with row padding)
        up = self.upsample if upsample is None else upsample
        rects, scores, _ = self._det.run(np.ascontiguousarray(img), up, 0.0)
        return [
            Detection((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s))
            for r, s in zip(rects, scores, strict=True)
        ]


@DETECTORS.register("dlib_cnn")
class DlibCnnDetector(_DlibBase):
    """dlib MMOD CNN face detector (``cnn_face_detection_model_v1``)."""

    def __init__(self, cfg: FaceConfig) -> None:
        super().__init__(cfg)
        self._det = self.dlib.cnn_face_detection_model_v1(
            _models().cnn_face_detector_model_location()
        )

    def detect(self, img: np.ndarray, upsample: int | None = None) -> list[Detection]:
        up = self.upsample if upsample is None else upsample
        out = self._det(np.ascontiguousarray(img), up)
        return [
            Detection(
                (d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1),
                float(d.confidence),
            )
            for d in out
        ]


@DETECTORS.register("none")
class NoDetector:
    """No detection: the centre square of the image is 'the face' (for aligned data)."""

    has_landmarks = False

    def __init__(self, cfg: FaceConfig) -> None:
        pass

    def detect(self, img: np.ndarray, upsample: int | None = None) -> list[Detection]:
        h, w = img.shape[:2]
        s = min(h, w)
        x0, y0 = (w - s) / 2, (h - s) / 2
        return [Detection((x0, y0, x0 + s, y0 + s), 1.0)]

    def landmarks(self, img: np.ndarray, det: Detection) -> np.ndarray:
        raise NotImplementedError("the 'none' detector has no landmarks")


# --------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------
def umeyama(src: np.ndarray, dst: np.ndarray, scale: bool = True) -> np.ndarray:
    """Least-squares similarity transform (Umeyama 1991) with ``dst ≈ M @ [src; 1]``.

    ``src``, ``dst``: (K, 2) points, K >= 2. Returns the (2, 3) matrix ``[s·R | t]``
    (rotation, no reflection).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError(f"need two (K>=2, 2) point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    r = (u * sign) @ vt
    var_s = (s**2).sum() / len(src)
    c = float((sig * sign).sum() / var_s) if scale and var_s > 0 else 1.0
    t = mu_d - c * r @ mu_s
    return np.hstack([c * r, t[:, None]])


def box_transform(det: Detection, box_scale: float, size: int) -> np.ndarray:
    """(2, 3) map from image pixel centres to a ``size``-pixel square crop around ``det``."""
    side = det.side * box_scale
    cx, cy = det.center
    x0, y0 = cx - side / 2, cy - side / 2  # pixel-edge coordinates
    k = size / side
    # edge coords: out_e = k (in_e - x0); centre coords c = e - 0.5
    return np.array([[k, 0.0, k * (0.5 - x0) - 0.5], [0.0, k, k * (0.5 - y0) - 0.5]])


def warp_affine(img: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """Warp RGB uint8 ``img`` by (2, 3) ``m`` (input -> output pixel centres) to (size, size, 3).

    Bilinear; pixels mapping outside the input are black. PIL wants the inverse map in
    pixel-edge coordinates, hence the half-pixel terms.
    """
    from PIL import Image

    a = m[:, :2]
    t = m[:, 2]
    a_inv = np.linalg.inv(a)
    t_inv = -a_inv @ t
    c = t_inv + 0.5 - a_inv @ np.array([0.5, 0.5])
    coeffs = (a_inv[0, 0], a_inv[0, 1], c[0], a_inv[1, 0], a_inv[1, 1], c[1])
    out = Image.fromarray(np.ascontiguousarray(img)).transform(
        (size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR
    )
    return np.asarray(out, dtype=np.uint8)


def apply_transform(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply (2, 3) ``m`` to (K, 2) points."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


# --------------------------------------------------------------------------------------
# images and the per-item pipeline
# --------------------------------------------------------------------------------------
def load_image(
    path: str | Path,
    *,
    max_pixels: int = FaceConfig.max_pixels,
    decode_pixels: int = FaceConfig.decode_pixels,
) -> np.ndarray:
    """Read an image as RGB uint8 (H, W, 3), honouring EXIF orientation; ItemRejected if bad.

    Bounded for any input: more than ``max_pixels`` pixels (from the header) is refused
    (``too_large``); more than ``decode_pixels`` is decoded reduced to at most that many
    (JPEG: scaled DCT decoding via ``draft``, never the full image; other formats:
    ``reduce`` by an integer factor). Float images with NaN/inf are ``non_finite``.
    """

    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    why = input_file_problem(p, MAX_MEDIA_BYTES)
    if why:
        code = "missing_file" if why.startswith("file not found") else "unreadable"
        raise ItemRejected(code, f"{p}: {why}")
    if p.stat().st_size == 0:
        raise ItemRejected("zero_bytes", f"{p}: file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # our own pixel bound replaces PIL's decompression-bomb warning/error
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ItemRejected(
                        "too_large",
                        f"{p}: {w}x{h} image has {w * h:,} pixels, more than face.max_pixels="
                        f"{max_pixels:,}",
                    )
                factor = _reduce_factor(w, h, decode_pixels)
                if factor > 1 and im.format == "JPEG":
                    im.draft("RGB", (-(-w // factor), -(-h // factor)))
                im.load()
                if im.mode == "F":
                    a = np.asarray(im)
                    if not np.isfinite(a).all():
                        raise ItemRejected(
                            "non_finite",
                            f"{p}: non-finite samples ({int(np.count_nonzero(~np.isfinite(a)))} "
                            "NaN/inf pixels)",
                        )
                cur: Image.Image = im
                f2 = _reduce_factor(cur.width, cur.height, decode_pixels)
                if f2 > 1:
                    cur = cur.reduce(f2)
                if cur is im:
                    rgb = ImageOps.exif_transpose(im).convert("RGB")
                else:  # reduce() returns a new image without the file's EXIF: apply it here
                    rgb = cur.convert("RGB")
                    turn = _exif_turns().get(im.getexif().get(0x0112, 1))
                    if turn is not None:
                        rgb = rgb.transpose(turn)
    except ItemRejected:
        raise
    except Image.DecompressionBombError:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ItemRejected(
            "too_large",
            f"{p}: image has more than {limit:,} pixels, more than face.max_pixels={max_pixels:,}",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ItemRejected("undecodable", f"{p}: cannot decode image ({exc})") from None
    return np.asarray(rgb, dtype=np.uint8)


@functools.cache
def _exif_turns() -> dict[int, Any]:
    """EXIF orientation -> the transpose that undoes it (as ``ImageOps.exif_transpose``)."""
    from PIL import Image

    t = Image.Transpose
    return {
        2: t.FLIP_LEFT_RIGHT,
        3: t.ROTATE_180,
        4: t.FLIP_TOP_BOTTOM,
        5: t.TRANSPOSE,
        6: t.ROTATE_270,
        7: t.TRANSVERSE,
        8: t.ROTATE_90,
    }


def _reduce_factor(w: int, h: int, max_pixels: int) -> int:
    """Smallest integer factor k with ceil(w/k) * ceil(h/k) <= max_pixels."""
    k = 1
    while -(-w // k) * -(-h // k) > max_pixels:
        k += 1
    return k


def _copy_at_most(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``img`` downscaled so its longer side is at most ``max_side`` (0: as is), and the scale.

    First a ``k x k`` box average by the largest integer ``k`` that keeps the longer side
    >= ``max_side`` (PIL ``reduce``: ~7x faster than a bilinear resize of a 1080p frame,
    and 1920 -> 640 needs nothing else), then a bilinear resize of the now small remainder.
    """
    h, w = img.shape[:2]
    if max_side <= 0 or max(h, w) <= max_side:
        return img, 1.0
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(img))
    k = max(h, w) // max_side
    if k > 1:
        pil = pil.reduce(k)
    scale = 1.0 / k
    if max(pil.size) > max_side:
        r = max_side / max(pil.size)
        pil = pil.resize(
            (max(1, round(pil.width * r)), max(1, round(pil.height * r))),
            Image.Resampling.BILINEAR,
        )
        scale *= r
    return np.asarray(pil), scale


def detect_faces(
    img: np.ndarray, cfg: FaceConfig, detector: FaceDetector
) -> tuple[list[Detection], int, str]:
    """Faces of at least ``cfg.min_face`` px in ``img`` (boxes in ``img`` pixels).

    Two passes on downscaled copies (see the module doc): fast (no upsampling, longer side
    <= ``cfg.fast_side``; only with ``select="largest"``), then, only if that found nothing, full (``cfg.upsample``,
    longer side <= ``cfg.max_side``). Returns (kept detections, detections found before the
    ``min_face`` filter, the pass that found them: "fast", "full" or "").
    """
    if not detector.has_landmarks:  # "none": the centre square, no detection to speed up
        dets = detector.detect(img)
        return dets, len(dets), "full"
    passes: list[tuple[str, int, int]] = []
    if cfg.fast_side > 0 and cfg.select == "largest":
        # a fast pass may miss small faces: harmless when the largest is wanted (it is the
        # easiest to find), wrong for "central", which could then pick another person
        passes.append(("fast", cfg.fast_side, 0))
    full = ("full", cfg.max_side, cfg.upsample)
    h, w = img.shape[:2]
    if passes:
        fast_side = min(cfg.fast_side, max(h, w))
        full_side = min(cfg.max_side, max(h, w)) if cfg.max_side > 0 else max(h, w)
        if cfg.upsample == 0 and full_side <= fast_side:
            full = ("", 0, 0)  # the full pass would repeat the fast one exactly
    if full[0]:
        passes.append(full)
    n_found = 0
    for name, side, up in passes:
        small, scale = _copy_at_most(img, side)
        dets = detector.detect(small, up)
        if scale != 1.0:
            dets = [Detection(tuple(v / scale for v in d.box), d.score) for d in dets]  # type: ignore[arg-type]
        n_found = max(n_found, len(dets))
        kept = [d for d in dets if d.side >= cfg.min_face]
        if kept:
            return kept, n_found, name
    return [], n_found, ""


def select_face(dets: list[Detection], shape: tuple[int, ...], how: str) -> Detection:
    """The largest box, or the one whose centre is nearest the image centre."""
    if how == "largest":
        return max(dets, key=lambda d: d.width * d.height)
    h, w = shape[:2]
    return min(dets, key=lambda d: (d.center[0] - w / 2) ** 2 + (d.center[1] - h / 2) ** 2)


def align_face(
    img: np.ndarray, cfg: FaceConfig, detector: FaceDetector
) -> tuple[np.ndarray, dict[str, Any]]:
    """Detect, pick and align one face of RGB ``img`` -> ((size, size, 3) uint8, QC stats)."""
    h, w = img.shape[:2]
    dets, n_found, how = detect_faces(img, cfg, detector)
    if not dets:
        extra = f" larger than min_face={cfg.min_face}px" if n_found else ""
        raise ItemRejected("no_face", f"no face detected{extra} in {w}x{h} image")
    det = select_face(dets, img.shape, cfg.select)
    stats: dict[str, Any] = {
        "n_faces": len(dets),
        "face_px": round(det.side, 1),
        "score": round(det.score, 3),
        "box": [round(v, 1) for v in det.box],
        "image_wh": [w, h],
        "detect_pass": how,
    }
    if cfg.align == "landmarks" and detector.has_landmarks:
        pts = detector.landmarks(img, det)
        m = umeyama(pts, ALIGN_TEMPLATE * (cfg.size / 112.0))
        stats["align"] = "landmarks"
        stats["landmarks"] = [[round(v, 1) for v in p] for p in pts.tolist()]
    else:
        m = box_transform(det, cfg.box_scale if detector.has_landmarks else 1.0, cfg.size)
        stats["align"] = "box"
    return warp_affine(img, m, cfg.size), stats


_DETECTOR_CACHE: dict[str, FaceDetector] = {}


def get_detector(cfg: FaceConfig) -> FaceDetector:
    """Build (once per process) the detector named by ``cfg.detector``."""
    key = f"{cfg.detector}:{cfg.upsample}"
    det = _DETECTOR_CACHE.get(key)
    if det is None:
        det = DETECTORS.build(cfg.detector, cfg=cfg)
        _DETECTOR_CACHE[key] = det
    return det


def process_face(
    path: str | Path, cfg: FaceConfig, detector: FaceDetector | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """File -> (aligned (size, size, 3) uint8, QC stats); raises :class:`ItemRejected`."""
    img = load_image(path, max_pixels=cfg.max_pixels, decode_pixels=cfg.decode_pixels)
    try:
        return align_face(img, cfg, detector or get_detector(cfg))
    except ItemRejected as exc:
        raise ItemRejected(exc.code, f"{path}: {str(exc).split(': ', 1)[1]}") from None
