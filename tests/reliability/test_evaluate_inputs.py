"""Malformed evaluation inputs fail loudly, naming the offending items (issue #18.5).

Before: embeddings whose ids or identities were not in the manifest were scored anyway,
and a trial file whose identities disagreed with the embeddings silently moved the
gender-only baseline (75.0 -> 62.3); an out-of-range item index raised ``IndexError``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from vfbench.cli import main
from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem
from vfbench.errors import EvaluationError
from vfbench.evaluate.api import make_trials
from vfbench.evaluate.embeddings import Embeddings, check_against_manifest
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.trials import TrialSet

FAST = [
    "--set", "matching.n_trials=200", "--set", "verification.n_pairs=200",
    "--set", "n_boot=20", "--set", "matching.n_values=[2]", "--set", "retrieval.full=false",
    "--set", "repeated.repeats=2", "--set", "repeated.sizes=[6]",
    "--set", "repeated.n_trials=100", "--set", "joint.m_values=[1]",
    "--set", "joint.retrieval_m=[]", "--formats", "json",
]  # fmt: skip


def _data(n_ids: int = 12, per: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    names = [f"p{i:02d}" for i in range(n_ids)]
    idx = np.repeat(np.arange(n_ids), per)
    centre = rng.normal(size=(n_ids, 8))
    v = Embeddings(
        [f"v/{names[i]}/{k}" for k, i in enumerate(idx)],
        [names[i] for i in idx],
        centre[idx] + rng.normal(size=(idx.size, 8)),
        "voice",
    )
    f = Embeddings(
        [f"f/{names[i]}/{k}" for k, i in enumerate(idx)],
        [names[i] for i in idx],
        centre[idx] + rng.normal(size=(idx.size, 8)),
        "face",
    )
    man = Manifest(
        identities=[Identity(n, gender="mf"[i % 2], nationality="X") for i, n in enumerate(names)],
        voices=[VoiceItem(i, n, i + ".wav") for i, n in zip(v.ids, v.identities, strict=True)],
        faces=[FaceItem(i, n, i + ".jpg") for i, n in zip(f.ids, f.identities, strict=True)],
    )  # fmt: skip
    return v, f, man


def _save(tmp_path, v, f, man=None):
    v.save(tmp_path / "v.npz")
    f.save(tmp_path / "f.npz")
    if man is not None:
        man.save(tmp_path / "man")
    return ["--voices", str(tmp_path / "v.npz"), "--faces", str(tmp_path / "f.npz")]


def test_embeddings_outside_the_manifest(tmp_path, capsys):
    v, f, man = _data()
    extra = Embeddings(
        [*v.ids, "v/stranger/1", "v/stranger/2"],
        [*v.identities, "p00", "p01"],
        np.vstack([v.vectors, np.ones((2, 8))]),
        "voice",
    )
    with pytest.raises(EvaluationError, match=r"2 voice id\(s\) are not items of the manifest"):
        check_against_manifest(extra, man)
    relabel = Embeddings(v.ids, np.roll(v.identities, 3), v.vectors, "voice")
    with pytest.raises(EvaluationError, match=r"another identity than in the manifest"):
        check_against_manifest(relabel, man)
    args = _save(tmp_path, extra, f, man)
    rc = main(
        ["evaluate", *args, "--manifest", str(tmp_path / "man"), "-o", str(tmp_path / "r"), *FAST]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "not items of the manifest" in err and "'v/stranger/1'" in err
    assert "Traceback" not in err and not (tmp_path / "r" / "results.json").exists()
    ghost = Manifest(man.identities[1:], man.voices, man.faces)  # p00 has items, no identity row
    with pytest.raises(EvaluationError, match=r"1 identit\(ies\) are not in the manifest.*'p00'"):
        check_against_manifest(v, ghost)


def test_trials_whose_identities_disagree(tmp_path, capsys):
    v, f, man = _data()
    p = Protocol.quick()
    p.tasks = ["match"]
    ts = make_trials(v, f, man, p)
    # the same ids, but the embeddings now label the faces differently
    f2 = Embeddings(f.ids, np.roll(f.identities, 3), f.vectors, "face")
    with pytest.raises(EvaluationError, match=r"36 face item\(s\) have another identity"):
        ts.check_identities(v, f2)
    ts.save(tmp_path / "t.npz")
    f2.save(tmp_path / "f2.npz")
    v.save(tmp_path / "v.npz")
    rc = main(["evaluate", "--voices", str(tmp_path / "v.npz"), "--faces", str(tmp_path / "f2.npz"),
               "--trials", str(tmp_path / "t.npz"), "-o", str(tmp_path / "r"), *FAST])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "another identity in the trial file" in err and "'f/p00/0'" in err


@pytest.mark.parametrize("value", [10_000, -5])
def test_out_of_range_item_index(tmp_path, value):
    v, f, man = _data()
    p = Protocol.quick()
    p.tasks = ["match"]
    ts = make_trials(v, f, man, p)
    key = ts.keys()[0]
    ts.groups[key]["cands"][7, 1] = value  # edited behind add(): saved with a valid hash
    ts.save(tmp_path / "t.npz")
    with pytest.raises(EvaluationError, match=r"t\.npz: group .*'cands' has 1 face index\(es\) "
                       r"outside 0\.\.35 \(e\.g\. \[" + str(value)):  # fmt: skip
        TrialSet.load(tmp_path / "t.npz")
    with pytest.raises(EvaluationError, match="outside 0..35"):
        ts.add("x", ts.meta(key), ts.groups[key])


def test_trial_file_runs_its_own_tasks_and_is_referenced(tmp_path, capsys):
    v, f, man = _data()
    args = _save(tmp_path, v, f, man)
    rc = main(["trials", "make", *args, "--manifest", str(tmp_path / "man"),
               "--out", str(tmp_path / "t.npz"), "--set", "tasks=[match]",
               "--set", "matching.n_trials=200", "--set", "matching.n_values=[2]"])  # fmt: skip
    assert rc == 0
    capsys.readouterr()
    rc = main(["evaluate", *args, "--manifest", str(tmp_path / "man"),
               "--trials", str(tmp_path / "t.npz"), "-o", str(tmp_path / "r"), *FAST])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "report.html" not in out
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert {m["task"] for m in res["metrics"]} == {"match"}  # no repeated sets, no retrieval
    assert res["protocol"]["tasks"] == ["match"]
    assert not (tmp_path / "r" / "trials.npz").exists()  # referenced, not copied
    import hashlib

    src = res["provenance"]["trials_source"]
    assert src["sha256"] == [hashlib.sha256((tmp_path / "t.npz").read_bytes()).hexdigest()]
    assert src["paths"] == [str((tmp_path / "t.npz").resolve())]
    # asked otherwise: the repeated random sets run too
    rc = main(["evaluate", *args, "--manifest", str(tmp_path / "man"), "--trials",
               str(tmp_path / "t.npz"), "-o", str(tmp_path / "r2"), *FAST,
               "--set", "tasks=[match,repeated]"])  # fmt: skip
    res = json.loads((tmp_path / "r2" / "results.json").read_text())
    assert rc == 0 and {m["task"] for m in res["metrics"]} == {"match", "repeated"}
    rc = main(["evaluate", *args, "--trials", str(tmp_path / "t.npz"), "-o",
               str(tmp_path / "r3"), *FAST, "--set", "tasks=[verify]"])  # fmt: skip
    assert rc == 2 and "none is asked" in capsys.readouterr().err


def test_published_list_straight_into_evaluate(tmp_path, capsys, shared_dir):
    lst = shared_dir / "data/trials/cmpc/matching/matching_v2f_G.csv"
    rows = [ln.split() for ln in lst.read_text().splitlines()[:400]]
    vids = sorted({r[0][:-4] for r in rows})
    fids = sorted({x[:-4] for r in rows for x in r[1:]})
    rng = np.random.default_rng(1)
    v = Embeddings(vids, [x.split("/")[0] for x in vids], rng.normal(size=(len(vids), 4)), "voice")
    from vfbench.evaluate.importers import PACKAGED_VOX1_META, Vox1Meta

    meta = Vox1Meta.load(PACKAGED_VOX1_META)
    f = Embeddings(fids, [meta.name_to_id[x.split("/")[0]] for x in fids],
                   rng.normal(size=(len(fids), 4)), "face")  # fmt: skip
    short = tmp_path / "matching_v2f_G.csv"
    short.write_text("\n".join(" ".join(r) for r in rows) + "\n")
    args = _save(tmp_path, v, f)
    env_cache = tmp_path / "cache"
    import os

    os.environ["VFBENCH_CACHE"] = str(env_cache)
    try:
        for run in ("a", "b"):  # the second run reads the parsed list from the cache
            rc = main(["evaluate", *args, "--trials", str(short), "-o", str(tmp_path / run), *FAST])
            assert rc == 0, capsys.readouterr().err
    finally:
        del os.environ["VFBENCH_CACHE"]
    assert len(list((env_cache / "lists").iterdir())) == 1
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert a["trials_hash"] == b["trials_hash"]
    rows_a = [m for m in a["metrics"] if m["task"] == "match" and m["group"] == "all"]
    assert len(rows_a) == 1 and rows_a[0]["n"] == 400 and rows_a[0]["params"]["constraint"] == "G"
    assert a["provenance"]["trials_source"]["format"] == "matching"
