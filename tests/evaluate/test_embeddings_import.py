"""``import_vectors`` / ``vfbench embeddings import``: users' vectors -> embeddings file."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.cli import main
from vfbench.errors import EvaluationError
from vfbench.evaluate.embeddings import Embeddings, import_vectors


@pytest.fixture
def vecs():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 4)).astype(np.float32)


IDS = [f"id1000{i // 2}/yt/0000{i}" for i in range(6)]


def test_npy_with_ids_and_identity_files(tmp_path, vecs):
    np.save(tmp_path / "v.npy", vecs)
    (tmp_path / "ids.txt").write_text("\n".join(IDS) + "\n")
    (tmp_path / "who.txt").write_text("\n".join(i.split("/")[0] for i in IDS))
    e = import_vectors(tmp_path / "v.npy", "voice", tmp_path / "ids.txt", tmp_path / "who.txt")
    assert e.ids.tolist() == IDS and np.array_equal(e.vectors, vecs)
    assert e.identities.tolist() == ["id10000"] * 2 + ["id10001"] * 2 + ["id10002"] * 2
    e2 = import_vectors(tmp_path / "v.npy", "voice", IDS, identity_from_path=True)
    assert e2.identities.tolist() == e.identities.tolist()
    # id,identity rows in one file, in another order than the vectors: joined by id
    (tmp_path / "map.csv").write_text(
        "id,identity\n" + "\n".join(f"{i},P{k}" for k, i in reversed(list(enumerate(IDS))))
    )
    e3 = import_vectors(tmp_path / "v.npy", "voice", IDS, tmp_path / "map.csv")
    assert e3.identities.tolist() == [f"P{k}" for k in range(6)]


def test_csv_npz_and_pt_layouts(tmp_path, vecs):
    rows = ["id,identity," + ",".join(f"d{j}" for j in range(4))]
    rows += [
        f"{i},{i[:7]}," + ",".join(repr(float(x)) for x in v)
        for i, v in zip(IDS, vecs, strict=True)
    ]
    (tmp_path / "v.csv").write_text("\n".join(rows) + "\n")
    e = import_vectors(tmp_path / "v.csv", "face")
    assert e.ids.tolist() == IDS and np.allclose(e.vectors, vecs)
    np.savez(tmp_path / "v.npz", embeddings=vecs, ids=np.array(IDS), identities=np.array(IDS))
    assert import_vectors(tmp_path / "v.npz", "face").ids.tolist() == IDS
    import torch

    torch.save({"vectors": torch.from_numpy(vecs), "ids": IDS}, tmp_path / "v.pt")
    e = import_vectors(tmp_path / "v.pt", "face", identity_from_path=True)
    assert np.array_equal(e.vectors, vecs)


def test_errors_name_the_problem(tmp_path, vecs):
    np.save(tmp_path / "v.npy", vecs)
    with pytest.raises(EvaluationError, match=r"5 ids but .*v\.npy holds 6 vectors"):
        import_vectors(tmp_path / "v.npy", "voice", IDS[:5], identity_from_path=True)
    with pytest.raises(
        EvaluationError, match=r"1 id\(s\) occur more than once.*'id10000/yt/00000'"
    ):
        import_vectors(tmp_path / "v.npy", "voice", [IDS[0], *IDS[:5]], identity_from_path=True)
    with pytest.raises(EvaluationError, match="no identities given"):
        import_vectors(tmp_path / "v.npy", "voice", IDS)
    with pytest.raises(EvaluationError, match=r"2 item\(s\) have no identity, e\.g\. \['a', 'b'\]"):
        import_vectors(tmp_path / "v.npy", "voice", ["a", "b", *IDS[2:]], identity_from_path=True)
    bad = vecs.copy()
    bad[3, 1] = np.nan
    bad[5, 0] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(EvaluationError, match=r"2 vector\(s\) have NaN/inf values, first row 4"):
        import_vectors(tmp_path / "bad.npy", "voice", IDS, identity_from_path=True)
    np.save(tmp_path / "v1.npy", vecs[0])
    with pytest.raises(EvaluationError, match=r"v1\.npy: vectors must be a 2-D .* shape \(4,\)"):
        import_vectors(tmp_path / "v1.npy", "voice", IDS, identity_from_path=True)
    (tmp_path / "t.csv").write_text("id,d0\na,1.0\nb,x\n")
    with pytest.raises(EvaluationError, match=r"t\.csv:3: column 2 value 'x' is not a number"):
        import_vectors(tmp_path / "t.csv", "voice", identity_from_path=True)


def test_cli_round_trip(tmp_path, vecs, capsys):
    np.save(tmp_path / "v.npy", vecs)
    (tmp_path / "ids.txt").write_text("\n".join(IDS) + "\n")
    out = tmp_path / "voices.npz"
    args = ["embeddings", "import", str(tmp_path / "v.npy"), "--modality", "voice"]
    rc = main([*args, "--ids", str(tmp_path / "ids.txt"), "--identity-from-path", "-o", str(out)])
    assert rc == 0 and "6 voice vectors of dim 4, 3 identities" in capsys.readouterr().out
    e = Embeddings.load(out)
    assert e.ids.tolist() == IDS and e.meta["imported_from"].endswith("v.npy")
    rc = main([*args, "--ids", str(tmp_path / "ids.txt"), "-o", str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert rc == 2 and "no identities given" in err and "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()


def test_identities_from_a_manifest(tmp_path, vecs, capsys):
    from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem

    who = [i.split("/")[0] for i in IDS]
    Manifest(
        identities=[Identity(n) for n in sorted(set(who))],
        voices=[VoiceItem(i, n, i + ".wav") for i, n in zip(IDS, who, strict=True)],
        faces=[FaceItem("f0", who[0], "f0.jpg")],
    ).save(tmp_path / "man")
    np.save(tmp_path / "v.npy", vecs)
    (tmp_path / "ids.txt").write_text("\n".join(IDS) + "\n")
    args = ["embeddings", "import", str(tmp_path / "v.npy"), "-m", "voice", "--ids"]
    rc = main([*args, str(tmp_path / "ids.txt"), "--manifest", str(tmp_path / "man"),
               "-o", str(tmp_path / "e.npz")])  # fmt: skip
    assert rc == 0
    assert Embeddings.load(tmp_path / "e.npz").identities.tolist() == who
    (tmp_path / "ids2.txt").write_text("\n".join([*IDS[:5], "stranger/1"]) + "\n")
    rc = main([*args, str(tmp_path / "ids2.txt"), "--manifest", str(tmp_path / "man"),
               "-o", str(tmp_path / "e2.npz")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "1 item(s) have no identity, e.g. ['stranger/1']" in err
