"""Export a reviewed collection as a ``folder`` corpus with a manifest and a datasheet.

Layout written to ``CORPUS`` (built in ``CORPUS.partial`` and renamed when complete)::

    faces/<identity>/<video>/<n>.jpg        aligned 112x112 faces
    faces_orig/<identity>/<video>/<n>.jpg   original-resolution crops (with margin)
    voices/<identity>/<video>/<n>.wav       16 kHz mono PCM-16 speech segments
    meta.csv                                identity,gender,nationality,language,split
    manifest/                               vfbench manifest (via the folder recipe)
    DATASHEET.md, datasheet.json            counts, durations, QC thresholds, languages

Only items the pipeline kept and the reviewer did not reject are exported; an identity
the reviewer rejected, or one left without faces or without voices, is left out (listed
in the datasheet). Splits are by identity (seeded, gender-stratified).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.collect.pipeline import load_collection
from vfbench.collect.review.decisions import load_decisions
from vfbench.data.manifest import Manifest
from vfbench.data.recipes.folder import prepare_folder
from vfbench.data.recipes.splits import split_identities
from vfbench.errors import DataError, VfbenchError
from vfbench.utils.io import atomic_write_json, atomic_write_text, resolve_under
from vfbench.utils.provenance import Provenance

EXPORT_SR = 16000


@dataclass
class ExportResult:
    corpus: Path
    manifest: Manifest
    datasheet: dict[str, Any] = field(default_factory=dict)


def _wav_16k(src: Path, dst: Path) -> float:
    """Copy ``src`` to ``dst`` as 16 kHz mono PCM-16; returns the duration in seconds."""
    import soundfile as sf

    x, sr = sf.read(str(src), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != EXPORT_SR:
        from scipy.signal import resample_poly

        g = gcd(sr, EXPORT_SR)
        x = resample_poly(x, EXPORT_SR // g, sr // g).astype(np.float32)
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dst), np.clip(x, -1, 1), EXPORT_SR, subtype="PCM_16")
    return len(x) / EXPORT_SR


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def export_collection(
    collection_dir: str | Path,
    corpus: str | Path,
    *,
    split_ratios: tuple[float, float, float] | None = None,
    split_seed: int | None = None,
    overwrite: bool = False,
    make_manifest: bool = True,
    command: str = "",
) -> ExportResult:
    """Write the corpus (see module docstring) and return it with its manifest.

    ``split_ratios``/``split_seed`` default to the collection config's ``export`` section.
    Raises :class:`VfbenchError` if ``corpus`` exists and ``overwrite`` is false, or when
    nothing survives review.
    """

    src = Path(collection_dir)
    coll = load_collection(src)
    dec = load_decisions(src)
    exp_cfg = coll.get("config", {}).get("export", {})
    ratios = tuple(split_ratios or exp_cfg.get("split_ratios", (0.8, 0.1, 0.1)))
    seed = int(exp_cfg.get("split_seed", 0) if split_seed is None else split_seed)
    out = Path(corpus)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise VfbenchError(f"{out}: exists and is not empty; pass --overwrite to replace it")
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise VfbenchError(f"{out}: the corpus must not be inside the collection folder {src}")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)

    rows: list[dict[str, Any]] = []
    left_out: dict[str, str] = {}
    review_dropped = Counter[str]()
    for ident in coll["identities"]:
        iid = ident["id"]
        if dec.identity_rejected(iid):
            left_out[iid] = "rejected in review"
            continue
        faces = [f for f in ident["faces"] if f["status"] == "kept" and f.get("file")]
        voices = [v for v in ident["voices"] if v["status"] == "kept" and v.get("file")]
        nf, nv = len(faces), len(voices)
        faces = [f for f in faces if not dec.item_rejected(f["id"])]
        voices = [v for v in voices if not dec.item_rejected(v["id"])]
        review_dropped["faces"] += nf - len(faces)
        review_dropped["voices"] += nv - len(voices)
        if not faces or not voices:
            left_out[iid] = f"{len(faces)} faces and {len(voices)} voices after QC and review"
            continue
        counters: Counter[str] = Counter()
        n_faces, n_voices, secs = 0, 0, 0.0
        for f in faces:
            video = f["video"].split("/", 1)[1]
            n = counters["f" + video]
            counters["f" + video] += 1
            rel = f"{iid}/{video}/{n:04d}.jpg"
            _copy(resolve_under(src, f["file"]), tmp / "faces" / rel)
            if f.get("orig"):
                _copy(resolve_under(src, f["orig"]), tmp / "faces_orig" / rel)
            n_faces += 1
        for v in voices:
            video = v["video"].split("/", 1)[1]
            n = counters["v" + video]
            counters["v" + video] += 1
            secs += _wav_16k(
                resolve_under(src, v["file"]), tmp / "voices" / iid / video / f"{n:04d}.wav"
            )
            n_voices += 1
        rows.append(
            {
                "identity": iid,
                "gender": ident.get("gender", ""),
                "nationality": ident.get("nationality", ""),
                "language": ident.get("language", ""),
                "faces": n_faces,
                "voices": n_voices,
                "seconds": round(secs, 2),
            }
        )
    if not rows:
        shutil.rmtree(tmp)
        raise VfbenchError(
            f"{src}: no identity has both a face and a voice left after QC and review "
            f"({'; '.join(f'{k}: {v}' for k, v in left_out.items()) or 'no identities'})"
        )
    splits = split_identities(
        [r["identity"] for r in rows],
        ratios,
        seed,
        genders={r["identity"]: r["gender"] for r in rows},
    )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["identity", "gender", "nationality", "language", "split"])
    for r in rows:
        r["split"] = splits[r["identity"]]
        w.writerow([r["identity"], r["gender"], r["nationality"], r["language"], r["split"]])
    atomic_write_text(tmp / "meta.csv", buf.getvalue())

    sheet = datasheet(coll, rows, left_out, dict(review_dropped), ratios, seed, command)
    atomic_write_json(tmp / "datasheet.json", sheet)
    atomic_write_text(tmp / "DATASHEET.md", datasheet_markdown(sheet))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    manifest = load_corpus_manifest(out, seed, ratios, save=make_manifest)
    return ExportResult(out, manifest, sheet)


def load_corpus_manifest(
    corpus: Path, seed: int = 0, ratios: tuple[float, ...] = (0.8, 0.1, 0.1), save: bool = True
) -> Manifest:
    """The exported corpus through the ``folder`` recipe; saved to ``corpus/manifest``."""

    try:
        m = prepare_folder(
            corpus,
            meta=corpus / "meta.csv",
            split_seed=seed,
            split_ratios=ratios,
            probe=True,
            progress=False,
            name=corpus.name,
        )
    except VfbenchError as exc:
        raise DataError(
            f"{corpus}: exported corpus does not load as a folder corpus: {exc}"
        ) from exc
    m.meta = {**m.meta, "source": "vfbench collect export"}
    if save:
        m.save(corpus / "manifest")
    return m


def datasheet(
    coll: dict[str, Any],
    rows: list[dict[str, Any]],
    left_out: dict[str, str],
    review_dropped: dict[str, int],
    ratios: tuple[float, ...],
    seed: int,
    command: str = "",
) -> dict[str, Any]:
    """Counts, durations, QC thresholds and language distribution of an export."""
    by_split: dict[str, dict[str, float]] = {}
    by_lang: dict[str, dict[str, float]] = {}
    for r in rows:
        for table, key in ((by_split, r["split"]), (by_lang, r["language"] or "(unknown)")):
            b = table.setdefault(key, {"identities": 0, "faces": 0, "voices": 0, "seconds": 0.0})
            b["identities"] += 1
            b["faces"] += r["faces"]
            b["voices"] += r["voices"]
            b["seconds"] = round(b["seconds"] + r["seconds"], 2)
    videos = [v for i in coll["identities"] for v in i["videos"]]
    secs = [r["seconds"] for r in rows]
    return {
        "schema_version": 1,
        "identities": len(rows),
        "faces": sum(r["faces"] for r in rows),
        "voices": sum(r["voices"] for r in rows),
        "speech_seconds": round(sum(secs), 2),
        "speech_seconds_per_identity": {
            "min": min(secs),
            "mean": round(float(np.mean(secs)), 2),
            "max": max(secs),
        },
        "gender": dict(Counter(r["gender"] or "(unknown)" for r in rows)),
        "languages": by_lang,
        "splits": by_split,
        "split_ratios": list(ratios),
        "split_seed": seed,
        "per_identity": rows,
        "left_out": left_out,
        "review_dropped": review_dropped,
        "source_videos": {
            "total": len(videos),
            "failed": sum(v["status"] == "failed" for v in videos),
            "seconds": round(sum(v["duration"] for v in videos), 2),
        },
        "qc_thresholds": {k: coll["config"][k] for k in ("qc_face", "qc_voice")},
        "collection_config": coll["config"],
        "provenance": Provenance(command=command).to_dict(),
    }


def datasheet_markdown(s: dict[str, Any]) -> str:
    """Human-readable ``DATASHEET.md`` of :func:`datasheet`."""
    L = [
        "# Datasheet",
        "",
        f"Exported by vfbench {s['provenance']['vfbench_version']} on {s['provenance']['created_utc']}.",
        "",
        "## Composition",
        "",
        f"- identities: {s['identities']} (gender: "
        + ", ".join(f"{k} {v}" for k, v in s["gender"].items())
        + ")",
        f"- faces: {s['faces']} aligned 112x112 (+ original crops)",
        f"- voice clips: {s['voices']}, {s['speech_seconds']} s of speech at 16 kHz "
        f"(per identity min/mean/max {s['speech_seconds_per_identity']['min']}/"
        f"{s['speech_seconds_per_identity']['mean']}/{s['speech_seconds_per_identity']['max']} s)",
        f"- source videos: {s['source_videos']['total']} ({s['source_videos']['failed']} failed), "
        f"{s['source_videos']['seconds']} s",
        "",
        "## Languages",
        "",
        "| language | identities | faces | voices | seconds |",
        "|---|---|---|---|---|",
    ]
    for k, b in sorted(s["languages"].items()):
        L.append(f"| {k} | {b['identities']} | {b['faces']} | {b['voices']} | {b['seconds']} |")
    L += [
        "",
        f"## Splits (by identity; ratios {s['split_ratios']}, seed {s['split_seed']})",
        "",
        "| split | identities | faces | voices | seconds |",
        "|---|---|---|---|---|",
    ]
    for k, b in sorted(s["splits"].items()):
        L.append(f"| {k} | {b['identities']} | {b['faces']} | {b['voices']} | {b['seconds']} |")
    L += ["", "## Quality-control thresholds used", ""]
    for sec, vals in s["qc_thresholds"].items():
        L.append(f"- `{sec}`: " + ", ".join(f"{k}={v}" for k, v in vals.items()))
    L += ["", "## Left out", ""]
    L += [f"- {k}: {v}" for k, v in s["left_out"].items()] or ["- nothing"]
    L.append(
        f"- reviewer rejected {s['review_dropped'].get('faces', 0)} faces and "
        f"{s['review_dropped'].get('voices', 0)} voice clips"
    )
    return "\n".join(L) + "\n"
