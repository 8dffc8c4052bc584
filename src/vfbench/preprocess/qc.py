"""The QC report of a feature cache: ``qc.json``, ``qc.md`` and ``contact_sheet.png``.

Per modality: items cached / failed, failures by reason code (with example messages that
name the files); voices: duration distribution, source sample rates and channel counts,
clipped and silent counts; faces: detection rate, face size distribution (detector box
side in source pixels), images with several faces. The contact sheet tiles example
aligned faces with the template's eye and nose-base targets marked in red, so a person
can eyeball the alignment.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.preprocess.cache import FeatureCache
from vfbench.preprocess.face import ALIGN_TEMPLATE
from vfbench.utils.io import atomic_write, atomic_write_json, atomic_write_text
from vfbench.utils.provenance import Provenance

FACE_SIZE_BINS = [0, 40, 80, 120, 160, 240, 320, 480, 10**9]
DURATION_BINS = [0, 1, 2, 4, 8, 15, 30, 60, 10**9]


def _dist(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    v = np.asarray(values, dtype=np.float64)
    q = np.percentile(v, [0, 5, 50, 95, 100])
    return {
        "count": int(v.size),
        "mean": float(v.mean()),
        "min": float(q[0]),
        "p5": float(q[1]),
        "median": float(q[2]),
        "p95": float(q[3]),
        "max": float(q[4]),
    }


def _hist(values: list[float], bins: Sequence[float]) -> dict[str, int]:
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=bins)
    labels = [
        f"{a}-{b}" if b < 10**9 else f">={a}" for a, b in zip(bins[:-1], bins[1:], strict=True)
    ]
    return {lab: int(c) for lab, c in zip(labels, counts, strict=True)}


def build_qc(cache: FeatureCache) -> dict[str, Any]:
    """QC statistics of every modality in ``cache`` as a JSON-able dict."""
    out: dict[str, Any] = {"cache": str(cache.root), "modalities": {}}
    by_mod: dict[str, dict[str, str]] = defaultdict(dict)
    for (mod, item_id), reason in cache.failed.items():
        by_mod[mod][item_id] = reason
    for mod in cache.modalities:
        ok = cache.ids(mod)
        failed = by_mod.get(mod, {})
        codes = Counter(r.split(":", 1)[0] for r in failed.values())
        examples: dict[str, list[str]] = defaultdict(list)
        for item_id in sorted(failed):
            code = failed[item_id].split(":", 1)[0]
            if len(examples[code]) < 5:
                examples[code].append(f"{item_id}: {failed[item_id]}")
        m: dict[str, Any] = {
            "config_hash": cache.config_hash(mod),
            "items": len(ok) + len(failed),
            "cached": len(ok),
            "failed": len(failed),
            "failed_by_reason": dict(sorted(codes.items())),
            "failure_examples": dict(examples),
        }
        qc = cache.qc_all(mod)
        if mod == "voice":
            durs = [float(qc[i]["duration"]) for i in ok if "duration" in qc.get(i, {})]
            m["duration_s"] = _dist(durs)
            m["duration_hist_s"] = _hist(durs, DURATION_BINS)
            m["total_hours"] = sum(durs) / 3600.0
            m["source_sample_rates"] = dict(
                Counter(str(qc[i].get("orig_sample_rate")) for i in ok if i in qc)
            )
            m["source_channels"] = dict(Counter(str(qc[i].get("channels")) for i in ok if i in qc))
            m["clipped"] = codes.get("clipped", 0)
            m["silent"] = codes.get("silent", 0)
            m["too_short"] = codes.get("too_short", 0)
        else:
            sizes = [float(qc[i]["face_px"]) for i in ok if "face_px" in qc.get(i, {})]
            no_face = codes.get("no_face", 0)
            tried = len(ok) + no_face  # images that decoded and went through detection
            m["detection_rate"] = len(ok) / tried if tried else 0.0
            m["face_px"] = _dist(sizes)
            m["face_px_hist"] = _hist(sizes, FACE_SIZE_BINS)
            m["several_faces"] = sum(1 for i in ok if int(qc.get(i, {}).get("n_faces", 1)) > 1)
            m["align"] = dict(Counter(str(qc.get(i, {}).get("align", "?")) for i in ok))
        out["modalities"][mod] = m
    return out


def render_markdown(report: dict[str, Any]) -> str:
    """A short human-readable version of :func:`build_qc`'s dict."""
    lines = [f"# Preprocessing QC: `{report['cache']}`", ""]
    for mod, m in report["modalities"].items():
        lines += [f"## {mod} (config {m['config_hash']})", ""]
        lines += [
            f"- items: {m['items']}, cached: {m['cached']}, failed: {m['failed']}",
        ]
        if mod == "voice":
            d = m["duration_s"]
            if d.get("count"):
                lines.append(
                    f"- duration (s): median {d['median']:.2f}, p5 {d['p5']:.2f}, p95 {d['p95']:.2f},"
                    f" min {d['min']:.2f}, max {d['max']:.2f}; total {m['total_hours']:.3f} h"
                )
            lines.append(
                f"- clipped: {m['clipped']}, silent: {m['silent']}, too short: {m['too_short']}"
            )
            lines.append(f"- source sample rates: {m['source_sample_rates']}")
        else:
            lines.append(f"- detection rate: {100 * m['detection_rate']:.1f}%")
            d = m["face_px"]
            if d.get("count"):
                lines.append(
                    f"- face size (px): median {d['median']:.0f}, p5 {d['p5']:.0f}, p95 {d['p95']:.0f}"
                )
            lines.append(
                f"- images with several faces (largest/central kept): {m['several_faces']}"
            )
            lines.append(f"- face size histogram: {m['face_px_hist']}")
        if m["failed_by_reason"]:
            lines += ["", "| reason | count | examples |", "|---|---|---|"]
            for code, n in m["failed_by_reason"].items():
                ex = "<br>".join(
                    e.replace("|", "\\|") for e in m["failure_examples"].get(code, [])[:3]
                )
                lines.append(f"| {code} | {n} | {ex} |")
        lines.append("")
    if "face" in report["modalities"]:
        lines += ["![contact sheet](contact_sheet.png)", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def contact_sheet(cache: FeatureCache, n: int = 48, cols: int = 8, marks: bool = True) -> Any:
    """PIL image tiling up to ``n`` aligned faces (evenly spread over the sorted ids).

    With ``marks``, red dots show the alignment targets (eye centres, nose base).
    """
    from PIL import Image, ImageDraw

    ids = cache.ids("face")
    if not ids:
        return Image.new("RGB", (112, 112), (40, 40, 40))
    pick = [ids[int(j)] for j in np.unique(np.linspace(0, len(ids) - 1, min(n, len(ids))).round())]
    faces = [cache.load("face", i) for i in pick]
    s = faces[0].shape[0]
    cols = min(cols, len(faces))
    rows = -(-len(faces) // cols)
    sheet = Image.new("RGB", (cols * (s + 2), rows * (s + 2)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, f in enumerate(faces):
        x, y = (k % cols) * (s + 2) + 1, (k // cols) * (s + 2) + 1
        sheet.paste(Image.fromarray(f), (x, y))
        if marks:
            for px, py in ALIGN_TEMPLATE * (s / 112.0):
                draw.ellipse((x + px - 1, y + py - 1, x + px + 1, y + py + 1), fill=(255, 0, 0))
    return sheet


def write_report(
    cache_dir: str | Path,
    provenance: Provenance | None = None,
    n_faces: int = 48,
    out: str | Path | None = None,
) -> dict[str, Path]:
    """Write ``qc.json``, ``qc.md`` and (with faces) ``contact_sheet.png`` into the cache
    (or into the folder ``out``)."""
    cache = FeatureCache.open(Path(cache_dir))
    d = Path(cache_dir) if out is None else Path(out)
    report = build_qc(cache)
    report["provenance"] = (provenance or Provenance(command="qc")).to_dict()
    paths = {"json": d / "qc.json", "md": d / "qc.md"}
    atomic_write_json(paths["json"], report)
    atomic_write_text(paths["md"], render_markdown(report))
    if "face" in cache.modalities:
        paths["png"] = d / "contact_sheet.png"
        with atomic_write(paths["png"], "wb") as fh:
            contact_sheet(cache, n=n_faces).save(fh, format="PNG")
    return paths
