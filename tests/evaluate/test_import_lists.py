"""Every published list layout imports with one command: names, columns, groups, counts.

The lists not copied into ``shared/data`` (README "Not included") are rebuilt here from the
copied ones in their documented layouts: the SSNet face->voice lists swap columns / lines,
the SSNet 1:2 val lists are ``<voice> <pos face> <neg face>`` without a final newline, and
the CMPC G/N/A/GNA veriflists share the random list's format.
"""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.errors import EvaluationError
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.importers import (
    PACKAGED_VOX1_META,
    Vox1Meta,
    detect_format,
    import_list,
    name_constraint,
    name_direction,
    read_table,
    strip_ext,
)


@pytest.fixture(scope="module")
def tdir(shared_dir):
    return shared_dir / "data" / "trials"


@pytest.fixture(scope="module")
def meta():
    return Vox1Meta.load(PACKAGED_VOX1_META)


def test_packaged_meta_is_the_shared_copy(shared_dir):
    assert PACKAGED_VOX1_META.read_bytes() == (shared_dir / "data/vox1_meta.csv").read_bytes()


def test_several_veriflists_one_group_each(tdir, tmp_path):
    src = (tdir / "cmpc/veriflist/veriflist_test_random_unseenunheard.txt").read_text()
    head, *rows = src.splitlines()
    sizes = {"random": 30496, "G": 1000, "N": 700, "A": 500, "GNA": 300}
    paths = []
    for name, k in sizes.items():
        p = tmp_path / f"veriflist_test_{name}_unseenunheard.txt"
        p.write_text("\n".join([head, *rows[:k]]) + "\n")
        paths.append(p)
    ts, rep = import_list("cmpc-veriflist", paths)
    want = {
        "verify/v2f/U/cmpc": 30496,
        "verify/v2f/G/cmpc": 1000,
        "verify/v2f/N/cmpc": 700,
        "verify/v2f/A/cmpc": 500,
        "verify/v2f/GNA/cmpc": 300,
    }
    assert rep.groups == want
    assert {k: ts.groups[k]["label"].size for k in ts.keys()} == want
    assert rep.n_rows == rep.n_kept == sum(sizes.values())
    assert rep.counts["positive"] + rep.counts["negative"] == sum(sizes.values())
    assert [ts.meta(k)["constraint"] for k in ts.keys()] == ["U", "G", "N", "A", "GNA"]
    # the same pairs in each group: labels follow identity equality in every group
    for k in ts.keys():
        g = ts.groups[k]
        same = ts.voice_identities[g["voice"]] == ts.face_identities[g["face"]]
        assert np.array_equal(same, g["label"])


def test_seenheard_and_same_constraint_lists_do_not_collide(tdir, tmp_path):
    src = (tdir / "cmpc/veriflist/veriflist_test_random_unseenunheard.txt").read_text()
    lines = src.splitlines()
    a = tmp_path / "veriflist_test_G_unseenunheard.txt"
    b = tmp_path / "veriflist_test_G_seenheard.txt"
    a.write_text("\n".join(lines[:101]) + "\n")
    b.write_text("\n".join([lines[0], *lines[101:151]]) + "\n")
    ts, rep = import_list("cmpc-veriflist", [a, b])
    assert rep.groups == {"verify/v2f/G/cmpc": 100, "verify/v2f/G/cmpc/seenheard": 50}


def _ssnet_match_val(tdir, tmp_path, name, n):
    """SSNet 1:2 val layout from the verify list: probe voice, its face, another face."""
    pairs = [ln.split() for ln in (tdir / "ssnet/verify_v2f_test.txt").read_text().splitlines()]
    meta = Vox1Meta.load(PACKAGED_VOX1_META)
    pos = [(v, f) for v, f in pairs if meta.id_to_name[v.split("/")[0]] == f.split("/")[0]]
    neg = [f for v, f in pairs if meta.id_to_name[v.split("/")[0]] != f.split("/")[0]]
    rows = []
    for i, (v, f) in enumerate(pos[:n]):
        j = i
        while neg[j % len(neg)].split("/")[0] == f.split("/")[0]:
            j += 1
        rows.append(f"{v} {f} {neg[j % len(neg)]}")
    p = tmp_path / name
    p.write_text("\n".join(rows))  # no final newline, as in the original
    return p, rows


@pytest.mark.parametrize("fmt", ["ssnet-matching", "matching", "cmpc-matching"])
def test_ssnet_match_lists(tdir, tmp_path, fmt):
    p, rows = _ssnet_match_val(tdir, tmp_path, "match_v2f_2_val.txt", 3000)
    g_path, _ = _ssnet_match_val(tdir, tmp_path, "match_g_v2f_2_val.txt", 1234)
    ts, rep = import_list(fmt, [p, g_path])
    src = "cmpc" if fmt == "cmpc-matching" else "ssnet"
    assert rep.groups == {f"match/v2f/n=2/U/{src}": 3000, f"match/v2f/n=2/G/{src}": 1234}
    g = ts.groups[f"match/v2f/n=2/U/{src}"]
    assert ts.voice_ids[g["query"][0]] == strip_ext(rows[0].split()[0])
    q_ident = ts.voice_identities[g["query"]]
    assert np.all(ts.face_identities[g["cands"][:, 0]] == q_ident)
    assert not np.any(ts.face_identities[g["cands"][:, 1]] == q_ident)


def test_own_list_any_name_direction_from_columns(tdir, tmp_path):
    src = (tdir / "cmpc/matching/matching_v2f_U.csv").read_text().splitlines()
    # a user's face->voice list (columns swapped into <face> <voice> <voice>), odd name
    f2v = (tdir / "cmpc/matching/matching_f2v_U.csv").read_text()
    own = tmp_path / "my trials (1M).lst"
    own.write_text(f2v)
    ts, rep = import_list("matching", [own], constraint="G")
    assert rep.groups == {"match/f2v/n=2/G/list": 10000}
    with pytest.raises(EvaluationError, match="direction f2v .* v2f was asked"):
        import_list("matching", [own], direction="v2f")
    named = tmp_path / "matching_v2f_GN.csv"
    named.write_text("\n".join(src[:10]) + "\n")
    with pytest.raises(EvaluationError, match="file name says constraint 'GN'"):
        import_list("matching", [named], constraint="U")
    ts, rep = import_list("matching", [own])
    assert ts.meta("match/f2v/n=2/U/list")["constraint"] == "U"
    assert any("labelled U" in w for w in rep.warnings)
    # 1:3 lists (4 columns) import as n=3
    wide = tmp_path / "wide.txt"
    wide.write_text("\n".join(f"{ln} {ln.split()[2]}" for ln in src[:50]) + "\n")
    ts, _ = import_list("matching", [wide])
    assert ts.groups["match/v2f/n=3/U/list"]["cands"].shape == (50, 3)


def test_bad_rows_named_by_the_fast_reader(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("a.wav b.jpg c.jpg\n" * 5 + "a.wav b.jpg\n" + "a.wav b.jpg c.jpg\n")
    with pytest.raises(EvaluationError, match=r"x\.txt:6: expected 3 fields, found 2"):
        import_list("matching", [p])
    p.write_text("a.wav b.jpg c.jpg\nd.jpg e.jpg f.jpg\n")
    with pytest.raises(EvaluationError, match="column 1 mixes voices and faces"):
        import_list("matching", [p])
    p.write_text("a.wav b.wav c.jpg\n")
    with pytest.raises(EvaluationError, match=r"column 2 \(candidate\) holds voices"):
        import_list("matching", [p])
    p.write_text("\n\na.wav b.jpg c.jpg\n\n\n\nd.wav e.jpg f.jpg\n")  # blank lines are skipped
    ts, rep = import_list("matching", [p])
    assert rep.n_rows == 2
    d = tmp_path / "dir"
    d.mkdir()
    with pytest.raises(EvaluationError, match="is a directory"):
        import_list("matching", [d])


def test_ssnet_f2v_verify_detects_columns(tdir, tmp_path):
    rows = (tdir / "ssnet/verify_v2f_test.txt").read_text().splitlines()
    p = tmp_path / "verify_f2v_test.txt"
    p.write_text("\n".join(" ".join(r.split()[::-1]) for r in rows) + "\n")
    ts, rep = import_list("ssnet-verify", [p])  # packaged vox1_meta.csv
    assert rep.groups == {"verify/f2v/U/ssnet": 65550}
    assert rep.counts == {"positive": 32967, "negative": 32583}
    g = ts.groups["verify/f2v/U/ssnet"]
    assert np.unique(g["voice"]).size == 21850
    gp = tmp_path / "verify_g_f2v_test.txt"
    gp.write_text(p.read_text())
    ts, _ = import_list("ssnet-verify", [gp])
    assert ts.meta("verify/f2v/G/ssnet")["constraint"] == "G"


def test_ssnet_f2v_retrieval_detects_lines(tdir, tmp_path):
    lines = (tdir / "ssnet/reterival_v2f_test.txt").read_text().splitlines()
    p = tmp_path / "reterival_f2v_test.txt"
    p.write_text(lines[1] + "\n" + lines[0] + "\n")
    ts, rep = import_list("ssnet-retrieval", [p])
    r = ts.groups["retrieve/f2v/ssnet"]
    assert r["queries"].size == 20076 and r["gallery"].size == 21850
    assert np.unique(ts.face_identities[r["queries"]]).size == 189
    # mapped onto embeddings: every item found (the old importer missed 41,926)
    vid = ts.voice_ids
    fid = ts.face_ids
    v = Embeddings(vid, ts.voice_identities, np.ones((vid.size, 2)), "voice")
    f = Embeddings(fid, ts.face_identities, np.ones((fid.size, 2)), "face")
    ts2, rep2 = import_list("ssnet-retrieval", [p], v, f)
    assert rep2.n_unmapped_items == 0 and rep2.n_kept == 41926


def test_every_shared_list_detects_and_imports(tdir):
    lists = sorted(x for x in tdir.rglob("*") if x.is_file() and x.name != "README.txt")
    got = {x.name: detect_format(x) for x in lists}
    assert got["verify_v2f_test.txt"] == "ssnet-verify"
    assert got["reterival_v2f_test.txt"] == "ssnet-retrieval"
    assert got["matching_f2v_GN.csv"] == "matching"
    assert got["veriflist_test_random_unseenunheard.txt"] == "cmpc-veriflist"
    assert got["wav_20k.csv"] == got["jpg_20k.csv"] == "cmpc-retrieval"
    # one command per list (retrieval: the pair), with the README's counts
    want = {
        "verify_v2f_test.txt": 65550,
        "reterival_v2f_test.txt": 21850 + 20076,
        "veriflist_test_random_unseenunheard.txt": 30496,
    }
    for x in lists:
        if got[x.name] in ("cmpc-retrieval",):
            continue
        _, rep = import_list(got[x.name], [x])
        if x.name in want:
            assert rep.n_rows == want[x.name]
        assert rep.n_kept == rep.n_rows
    _, rep = import_list(
        "cmpc-retrieval", [tdir / "cmpc/retrieval/jpg_20k.csv", tdir / "cmpc/retrieval/wav_20k.csv"]
    )
    assert rep.counts == {"voices": 20000, "faces": 20000}


def test_name_parsing():
    assert name_direction("match_g_v2f_2_val.txt") == "v2f"
    assert name_constraint("match_g_v2f_2_val.txt") == "G"
    assert name_constraint("match_v2f_2_val.txt") == "U"
    assert name_constraint("matching_f2v_GN.csv") == "GN"
    assert name_constraint("verify_gn_f2v_test.txt") == "GN"
    assert name_direction("mylist.txt") is None and name_constraint("mylist.txt") is None


def test_parse_cache_keyed_by_content(tmp_path):
    p = tmp_path / "l.txt"
    p.write_text("a.wav b.jpg c.jpg\nd.wav c.jpg b.jpg\n")
    cache = tmp_path / "cache"
    t1 = read_table(p, cache_dir=cache)
    files = list(cache.iterdir())
    assert len(files) == 1 and t1.sha256 in files[0].name
    t2 = read_table(p, cache_dir=cache)
    assert np.array_equal(t1.codes, t2.codes) and np.array_equal(t1.tokens, t2.tokens)
    assert t2.tokens[t2.codes].tolist() == [
        ["a.wav", "b.jpg", "c.jpg"],
        ["d.wav", "c.jpg", "b.jpg"],
    ]
    p.write_text("a.wav b.jpg c.jpg\nd.wav b.jpg c.jpg\n")  # edited: a new key, new content
    t3 = read_table(p, cache_dir=cache)
    assert t3.sha256 != t1.sha256 and t3.tokens[t3.codes][1].tolist() == ["d.wav", "b.jpg", "c.jpg"]
    assert len(list(cache.iterdir())) == 2
    # a damaged cache entry is rebuilt, not trusted
    files = sorted(cache.iterdir())
    for f in files:
        f.write_bytes(b"garbage")
    assert read_table(p, cache_dir=cache).tokens[t3.codes].tolist() == t3.tokens[t3.codes].tolist()


def _settle(p, age_s):
    """Set the file's mtime ``age_s`` seconds into the past (ctime stays now)."""
    import os
    import time

    t = time.time_ns() - int(age_s * 1e9)
    os.utime(p, ns=(t, t))


def test_parse_cache_remembers_the_hash_of_a_settled_file(tmp_path, monkeypatch):
    """A cache hit on an unchanged file (same size, mtime, ctime, inode) neither reads nor
    hashes it; any change to the file, even one keeping its size, is read and hashed."""
    import hashlib
    import time

    from vfbench.evaluate import importers

    p = tmp_path / "l.txt"
    cache = tmp_path / "cache"
    p.write_text("a.wav b.jpg c.jpg\nd.wav c.jpg b.jpg\n")
    t1 = read_table(p, cache_dir=cache)
    assert not (cache / "stat").exists()  # just written: ctime is too recent to trust
    monkeypatch.setattr(importers, "_STAT_SETTLE_NS", 0)
    read_table(p, cache_dir=cache)  # hashed again, memo recorded
    (memo,) = (cache / "stat").iterdir()
    assert t1.sha256 in memo.read_text()

    def no_read(path):
        raise AssertionError(f"{path} was read")

    with monkeypatch.context() as m:
        m.setattr(importers, "_read_bytes", no_read)
        t2 = read_table(p, cache_dir=cache)
    assert t2.sha256 == t1.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert t2.tokens[t2.codes].tolist() == t1.tokens[t1.codes].tolist()
    # the same size, another content, the mtime put back where it was: ctime still moves
    st = p.stat()
    time.sleep(0.02)
    p.write_text("a.wav b.jpg c.jpg\nd.wav b.jpg c.jpg\n")
    import os

    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    t3 = read_table(p, cache_dir=cache)
    assert t3.sha256 == hashlib.sha256(p.read_bytes()).hexdigest() != t1.sha256
    assert t3.tokens[t3.codes][1].tolist() == ["d.wav", "b.jpg", "c.jpg"]
    # a damaged memo is ignored (and the parsed list still comes from the cache)
    memo.write_text("{not json")
    assert read_table(p, cache_dir=cache).sha256 == t3.sha256
    # without a cache folder nothing is remembered or trusted
    assert read_table(p).sha256 == t3.sha256


def test_parse_cache_memo_written_only_for_settled_files(tmp_path):
    from vfbench.evaluate import importers

    p = tmp_path / "l.txt"
    cache = tmp_path / "cache"
    p.write_text("a.wav b.jpg\n")
    st = p.stat()
    assert importers._remembered_digest(cache, p, st) is None
    importers._remember_digest(cache, p, st, "0" * 64)  # changed just now: not recorded
    assert importers._remembered_digest(cache, p, st) is None
    _settle(p, 10)
    st = p.stat()
    importers._remember_digest(cache, p, st, "0" * 64)  # ctime is still "now"
    assert importers._remembered_digest(cache, p, st) is None


def test_load_trials_records_each_list_by_hash(tdir, tmp_path):
    import hashlib

    from vfbench.evaluate.importers import load_trials

    a = tmp_path / "a" / "match_v2f_2_val.txt"
    b = tmp_path / "b" / "match_v2f_2_val.txt"  # same name, other content
    src = (tdir / "cmpc/matching/matching_v2f_U.csv").read_text().splitlines()
    for p, rows in ((a, src[:20]), (b, src[20:50])):
        p.parent.mkdir()
        p.write_text("\n".join(rows) + "\n")
    ts, _ = import_list("matching", [a])
    v = Embeddings(ts.voice_ids, ts.voice_identities, np.ones((ts.voice_ids.size, 2)), "voice")
    f = Embeddings(ts.face_ids, ts.face_identities, np.ones((ts.face_ids.size, 2)), "face")
    ts, source = load_trials([a], v, f)
    assert source.format == "matching"
    assert source.sha256 == [hashlib.sha256(a.read_bytes()).hexdigest()]
    with pytest.raises(EvaluationError, match="trial list not found"):
        load_trials([tmp_path / "nope.txt"], v, f)
    with pytest.raises(EvaluationError, match="is a directory"):
        load_trials([tmp_path / "a"], v, f)
    ts, source = load_trials([a, b], v, f, drop_unmapped=True)
    assert source.sha256 == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]


def test_eight_cmpc_matching_lists_in_one_command(tdir, tmp_path, capsys):
    from vfbench.cli import main

    paths = sorted((tdir / "cmpc/matching").glob("matching_*.csv"))
    assert len(paths) == 8
    rc = main(["trials", "import", "matching", *map(str, paths), "-o", str(tmp_path / "t.npz")])
    out = capsys.readouterr().out
    assert rc == 0 and "76960 rows read, 76960 kept" in out  # 2 x (10000 + 10000 + 9360 + 9120)
    from vfbench.evaluate.trials import TrialSet

    ts = TrialSet.load(tmp_path / "t.npz")
    sizes = {k: ts.groups[k]["query"].size for k in ts.keys()}
    want = {"U": 10000, "G": 10000, "N": 9360, "GN": 9120}
    assert sizes == {f"match/{d}/n=2/{c}/cmpc": n for d in ("v2f", "f2v") for c, n in want.items()}


def test_mapped_lists_are_cached_by_list_hash_and_embedding_ids(tmp_path, monkeypatch, match_list):
    """load_trials keeps the list *mapped onto the embeddings*: a second run with the same
    (settled) list and the same embedding ids/identities loads that trial set - the same
    content hash and report - without parsing or mapping anything; other identities, an
    edited list or a damaged entry are imported afresh."""
    import time

    from vfbench.evaluate import importers
    from vfbench.evaluate.importers import load_trials

    lst, v, f = match_list(tmp_path)
    rows = lst.read_text().splitlines()
    ts0, _ = import_list("matching", [lst])
    cache = tmp_path / "cache"
    monkeypatch.setattr(importers, "_STAT_SETTLE_NS", 0)
    ts1, src1 = load_trials([lst], v, f, cache_dir=cache)  # parses; memo + entry written
    assert len(list((cache / "resolved").iterdir())) == 2  # trial file + report

    def no_import(*a, **k):
        raise AssertionError("imported again")

    with monkeypatch.context() as m:
        m.setattr(importers, "import_list", no_import)
        m.setattr(importers, "read_table", no_import)
        ts2, src2 = load_trials([lst], v, f, cache_dir=cache)
    assert ts2.sha256 == ts1.sha256 == ts0.sha256
    assert src2.sha256 == src1.sha256 and src2.report.summary() == src1.report.summary()
    for k in ts1.keys():
        assert ts2.meta(k) == ts1.meta(k)
        for name, a in ts1.groups[k].items():
            np.testing.assert_array_equal(ts2.groups[k][name], a)
    # other identities for the same ids: a different mapping, imported again
    f2 = Embeddings(f.ids, np.array([x + "_b" for x in f.identities]), f.vectors, "face")
    ts3, _ = load_trials([lst], v, f2, cache_dir=cache)
    assert set(ts3.face_identities.tolist()) == {x + "_b" for x in f.identities}
    # an edited list: its new content hash is a new key
    time.sleep(0.01)
    lst.write_text("\n".join(rows[:10]) + "\n")
    ts4, _ = load_trials([lst], v, f, cache_dir=cache)
    assert sum(g["query"].size for g in ts4.groups.values()) == 10
    # a damaged entry is rebuilt, not trusted
    for p in (cache / "resolved").glob("*.npz"):
        p.write_bytes(b"garbage")
    ts5, _ = load_trials([lst], v, f, cache_dir=cache)
    assert ts5.sha256 == ts4.sha256
