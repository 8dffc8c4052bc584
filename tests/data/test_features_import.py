"""``vfbench data import-features``: every input format reads to the same table, bad inputs
raise errors naming the file (and nothing is written), and heads trained on imported
features of known structure beat chance and the gender-only baseline, for every method."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vfbench.data.features import (
    FeatureStore,
    import_features,
    is_feature_store,
    read_feature_file,
)
from vfbench.data.manifest import load_manifest
from vfbench.errors import DataError, ManifestError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def make_features(
    n_id: int = 40, per: int = 5, dv: int = 12, df: int = 20, noise: float = 1.5, seed: int = 0
) -> dict[str, np.ndarray]:
    """Voice and face vectors sharing a rank-6 identity signal + a gender direction, plus
    isotropic noise: a model that learns the shared signal beats the gender-only baseline."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n_id, 6))
    g = np.where(np.arange(n_id) % 2 == 0, 1.0, -1.0)
    lat = np.c_[z, 2 * g]
    av, af = rng.normal(size=(7, dv)), rng.normal(size=(7, df))
    who = np.repeat(np.arange(n_id), per)
    return {
        "voice": (lat[who] @ av + noise * rng.normal(size=(who.size, dv))).astype(np.float32),
        "face": (lat[who] @ af + noise * rng.normal(size=(who.size, df))).astype(np.float32),
        "identity": np.array([f"p{k:03d}" for k in who]),
        "gender": np.where(g > 0, "m", "f"),
    }


def write_npz_pair(d: Path, data: dict[str, np.ndarray]) -> tuple[Path, Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    n = data["identity"].size
    np.savez(d / "voice.npz", features=data["voice"], ids=[f"v{i}" for i in range(n)],
             identities=data["identity"])  # fmt: skip
    np.savez(d / "face.npz", vectors=data["face"], id=[f"f{i}" for i in range(n)],
             labels=data["identity"])  # fmt: skip
    meta = d / "meta.csv"
    idents = sorted(set(data["identity"].tolist()))
    meta.write_text(
        "identity,gender\n" + "".join(f"{i},{data['gender'][k]}\n" for k, i in enumerate(idents)),
        encoding="utf-8",
    )
    return d / "voice.npz", d / "face.npz", meta


# ------------------------------------------------------------------------------ formats
def _write_all_formats(
    d: Path, x: np.ndarray, ids: list[str], idents: list[str]
) -> dict[str, tuple[Path, Path | None]]:
    d.mkdir(parents=True, exist_ok=True)
    lst = d / "list.txt"
    lst.write_text(
        "id identity\n" + "".join(f"{a} {b}\n" for a, b in zip(ids, idents, strict=True)), "utf-8"
    )
    np.savez(d / "a.npz", embeddings=x, keys=ids, y=idents)
    np.save(d / "b.npy", x)
    (d / "c.csv").write_text(
        "id,identity," + ",".join(f"x{k}" for k in range(x.shape[1])) + "\n"
        + "".join(f"{a},{b}," + ",".join(repr(float(v)) for v in row) + "\n"
                  for a, b, row in zip(ids, idents, x, strict=True)),
        "utf-8",
    )  # fmt: skip
    (d / "d.csv").write_text(
        "".join(",".join(repr(float(v)) for v in row) + "\n" for row in x), "utf-8"
    )
    torch.save({"features": torch.from_numpy(x), "ids": ids, "identities": idents}, d / "e.pt")
    torch.save(torch.from_numpy(x), d / "f.pt")
    return {
        "npz": (d / "a.npz", None),
        "npy+list": (d / "b.npy", lst),
        "csv-header": (d / "c.csv", None),
        "csv-bare+list": (d / "d.csv", lst),
        "pt-dict": (d / "e.pt", None),
        "pt-tensor+list": (d / "f.pt", lst),
    }


def test_every_format_reads_to_the_same_table(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 5)).astype(np.float32)
    ids = [f"item{i}" for i in range(7)]
    idents = ["a", "a", "b", "b", "c", "c", "c"]
    for fmt, (path, lst) in _write_all_formats(tmp_path, x, ids, idents).items():
        t = read_feature_file(path, lst)
        assert t.ids.tolist() == ids, fmt
        assert t.identities.tolist() == idents, fmt
        np.testing.assert_allclose(t.vectors, x, rtol=0, atol=1e-7, err_msg=fmt)
        assert t.dim == 5 and len(t) == 7


def test_import_writes_manifest_store_and_configs(tmp_path: Path) -> None:
    data = make_features(n_id=20, per=3)
    v, f, meta = write_npz_pair(tmp_path / "in", data)
    # one identity's split fixed by the meta file
    meta.write_text(meta.read_text().replace("identity,gender", "identity,gender,split")
                    .replace("p000,m", "p000,m,test").replace(",f\n", ",f,\n")
                    .replace(",m\n", ",m,\n"), "utf-8")  # fmt: skip
    res = import_features(v, f, tmp_path / "out", meta=meta, seed=1)
    m = load_manifest(tmp_path / "out" / "manifest")
    assert len(m.identities) == 20 and len(m.voices) == 60 and len(m.faces) == 60
    assert m.identity_map()["p000"].split == "test"
    assert {i.gender for i in m.identities} == {"m", "f"}
    assert res.voice_dim == 12 and res.face_dim == 20
    store = FeatureStore.open(tmp_path / "out" / "features")
    assert is_feature_store(tmp_path / "out" / "features")
    np.testing.assert_array_equal(store.vectors("voice", ["v5", "v0"]), data["voice"][[5, 0]])
    np.testing.assert_array_equal(store.vectors("face", ["f59"]), data["face"][[59]])
    info = json.loads((tmp_path / "out" / "features" / "features.json").read_text())
    assert info["voice"]["dim"] == 12 and info["face"]["dim"] == 20
    # the written train config resolves to precomputed encoders of the imported dims
    from vfbench.train.config import load_train_config

    cfg = load_train_config(tmp_path / "out" / "train.yaml")
    assert (cfg.voice.name, cfg.voice.kwargs, cfg.face.kwargs) == (
        "precomputed",
        {"dim": 12},
        {"dim": 20},
    )
    assert cfg.feature_modalities() == ("voice", "face") and not cfg.pretrain.enabled
    # a second import into the same folder is refused unless --overwrite
    with pytest.raises(DataError, match="overwrite"):
        import_features(v, f, tmp_path / "out", meta=meta)
    import_features(v, f, tmp_path / "out", meta=meta, overwrite=True)


# ------------------------------------------------------------------------------- errors
def _bad(tmp_path: Path, **arrays: object) -> Path:
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)  # type: ignore[arg-type]
    return p


def test_mismatched_row_counts_name_the_file(tmp_path: Path) -> None:
    x = np.zeros((4, 3), np.float32)
    p = _bad(tmp_path, features=x, ids=["a", "b", "c"], identities=["p", "p", "q", "q"])
    with pytest.raises(DataError, match=r"bad\.npz.*4 feature rows but 3 ids"):
        read_feature_file(p)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "l.txt").write_text("a p\nb p\nc q\n", "utf-8")
    with pytest.raises(DataError, match=r"x\.npy with list .*l\.txt: 4 feature rows but 3 ids"):
        read_feature_file(tmp_path / "x.npy", tmp_path / "l.txt")


def test_nan_inf_name_the_row_and_id(tmp_path: Path) -> None:
    x = np.ones((3, 2), np.float32)
    x[2, 1] = np.inf
    p = _bad(tmp_path, features=x, ids=["a", "b", "c"], identities=["p", "p", "q"])
    with pytest.raises(DataError, match=r"bad\.npz: row 2 \(id 'c'\) has NaN/inf"):
        read_feature_file(p)
    (tmp_path / "n.csv").write_text("id,identity,x\na,p,1.0\nb,p,nan\n", "utf-8")
    with pytest.raises(DataError, match=r"n\.csv: row 1 \(id 'b'\) has NaN/inf"):
        read_feature_file(tmp_path / "n.csv")


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    p = _bad(tmp_path, features=np.zeros((3, 2)), ids=["a", "b", "a"], identities=["p", "q", "p"])
    with pytest.raises(DataError, match=r"bad\.npz: id 'a' appears twice \(rows 0 and 2\)"):
        read_feature_file(p)


def test_missing_identities(tmp_path: Path) -> None:
    # an empty identity in a sidecar list
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    (tmp_path / "l.csv").write_text("a,p\nb,\n", "utf-8")
    with pytest.raises(DataError, match=r"l\.csv:2: expected 'id identity"):
        read_feature_file(tmp_path / "x.npy", tmp_path / "l.csv")
    p = _bad(tmp_path, features=np.zeros((2, 2)), ids=["a", "b"], identities=["p", " "])
    with pytest.raises(DataError, match=r"row 1 \(id 'b'\) has no identity"):
        read_feature_file(p)
    # no identities at all and no sidecar list
    with pytest.raises(DataError, match=r"x\.npy: no item ids .*sidecar list"):
        read_feature_file(tmp_path / "x.npy")
    # identities absent from the meta file: ManifestError naming the meta file, nothing written
    data = make_features(n_id=6, per=2)
    v, f, meta = write_npz_pair(tmp_path / "in", data)
    meta.write_text("identity,gender\np000,m\np001,f\n", "utf-8")
    out = tmp_path / "out"
    with pytest.raises(
        ManifestError, match=r"meta\.csv: 4 identities .* not in the meta file, e\.g\. 'p002'"
    ):
        import_features(v, f, out, meta=meta)
    assert not out.exists()


def test_unreadable_or_wrong_shape_files(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"x\.npz: cannot read vectors \(not a \.npz archive"):
        read_feature_file(tmp_path / "x.npz")
    p = _bad(tmp_path, features=np.zeros(3), ids=["a", "b", "c"], identities=["p"] * 3)
    with pytest.raises(DataError, match=r"2-D .* shape \(3,\)"):
        read_feature_file(p)
    (tmp_path / "y.bin").write_text("1 2\n", "utf-8")
    with pytest.raises(DataError, match=r"unknown vectors format '\.bin'"):
        read_feature_file(tmp_path / "y.bin")
    (tmp_path / "z.csv").write_text("id,identity,x\na,p,1.0\nb,p,oops\n", "utf-8")
    with pytest.raises(DataError, match=r"z\.csv:3: column 3 value 'oops' is not a number"):
        read_feature_file(tmp_path / "z.csv")
    (tmp_path / "h.csv").write_text("id,identity,x\n", "utf-8")
    with pytest.raises(DataError, match=r"h\.csv: a header row but no vectors"):
        read_feature_file(tmp_path / "h.csv")
    (tmp_path / "m.csv").write_text("a,1.0,2.0\nb,3.0,4.0\n", "utf-8")  # ids but no header
    with pytest.raises(DataError, match=r"m\.csv:1: the first row mixes text and numbers"):
        read_feature_file(tmp_path / "m.csv")


def test_text_tables_read_alike(tmp_path: Path) -> None:
    """One reader for .csv / .tsv / whitespace .txt (import-features and embeddings import)."""
    from vfbench.evaluate.embeddings import read_vectors

    want = np.array([[1.0, -2.5], [3.0, 4e-3]])
    (tmp_path / "a.csv").write_text("id,identity,d0,d1\nx,p,1,-2.5\ny,q,3,0.004\n", "utf-8")
    (tmp_path / "a.tsv").write_text("d0\tid\td1\tidentity\n1\tx\t-2.5\tp\n3\ty\t4e-3\tq\n")
    (tmp_path / "a.txt").write_text("1 -2.5\n\n3   0.004\n", "utf-8")
    for name in ("a.csv", "a.tsv"):
        t = read_feature_file(tmp_path / name)
        np.testing.assert_array_equal(t.vectors, want.astype(np.float32))
        assert t.ids.tolist() == ["x", "y"] and t.identities.tolist() == ["p", "q"]
    vec, ids, idents = read_vectors(tmp_path / "a.txt")
    np.testing.assert_array_equal(vec, want)
    assert ids is None and idents is None


def test_unpaired_identities_are_dropped_and_reported(tmp_path: Path) -> None:
    data = make_features(n_id=6, per=2)
    v, f, _ = write_npz_pair(tmp_path / "in", data)
    np.savez(tmp_path / "in" / "face.npz", vectors=data["face"][:10],
             id=[f"f{i}" for i in range(10)], labels=data["identity"][:10])  # fmt: skip
    res = import_features(v, tmp_path / "in" / "face.npz", tmp_path / "out")
    assert res.dropped["voices"] == ["p005"] and len(res.manifest.identities) == 5
    assert not any(x.identity == "p005" for x in res.manifest.voices)


# ----------------------------------------------------------------------------- training
def _gender_only_accuracy(data_split: object, seed: int, n_trials: int) -> float:
    """1:2 accuracy of a system that knows only gender (one-hot gender embeddings), on the
    same seeded trials as the model: P(genders differ) + 0.5 P(same) by construction."""
    from vfbench.evaluate.quick import validation_1to2

    d = data_split
    ids = np.asarray(d.identities)  # type: ignore[attr-defined]
    gender = np.asarray(d.genders)  # type: ignore[attr-defined]
    vi, fi = d.voices.identity, d.faces.identity  # type: ignore[attr-defined]
    one = {"m": [1.0, 0.0], "f": [0.0, 1.0]}
    v = np.array([one[g] for g in gender[vi]])
    f = np.array([one[g] for g in gender[fi]])
    return float(validation_1to2(v, ids[vi], f, ids[fi], n_trials=n_trials, seed=seed).value)


def test_trinet_on_imported_features_beats_chance_and_gender(tmp_path: Path) -> None:
    from vfbench.evaluate.quick import validation_1to2
    from vfbench.methods import get_method
    from vfbench.train.config import load_train_config
    from vfbench.train.data import load_split
    from vfbench.train.embed import embed_manifest
    from vfbench.train.loop import train

    v, f, meta = write_npz_pair(tmp_path / "in", make_features(n_id=60, per=5))
    out = tmp_path / "imp"
    import_features(v, f, out, meta=meta, ratios=(0.6, 0.2, 0.2))
    cfg = load_train_config(out / "train.yaml", [
        "steps=200", "val.every=0", "val.n_trials=2000", "log.progress=false",
        "sampler.P=16", "optim.milestones=[150]", "checkpoint_every=200",
    ])  # fmt: skip
    res = train(cfg, tmp_path / "run", get_method(cfg.method))
    assert all(np.isfinite(x) for _, x in res.losses)
    assert res.losses[-1][1] < res.losses[0][1]
    # test split: unseen identities, embedded through the checkpoint like any model
    ve, fe = embed_manifest(
        res.last_checkpoint, out / "manifest", out / "features", "test", methods=get_method
    )
    assert ve.dim == fe.dim == 128 and len(ve) == 12 * 5
    acc = validation_1to2(ve.vectors, ve.identities, fe.vectors, fe.identities, 4000, seed=5)
    test = load_split(str(out / "manifest"), str(out / "features"), "test")
    base = _gender_only_accuracy(test, seed=5, n_trials=4000)
    assert 0.70 <= base <= 0.80  # ~0.5 x 1 + 0.5 x 0.5 with balanced genders
    assert acc.low > base + 0.05, (acc, base)
    # nothing of the imported vectors was copied into the training feature cache
    assert not list((tmp_path / "run" / "features").glob("*.npz"))


def _grid_rows() -> list[tuple[str, str]]:
    """(row name, config) of every row of the packaged method benchmark grid: a method
    added there is trained on imported features here too."""
    from vfbench.config import read_yaml
    from vfbench.experiments.config import CONFIG_DIR

    rows = read_yaml(CONFIG_DIR / "methods" / "benchmark_cpu.yaml")["rows"]
    return [(r["name"], r["config"]) for r in rows]


@pytest.mark.parametrize(("name", "config"), _grid_rows())
def test_every_method_trains_heads_on_imported_features(
    tmp_path_factory: pytest.TempPathFactory, name: str, config: str
) -> None:
    from vfbench.data.features import feature_overrides
    from vfbench.experiments.config import CONFIG_DIR
    from vfbench.methods import get_method
    from vfbench.train.config import load_train_config
    from vfbench.train.data import load_split
    from vfbench.train.loop import train

    root = tmp_path_factory.getbasetemp() / "imported_for_methods"
    if not (root / "features" / "features.json").is_file():
        v, f, meta = write_npz_pair(root.parent / "imported_in", make_features(n_id=48, per=4))
        import_features(v, f, root, meta=meta, ratios=(0.6, 0.2, 0.2), overwrite=True)
    sets = feature_overrides(root, 12, 20)
    cfg = load_train_config(CONFIG_DIR / config, [
        *sets, "steps=150", "val.every=0", "val.n_trials=2000", "log.progress=false",
        "log.tensorboard=false", "sampler.P=16", "optim.milestones=[]", "checkpoint_every=150",
    ])  # fmt: skip
    res = train(cfg, tmp_path_factory.mktemp(name), get_method(cfg.method))
    assert all(np.isfinite(x) for _, x in res.losses)
    v = res.validations[-1]
    val = load_split(str(root / "manifest"), str(root / "features"), "val")
    base = _gender_only_accuracy(val, seed=cfg.val.seed, n_trials=cfg.val.n_trials)
    # the 1:2 validation interval lies above chance and above the gender-only system
    assert v["low"] > max(0.5, base + 0.05), (name, v, base)


def _imported(tmp_path: Path) -> Path:
    v, f, meta = write_npz_pair(tmp_path / "in", make_features(n_id=40, per=4))
    import_features(v, f, tmp_path / "imp", meta=meta, ratios=(0.6, 0.2, 0.2))
    return tmp_path / "imp"


def test_benchmark_grid_points_every_row_at_the_import(tmp_path: Path) -> None:
    from vfbench.experiments.benchmark import BenchData, load_grid, row_config

    imp = _imported(tmp_path)
    quick = ["steps=30", "set=[pretrain.steps=5]"]  # a grid-wide set must not drop the rows'
    grid = load_grid(imp / "benchmark.yaml", quick)
    assert grid.manifest == str((imp / "manifest").resolve())
    assert {r.name for r in grid.rows} >= {
        "TriNet",
        "SVHF",
        "DIMNet-IG",
        "PINs",
        "Kim",
        "Horiguchi",
    }
    data = BenchData(None, None, None, None, grid.manifest, grid.cache)
    for row in grid.rows:
        cfg = row_config(grid, row, imp, data)
        assert (cfg.voice.name, cfg.voice.kwargs) == ("precomputed", {"dim": 12}), row.name
        assert (cfg.face.name, cfg.face.kwargs) == ("precomputed", {"dim": 20}), row.name
        assert not cfg.pretrain.enabled and cfg.feature_modalities() == ("voice", "face")


@pytest.mark.slow
def test_methods_benchmark_runs_on_imported_features(tmp_path: Path) -> None:
    """The whole ``vfbench methods benchmark`` over an import (about a minute)."""
    from vfbench.experiments.benchmark import load_grid, run_benchmark

    imp = _imported(tmp_path)
    grid = load_grid(imp / "benchmark.yaml", [
        "steps=200", "protocol.matching.n_trials=1000", "protocol.verification.n_pairs=1000",
        "protocol.n_boot=100", "n_boot=100", "set=[sampler.P=16]",
    ])  # fmt: skip
    table = run_benchmark(grid, tmp_path / "bench", grid_dir=imp, progress=False)
    assert (tmp_path / "bench" / "benchmark.md").is_file()
    assert len(table.rows) == len(grid.rows)
    for row in table.rows:  # every method: interval above chance, point above gender-only
        c = row.cells["v2f 1:2 U"]
        assert c.low is not None and c.gender_baseline is not None
        assert c.low > 0.5 and c.value > c.gender_baseline, (row.name, c)


def test_imported_manifest_validates_clean(tmp_path: Path) -> None:
    from vfbench.data.validate import validate_manifest

    imp = _imported(tmp_path)
    rep = validate_manifest(load_manifest(imp / "manifest"), check_media=True)
    assert rep.ok and not rep.issues, rep.summary()
    # the consistency checks still run: a voice naming an unknown identity is an error
    m = load_manifest(imp / "manifest")
    from dataclasses import replace

    m.voices[0] = replace(m.voices[0], identity="nobody")
    assert "unknown_identity" in validate_manifest(m).by_code()


def test_languages_from_sidecar_lists_feed_the_fame_protocol(tmp_path: Path) -> None:
    """Languages given in the sidecar lists: voices keep them, faces keep them as
    source_video, so language subsets and FAME lists work on imported features."""
    from vfbench.data.recipes.mav_celeb import face_language, language_subset
    from vfbench.evaluate.fame import build_fame_lists

    rng = np.random.default_rng(0)
    rows = [(f"p{k}", lang, j) for k in range(10) for lang in ("English", "Urdu") for j in range(2)]
    for mod, dim in (("voice", 6), ("face", 9)):
        np.save(tmp_path / f"{mod}.npy", rng.normal(size=(len(rows), dim)))
        (tmp_path / f"{mod}.txt").write_text(
            "".join(f"{p}/{lang}/{mod}{j} {p} {lang}\n" for p, lang, j in rows), "utf-8"
        )
    res = import_features(
        tmp_path / "voice.npy", tmp_path / "face.npy", tmp_path / "imp",
        voice_list=tmp_path / "voice.txt", face_list=tmp_path / "face.txt", ratios=(0.6, 0.0, 0.4),
    )  # fmt: skip
    m = load_manifest(tmp_path / "imp" / "manifest")
    assert {v.language for v in m.voices} == {"English", "Urdu"}
    f = next(x for x in m.faces if x.id == "p3/Urdu/face1")
    assert face_language(m, f) == "Urdu" and res.face_dim == 9
    sub = language_subset(m, "Urdu")
    split = {i.id: i.split for i in sub.identities}
    assert all(v.language == "Urdu" for v in sub.voices if split[v.identity] == "train")
    lists = build_fame_lists(m, n_trials=40, seed=0)
    assert set(lists) == {"English", "Urdu"}
    english, y = lists["English"]
    # imported items are referred to by id (their path is file#row)
    assert all(
        p.startswith("voices/p") and p.split("/")[2] == "English" for p in english.voice_paths
    )
    assert int(y.sum()) == 20


def test_empty_ids_are_refused(tmp_path: Path) -> None:
    p = _bad(tmp_path, features=np.zeros((3, 2)), ids=["a", "  ", "c"], identities=["p"] * 3)
    with pytest.raises(DataError, match=r"bad\.npz: row 1 has an empty id"):
        read_feature_file(p)


def test_cli_import_features(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vfbench.cli import main

    v, f, meta = write_npz_pair(tmp_path / "in", make_features(n_id=10, per=2))
    out = tmp_path / "imp"
    args = ["data", "import-features", "--voice", str(v), "--face", str(f), "--meta", str(meta),
            "--out", str(out), "--ratios", "0.6,0.2,0.2"]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "10 identities" in text and "dim 12" in text and "train.yaml" in text
    assert main(args) == 2  # already imported: one-line error, exit 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main([*args[:-2], "--ratios", "0.5,x"]) == 2
    assert "--ratios" in capsys.readouterr().err


def test_precomputed_encoder_passes_vectors_and_checks_width() -> None:
    from vfbench.errors import ConfigError
    from vfbench.models.encoders import create_encoder, input_kind, out_dim

    enc = create_encoder("precomputed", "face", dim=4)
    x = torch.randn(3, 4)
    assert torch.equal(enc(x), x) and out_dim(enc) == 4 and input_kind(enc) == "vector"
    assert not list(enc.parameters())
    with pytest.raises(
        DataError, match=r"expects \(B, 4\) vectors, got \(3, 5\).*face\.kwargs\.dim"
    ):
        enc(torch.randn(3, 5))
    with pytest.raises(ConfigError, match="needs kwargs.dim >= 1"):
        create_encoder("precomputed", "voice")
