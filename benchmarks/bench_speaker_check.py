"""Visible-speaker check on real footage: genuine vs dubbed vs time-shifted speech.

From the real single-speaker clips in ``shared/media`` (GRID x2, TV news, address to camera,
two portrait 1080p clips, a noisy restaurant; the two-person interview is left out, its
segments are ``multiple_faces`` before any speaker check) this builds, per person, four
videos with the pictures copied bit for bit (:func:`vfbench.collect.video.remux_with_audio`):

* ``genuine``   the clip as shipped (own voice, in sync);
* ``dub_same``  the clip's video with the audio of another clip, same gender (every
  other person) or
* ``dub_diff``  the same with a speaker of the other gender (the remaining persons);
* ``offset``    the clip's own audio shifted by a seeded 0.5-2 s (delayed or advanced).

One dubbed video per person keeps the person's own voice the majority of their speech, as
in a real collection; the voice-consistency check assumes exactly that (a person seen only
in dubbed footage cannot be caught by it).

All four are listed under one identity in SOURCES.csv and go through the whole collection
pipeline (``run_collection``: VAD segments, face tracks, lip landmarks, QC, the per-person
voice consistency at the end) with the default thresholds. Segments of 2-4 s are used
(``speech.max_segment_s=4``; the default 10 s pieces give only 1-2 segments per clip).

Reported per segment (those with one face on screen, >= ``qc_voice.min_duration``):
ROC AUC of genuine vs dubbed and genuine vs offset for the lip check alone (``av_corr``),
the voice check alone (``voice_sim``) and the combined score
``min((av_corr - min_av_corr) / 0.2, (voice_sim - min_voice_sim) / 0.1)`` (>= 0 means both
checks accept); and the accept rates of the speaker check (neither
``not_active_speaker`` nor ``voice_mismatch``) at the default thresholds.
Targets (issue 17): AUC >= 0.95 genuine vs dubbed, genuine accepted >= 90 %, dubbed
accepted <= 5 %.

    python benchmarks/bench_speaker_check.py [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MEDIA = (
    Path(os.environ.get("VFBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "media"
)
# person -> (file under media/, gender); the quick set skips the long 1080p clips
CLIPS = {
    "grid_m": ("grid/bbaf2n.mpg", "m"),
    "grid_f": ("grid/brbk7n.mpg", "f"),
    "news_de": ("real/mimictalk_german_news_de.mp4", "m"),
    "may_en": ("real/real3dportrait_may_en.mp4", "f"),
    "restaurant_en": ("real/visualvoice_restaurant_en.mp4", "m"),
    "woman_ru": ("real/latentsync_demo1_woman_ru.mp4", "f"),
    "man_pt": ("real/latentsync_demo2_man_pt.mp4", "m"),
}
QUICK = ("grid_m", "grid_f", "news_de", "may_en")
SR = 16000
KINDS = ("genuine", "dub_same", "dub_diff", "offset")


def build(names: list[str], out: Path, seed: int = 17) -> str:
    """Write the videos and SOURCES.csv into ``out``; returns the CSV text."""
    from vfbench.collect.video import read_audio, remux_with_audio

    audio = {n: read_audio(MEDIA / CLIPS[n][0], SR) for n in names}
    rows = ["source,identity,gender,nationality,language"]
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    for i, n in enumerate(names):
        src, g = CLIPS[n]
        a = audio[n]
        assert a is not None
        same = [m for m in names if m != n and CLIPS[m][1] == g]
        diff = [m for m in names if CLIPS[m][1] != g]
        shift = float(rng.uniform(0.5, 2.0)) * (1 if i % 2 == 0 else -1)
        k = int(abs(shift) * SR)
        shifted = (
            np.concatenate([np.zeros(k, np.float32), a[:-k]])
            if shift > 0
            else np.concatenate([a[k:], np.zeros(k, np.float32)])
        )

        def other(m: str, a: np.ndarray = a) -> np.ndarray:
            b = audio[m]
            assert b is not None
            reps = int(np.ceil(len(a) / max(1, len(b))))
            return np.tile(b, reps)[: len(a)]

        vids = {"genuine": a, "offset": shifted}
        # one dubbed video per person, same gender for every other person: the person's
        # own voice (genuine + offset) stays the majority, as in a real collection
        if i % 2 == 0 and same:
            vids["dub_same"] = other(same[(i // 2) % len(same)])
        elif diff:
            vids["dub_diff"] = other(diff[(i // 2) % len(diff)])
        for kind, sound in vids.items():
            remux_with_audio(MEDIA / src, sound, SR, out / f"{n}__{kind}.mkv")
            rows.append(f"{n}__{kind}.mkv,{n},{g},,")
    return "\n".join(rows) + "\n"


def auc(pos: list[float], neg: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    if not pos or not neg:
        return float("nan")
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(roc_auc_score(y, np.r_[pos, neg]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="GRID + 512p clips only")
    ap.add_argument("--keep", type=Path, help="build into (and reuse) this folder")
    args = ap.parse_args()
    names = [n for n in CLIPS if not args.quick or n in QUICK]
    missing = [CLIPS[n][0] for n in names if not (MEDIA / CLIPS[n][0]).is_file()]
    if missing:
        print(f"missing media under {MEDIA}: {missing}", file=sys.stderr)
        return 1
    from vfbench.collect.config import CollectConfig
    from vfbench.collect.pipeline import run_collection

    cfg = CollectConfig()
    cfg.speech.max_segment_s = 4.0
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        vids = root / "videos"
        vids.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if not (vids / "SOURCES.csv").is_file():
            (vids / "SOURCES.csv").write_text(build(names, vids))
        t1 = time.perf_counter()
        run_collection(vids / "SOURCES.csv", root / "coll", cfg)
        t2 = time.perf_counter()
        coll = json.loads((root / "coll" / "collection.json").read_text())
    qv, qi = cfg.qc_voice, cfg.identity
    rows: list[dict] = []
    for ident in coll["identities"]:
        for s in ident["voices"]:
            kind = Path(s["video"]).name.split("__")[1].rsplit("-", 1)[0]
            if s["n_face_tracks"] != 1 or s["duration"] < qv.min_duration:
                continue
            if s.get("voice_sim") is None or s["av_corr"] is None:
                continue
            codes = {r.split(":", 1)[0] for r in s["reasons"]}
            score = min(
                (s["av_corr"] - qv.min_av_corr) / 0.2, (s["voice_sim"] - qi.min_voice_sim) / 0.1
            )
            rows.append(
                {
                    "person": ident["id"],
                    "kind": kind,
                    "av": s["av_corr"],
                    "voice": s["voice_sim"],
                    "score": score,
                    "accepted": not codes & {"not_active_speaker", "voice_mismatch"},
                    "kept": s["status"] == "kept",
                }
            )

    def col(kinds: tuple[str, ...], key: str) -> list[float]:
        return [r[key] for r in rows if r["kind"] in kinds]

    print(f"built {3 * len(names)} videos in {t1 - t0:.1f} s; pipeline {t2 - t1:.1f} s")
    print(
        f"{'kind':<10} {'segments':>8} {'accepted':>9} {'kept':>6}  {'av_corr med':>11} {'voice_sim med':>13}"
    )
    for k in KINDS:
        sel = [r for r in rows if r["kind"] == k]
        if not sel:
            continue
        acc = np.mean([r["accepted"] for r in sel])
        kept = np.mean([r["kept"] for r in sel])
        print(
            f"{k:<10} {len(sel):>8} {acc:>8.0%} {kept:>6.0%}  "
            f"{np.median([r['av'] for r in sel]):>11.2f} {np.median([r['voice'] for r in sel]):>13.2f}"
        )
    dub = ("dub_same", "dub_diff")
    print(f"{'ROC AUC':<26} {'lip (av_corr)':>13} {'voice':>7} {'combined':>9}")
    for label, neg in (("genuine vs dubbed", dub), ("genuine vs offset", ("offset",))):
        print(
            f"{label:<26} {auc(col(('genuine',), 'av'), col(neg, 'av')):>13.3f} "
            f"{auc(col(('genuine',), 'voice'), col(neg, 'voice')):>7.3f} "
            f"{auc(col(('genuine',), 'score'), col(neg, 'score')):>9.3f}"
        )
    g_acc = float(np.mean(col(("genuine",), "accepted")))
    d_acc = float(np.mean(col(dub, "accepted")))
    a_dub = auc(col(("genuine",), "score"), col(dub, "score"))
    ok = a_dub >= 0.95 and g_acc >= 0.90 and d_acc <= 0.05
    print(
        f"targets: AUC genuine/dubbed {a_dub:.3f} (>= 0.95), genuine accepted {g_acc:.0%} "
        f"(>= 90%), dubbed accepted {d_acc:.0%} (<= 5%): {'MET' if ok else 'NOT MET'}"
    )
    for r in rows:
        if (r["kind"] == "genuine") != r["accepted"]:
            print(
                f"  {r['person']:<14} {r['kind']:<9} av_corr {r['av']:+.2f} voice_sim {r['voice']:.2f} accepted={r['accepted']}"
            )
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
