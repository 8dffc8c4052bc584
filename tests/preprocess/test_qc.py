"""Tests of the QC statistics, markdown and contact sheet on a hand-built cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vfbench.preprocess.cache import FeatureCache, update_cache_info, write_shard
from vfbench.preprocess.qc import build_qc, contact_sheet, render_markdown, write_report


@pytest.fixture()
def cache(tmp_path: Path) -> FeatureCache:
    voices = {f"v{k}": np.zeros((257, 10), np.float16) for k in range(4)}
    vqc = {
        f"v{k}": {"duration": d, "orig_sample_rate": 16000, "channels": 1}
        for k, d in enumerate([1.0, 2.0, 3.0, 10.0])
    }
    vfail = {
        "v8": "clipped: /x/a.wav: 5%",
        "v9": "silent: /x/b.wav: -70 dBFS",
        "v7": "silent: /x/c.wav",
    }
    vqc.update({k: {"code": r.split(":")[0]} for k, r in vfail.items()})
    write_shard(tmp_path / "voice-a", "shard-000000-a", "voice", "a", voices, vfail, vqc)
    faces = {f"f{k}": np.full((112, 112, 3), 40 * k, np.uint8) for k in range(3)}
    fqc = {
        f"f{k}": {"face_px": px, "n_faces": n, "align": "landmarks"}
        for k, (px, n) in enumerate([(50, 1), (100, 3), (300, 1)])
    }
    ffail = {"f9": "no_face: /x/n.jpg: no face detected", "f8": "undecodable: /x/c.jpg"}
    write_shard(tmp_path / "face-b", "shard-000000-b", "face", "b", faces, ffail, fqc)
    update_cache_info(tmp_path, "voice", "a", {})
    update_cache_info(tmp_path, "face", "b", {})
    return FeatureCache.open(tmp_path)


def test_statistics_by_hand(cache: FeatureCache) -> None:
    r = build_qc(cache)["modalities"]
    v, f = r["voice"], r["face"]
    assert (v["items"], v["cached"], v["failed"]) == (7, 4, 3)
    assert v["failed_by_reason"] == {"clipped": 1, "silent": 2}
    assert v["clipped"] == 1 and v["silent"] == 2
    assert v["duration_s"]["median"] == 2.5 and v["duration_s"]["max"] == 10.0
    assert v["total_hours"] == pytest.approx(16 / 3600)
    assert v["duration_hist_s"]["8-15"] == 1 and v["duration_hist_s"]["2-4"] == 2
    assert f["detection_rate"] == pytest.approx(3 / 4)  # undecodable images do not count
    assert f["face_px"]["median"] == 100
    assert f["face_px_hist"] == {
        "0-40": 0,
        "40-80": 1,
        "80-120": 1,
        "120-160": 0,
        "160-240": 0,
        "240-320": 1,
        "320-480": 0,
        ">=480": 0,
    }
    assert f["several_faces"] == 1
    assert f["failure_examples"]["no_face"] == ["f9: no_face: /x/n.jpg: no face detected"]


def test_markdown_and_files(cache: FeatureCache) -> None:
    md = render_markdown(build_qc(cache))
    assert "detection rate: 75.0%" in md
    assert "| silent | 2 |" in md and "/x/b.wav" in md
    paths = write_report(cache.root)
    assert set(paths) == {"json", "md", "png"} and all(p.is_file() for p in paths.values())


def test_contact_sheet_layout_and_marks(cache: FeatureCache) -> None:
    img = np.asarray(contact_sheet(cache, n=3, cols=2, marks=False))
    assert img.shape == (2 * 114, 2 * 114, 3)
    np.testing.assert_array_equal(img[1:113, 115:227], 40)  # second face, second column
    assert (img[115:227, 115:227] == 255).all()  # empty cell stays white
    marked = np.asarray(contact_sheet(cache, n=1, marks=True))
    x, y = 1 + 38, 1 + 52  # left-eye target of the template
    assert tuple(marked[y, x]) == (255, 0, 0)
