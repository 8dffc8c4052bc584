"""Face geometry, shot-cut distance, QC measures and the tracker on hand-made cases."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from vfbench.collect import faces as F
from vfbench.errors import RegistryError


def _sample(t: float, box: F.Box, desc: np.ndarray | None = None) -> F.FaceSample:
    return F.FaceSample(
        t=t,
        box=box,
        score=1.0,
        points=np.zeros((5, 2), np.float32),
        chip150=np.full((150, 150, 3), int(t * 10) % 256, np.uint8),
        chip_jpg=b"",
        orig_jpg=b"",
        thumb=np.zeros((32, 32), np.float32),
        sharpness=100.0,
        pose=1.0,
        desc=desc,
    )


def test_iou_hand_computed() -> None:
    assert F.iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert F.iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert F.iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_hist_distance_bounds() -> None:
    a = np.zeros((20, 20), np.uint8)
    b = np.full((20, 20), 255, np.uint8)
    c = np.concatenate([a[:10], b[:10]])
    assert F.hist_distance(a, a) == 0.0
    assert F.hist_distance(a, b) == 1.0
    assert F.hist_distance(a, c) == pytest.approx(0.5)


def test_pose_score_frontal_and_turned() -> None:
    # dlib order: 0,1 corners of one eye, 2,3 the other, 4 nose base
    frontal = np.array([[70, 50], [60, 50], [30, 50], [40, 50], [50, 80]], np.float32)
    assert F.pose_score(frontal) == pytest.approx(1.0)
    turned = frontal.copy()
    turned[4, 0] = 50 + 0.25 * 30  # nose a quarter inter-ocular distance off centre
    assert F.pose_score(turned) == pytest.approx(0.5)
    turned[4, 0] = 50 + 30  # a full IOD off -> 0
    assert F.pose_score(turned) == 0.0
    assert F.pose_score(np.zeros((5, 2), np.float32)) == 0.0


def test_sharpness_drops_with_blur() -> None:
    rng = np.random.default_rng(0)
    g = (rng.random((64, 64)) * 255).astype(np.float32)
    from scipy.ndimage import uniform_filter

    assert F.sharpness(uniform_filter(g, 5)) < 0.1 * F.sharpness(g)
    assert F.sharpness(np.full((32, 32), 7.0)) == 0.0


def test_crop_with_margin_clips_to_frame() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    assert F.crop_with_margin(img, (50, 20, 90, 60), 0.25).shape == (61, 61, 3)
    assert F.crop_with_margin(img, (0, 0, 40, 40), 0.5).shape == (61, 61, 3)


def test_tracker_links_by_iou_and_splits_people() -> None:
    tr = F.Tracker(iou_min=0.3, max_gap_s=0.5)
    for k in range(5):  # two faces drifting right, far apart
        tr.update(
            k * 0.2,
            [
                _sample(k * 0.2, (10 + 3 * k, 10, 60 + 3 * k, 60)),
                _sample(k * 0.2, (150 + 3 * k, 10, 200 + 3 * k, 60)),
            ],
        )
    tracks = tr.finish()
    assert [len(t.samples) for t in tracks] == [5, 5]
    assert tracks[0].samples[-1].box[0] == 22


def test_tracker_cut_and_gap_end_tracks() -> None:
    tr = F.Tracker(max_gap_s=0.5)
    box = (10.0, 10.0, 60.0, 60.0)
    tr.update(0.0, [_sample(0.0, box)])
    tr.update(0.2, [_sample(0.2, box)])
    tr.cut()  # shot change: same place, new track
    tr.update(0.4, [_sample(0.4, box)])
    tr.update(1.2, [_sample(1.2, box)])  # 0.8 s gap > 0.5 s: new track
    tracks = tr.finish()
    assert [len(t.samples) for t in tracks] == [2, 1, 1]
    assert [t.shot for t in tracks] == [0, 1, 1]


def test_tracker_descriptor_gate() -> None:
    a, b = np.zeros(128, np.float32), np.zeros(128, np.float32)
    b[0] = 1.0  # distance 1.0 > 0.6: another person at the same place
    tr = F.Tracker(desc_max=0.6)
    tr.update(0.0, [_sample(0.0, (0, 0, 50, 50), a)])
    tr.update(0.2, [_sample(0.2, (0, 0, 50, 50), b)])
    assert len(tr.finish()) == 2


def test_unknown_detector_names_the_key() -> None:
    with pytest.raises(
        RegistryError, match=r"unknown face detector 'nope' \(sampling.detector\).*dlib_hog"
    ):
        F.build_detector("nope")


def test_detector_landmarks_descriptor_on_real_face(shared_dir: Path) -> None:
    import av

    with av.open(str(shared_dir / "media" / "grid" / "bbaf2n.mpg")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in islice(c.decode(video=0), 30)]
    img = frames[20]
    det = F.build_detector("dlib_hog")
    dets = F.detect(det, img[::2, ::2].copy(), 0.5)  # half-size detection, boxes scaled back
    assert len(dets) == 1
    x0, y0, x1, y1 = dets[0].box
    # full-resolution detection finds (93, 120)-(218, 245); half-size boxes map back onto it
    assert 80 < x0 < 110 and 200 < x1 < 245 and 100 < y0 < 150
    shape = F.landmarks5(img, dets[0].box)
    pts = F.shape_points(shape)
    assert pts.shape == (5, 2) and F.pose_score(pts) > 0.7
    chip = F.align_112(img, pts)
    assert chip.shape == (112, 112, 3)
    d = F.chip_descriptors(
        [F.align_chip(img, shape), F.align_chip(frames[25], F.landmarks5(frames[25], dets[0].box))]
    )
    assert d.shape == (2, 128)
    assert np.linalg.norm(d[0] - d[1]) < 0.3  # same person, a fifth of a second apart


def test_track_keeps_a_bounded_even_subset_of_chips() -> None:
    tr = F.Track(id=0, shot=0)
    for k in range(100):
        tr.add(_sample(k * 0.2, (0, 0, 50, 50)), keep_chips=8)
    held = [i for i, s in enumerate(tr.samples) if s.chip150 is not None]
    assert held == tr.chip_idx and 4 <= len(held) <= 8
    assert held[0] == 0 and len(set(np.diff(held))) == 1  # evenly spaced
    assert held[-1] >= 100 - tr.chip_stride  # reaches the end of the track
