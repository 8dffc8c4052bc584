"""Importers parse the real published lists (counts from shared/data/README.md)."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.errors import EvaluationError
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.importers import (
    Vox1Meta,
    cmpc_face_to_id,
    cmpc_old_voice_to_id,
    import_list,
    strip_ext,
)


@pytest.fixture(scope="module")
def meta(shared_dir):
    return Vox1Meta.load(shared_dir / "data" / "vox1_meta.csv")


@pytest.fixture(scope="module")
def trials_dir(shared_dir):
    return shared_dir / "data" / "trials"


def test_vox1_meta(meta):
    assert len(meta.name_to_id) == 1251
    assert meta.name_to_id["A.J._Buckley"] == "id10001"
    assert sum(g == "m" for g in meta.gender.values()) == 690
    assert meta.nationality["id10001"] == "Ireland"


@pytest.mark.parametrize(
    "name,rows,ids,same_gender",
    [
        ("U", 10000, 250, None),
        ("G", 10000, 250, 1.0),
        ("N", 9360, 234, None),
        ("GN", 9120, 228, 1.0),
    ],
)
def test_cmpc_matching_counts_and_constraints(meta, trials_dir, name, rows, ids, same_gender):
    for d in ("v2f", "f2v"):
        ts, rep = import_list(
            "cmpc-matching",
            [trials_dir / "cmpc/matching" / f"matching_{d}_{name}.csv"],
            vox1_meta=meta,
        )
        key = f"match/{d}/n=2/{name}/cmpc"
        g = ts.groups[key]
        assert rep.n_rows == rows and g["query"].size == rows
        qid = ts.voice_identities if d == "v2f" else ts.face_identities
        cid = ts.face_identities if d == "v2f" else ts.voice_identities
        q_ident = qid[g["query"]]
        assert np.unique(q_ident).size == ids
        # column 0 (list column 2) is the probe's identity; column 1 never is
        assert np.all(cid[g["cands"][:, 0]] == q_ident)
        assert not np.any(cid[g["cands"][:, 1]] == q_ident)
        gq = np.array([meta.gender[x] for x in q_ident])
        gn = np.array([meta.gender[x] for x in cid[g["cands"][:, 1]]])
        if same_gender is not None:
            assert (gq == gn).mean() == same_gender
        if "N" in name:
            nq = np.array([meta.nationality[x] for x in q_ident])
            nn = np.array([meta.nationality[x] for x in cid[g["cands"][:, 1]]])
            assert np.all(nq == nn)
        assert ts.meta(key)["source"] == "cmpc"


def test_cmpc_veriflist(meta, trials_dir):
    ts, rep = import_list(
        "cmpc-veriflist",
        [trials_dir / "cmpc/veriflist/veriflist_test_random_unseenunheard.txt"],
        vox1_meta=meta,
    )
    g = ts.groups["verify/v2f/U/cmpc"]
    assert g["label"].size == 30496 and g["label"].sum() == 15248
    assert np.unique(g["voice"]).size == 30496
    assert ts.voice_ids[0] == "id10002/gaQqIoV_aLY/00001"
    assert ts.face_ids[0] == "A.R._Rahman/1.6/QanuGhOhb9A/0035550"
    # label agrees with identity equality through vox1_meta
    same = ts.voice_identities[g["voice"]] == ts.face_identities[g["face"]]
    assert np.array_equal(same, g["label"])


def test_ssnet_verify_and_retrieval(meta, trials_dir):
    ts, rep = import_list(
        "ssnet-verify", [trials_dir / "ssnet/verify_v2f_test.txt"], vox1_meta=meta
    )
    g = ts.groups["verify/v2f/U/ssnet"]
    assert g["label"].size == 65550
    assert rep.counts == {"positive": 32967, "negative": 32583}
    assert np.unique(g["voice"]).size == 21850
    ts2, rep2 = import_list(
        "ssnet-retrieval", [trials_dir / "ssnet/reterival_v2f_test.txt"], vox1_meta=meta
    )
    r = ts2.groups["retrieve/v2f/ssnet"]
    assert r["queries"].size == 21850 and r["gallery"].size == 20076
    assert np.unique(ts2.voice_identities[r["queries"]]).size == 189


def test_cmpc_retrieval_both_directions(meta, trials_dir):
    ts, rep = import_list(
        "cmpc-retrieval",
        [trials_dir / "cmpc/retrieval/wav_20k.csv", trials_dir / "cmpc/retrieval/jpg_20k.csv"],
        vox1_meta=meta,
    )
    assert rep.counts == {"voices": 20000, "faces": 20000}
    assert set(ts.keys()) == {"retrieve/v2f/cmpc", "retrieve/f2v/cmpc"}
    assert np.unique(ts.voice_identities).size == 250


def test_mapping_onto_embeddings_reports_unmapped(meta, trials_dir):
    path = trials_dir / "cmpc/matching/matching_v2f_G.csv"
    lines = path.read_text().splitlines()[:3]
    items = sorted({strip_ext(x) for ln in lines for x in ln.split()})
    voices_ids = [x for x in items if x.startswith("id")]
    faces_ids = [x for x in items if not x.startswith("id")]
    v = Embeddings(voices_ids, ["a"] * len(voices_ids), np.ones((len(voices_ids), 2)), "voice")
    f = Embeddings(faces_ids, ["b"] * len(faces_ids), np.ones((len(faces_ids), 2)), "face")
    with pytest.raises(EvaluationError, match=r"list item\(s\) are not in the embeddings"):
        import_list("cmpc-matching", [path], v, f)
    ts, rep = import_list("cmpc-matching", [path], v, f, drop_unmapped=True)
    assert rep.n_kept == 3 and rep.n_rows == 10000 and rep.n_unmapped_items > 0
    assert ts.groups["match/v2f/n=2/G/cmpc"]["query"].size == 3
    assert "not in the embeddings" in rep.summary()


def test_path_conversions_and_bad_inputs(meta, tmp_path):
    assert (
        cmpc_old_voice_to_id("A.R._Rahman/gaQqIoV_aLY_0000001.wav", meta)
        == "id10002/gaQqIoV_aLY/00001"
    )
    assert (
        cmpc_old_voice_to_id("A.R._Rahman/a_b-c_d_e_f_0000123.wav", meta)
        == "id10002/a_b-c_d_e_f/00123"
    )
    assert (
        cmpc_face_to_id("A.R._Rahman/QanuGhOhb9A/0035550.jpg")
        == "A.R._Rahman/1.6/QanuGhOhb9A/0035550"
    )
    with pytest.raises(EvaluationError, match="'Nobody'"):
        cmpc_old_voice_to_id("Nobody/gaQqIoV_aLY_0000001.wav", meta, "x.txt:2")
    bad = tmp_path / "matching_v2f_U.csv"
    bad.write_text("a.wav b.jpg c.jpg\nd.wav e.jpg\n")
    with pytest.raises(EvaluationError, match=r"matching_v2f_U\.csv:2: expected 3 fields, found 2"):
        import_list("cmpc-matching", [bad])
    odd = tmp_path / "pairs.csv"
    odd.write_text("x y z\n")
    with pytest.raises(EvaluationError, match="pass --direction"):
        import_list("cmpc-matching", [odd])
    with pytest.raises(EvaluationError, match="unknown list format"):
        import_list("trec", [odd])
    with pytest.raises(EvaluationError, match=r"pairs\.csv:1: expected 2 fields, found 3"):
        import_list("ssnet-verify", [odd])
