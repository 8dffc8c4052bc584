"""The real-data path on real people (issue 15): packaged pretrained encoders on real
speech and real faces, and ``data prepare folder`` -> ``preprocess`` (dlib) -> ``train
configs/trinet_pretrained.yaml`` -> ``embed`` -> ``evaluate`` through the CLI, with the
packaged encoders rebuilt from their packages (never stored in the checkpoint)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _corpus import CLIPS, N_FACES, N_VOICES

from vfbench.cli import main
from vfbench.data.manifest import load_manifest
from vfbench.data.splits import all_test
from vfbench.evaluate.embeddings import Embeddings
from vfbench.methods import get_method
from vfbench.models.encoders import create_encoder, packaged_info
from vfbench.train.checkpoint import load_checkpoint
from vfbench.train.data import load_split
from vfbench.train.features import backbone_hash, extract_features


def pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (upper triangle) of same-identity and different-identity pairs."""
    same = labels[:, None] == labels[None]
    upper = np.triu(np.ones_like(same), 1).astype(bool)
    return same & upper, ~same & upper


@pytest.fixture(scope="module")
def everyone(real_corpus, tmp_path_factory):
    """The corpus with every identity in test (data.splits.all_test) as SplitData."""
    d = all_test(load_manifest(real_corpus.manifest)).save(tmp_path_factory.mktemp("all") / "m")
    return load_split(str(d), str(real_corpus.cache), "test", augment=False)


@pytest.fixture(scope="module")
def packaged_features(everyone) -> dict[str, np.ndarray]:
    """resemblyzer (voice) and dlib (face) features of every item, extracted once."""
    return {
        mod: extract_features(create_encoder(name, mod), everyone, mod, progress=False)
        for mod, name in (("voice", "resemblyzer"), ("face", "dlib_face"))
    }


def test_the_corpus_has_every_real_person_and_every_face_detected(real_corpus) -> None:
    m = load_manifest(real_corpus.manifest)
    assert sorted(i.id for i in m.identities) == sorted(CLIPS)
    assert len(m.voices) == N_VOICES * len(CLIPS) and len(m.faces) == N_FACES * len(CLIPS)
    from vfbench.preprocess.cache import FeatureCache

    cache = FeatureCache.open(real_corpus.cache)
    assert len(cache.ids("face")) == len(m.faces)  # dlib found a face in every real frame


def test_resemblyzer_separates_real_speakers(everyone, packaged_features) -> None:
    x = packaged_features["voice"]
    assert x.shape == (N_VOICES * len(CLIPS), 256)
    lab = np.asarray(everyone.identities)[everyone.voices.identity]
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = xn @ xn.T
    same, diff = pairs(lab)
    # measured: same-speaker cosine 0.79 vs different 0.42, AUC 0.97 (docs/real-data.md)
    assert cos[same].mean() - cos[diff].mean() > 0.25
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(np.r_[np.ones(same.sum()), np.zeros(diff.sum())],
                         np.r_[cos[same], cos[diff]]) > 0.9  # fmt: skip
    for who in np.unique(lab):  # every speaker is closer to themself than to the others
        me = lab == who
        assert (
            cos[np.ix_(me, me)][np.triu_indices(me.sum(), 1)].mean() > cos[np.ix_(me, ~me)].mean()
        )


def test_dlib_descriptors_of_one_person_are_closer_than_of_another(
    everyone, packaged_features
) -> None:
    x = packaged_features["face"]
    assert x.shape == (N_FACES * len(CLIPS), 128)
    lab = np.asarray(everyone.identities)[everyone.faces.identity]
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    same, diff = pairs(lab)
    # dlib's own same-person threshold is 0.6; measured: max same 0.34 < min other 0.45
    assert d[same].max() < 0.6 and d[same].max() < d[diff].min()


def test_packaged_encoders_are_keyed_by_package_not_by_load_order(everyone) -> None:
    for name, mod in (("resemblyzer", "voice"), ("dlib_face", "face")):
        enc = create_encoder(name, mod)
        before = backbone_hash(enc, name, {})
        extract_features(enc, everyone, mod, np.arange(1), progress=False)  # loads the net
        assert backbone_hash(enc, name, {}) == before
        assert enc.state_dict() == {} and not list(enc.parameters())  # never in a checkpoint
        info = packaged_info(enc)
        assert (
            info is not None and info["version"] != "unknown" and len(info["weights_sha256"]) == 64
        )


def test_train_embed_evaluate_with_resemblyzer_and_dlib(
    real_corpus, repo_dir, tmp_path, everyone, packaged_features
) -> None:
    run = tmp_path / "train"
    rc = main(["train", str(repo_dir / "configs" / "trinet_pretrained.yaml"), "--out", str(run),
               "--set", f"data.manifest={real_corpus.manifest}",
               "--set", f"data.cache={real_corpus.cache}", "--set", "steps=20",
               "--set", "val.every=0", "--set", "val.n_trials=500",
               "--set", "optim.milestones=[15]", "--set", "log.progress=false"])  # fmt: skip
    assert rc == 0
    ck = load_checkpoint(run / "best.pt")
    assert not [k for k in ck["model"] if "backbone" in k]  # packaged encoders never stored
    assert ck["encoders"]["voice"]["package"] == "resemblyzer"
    assert ck["encoders"]["face"]["package"] == "dlib"
    assert ck["config"]["sampler"]["P"] == 4  # 4 training people < P=16: shrink_P
    # all-test: every identity of the corpus scored by the trained model
    assert main(["data", "split", str(real_corpus.manifest), "--mode", "all-test",
                 "-o", str(tmp_path / "all")]) == 0  # fmt: skip
    assert main(["embed", str(run / "best.pt"), str(tmp_path / "all"), "--cache",
                 str(real_corpus.cache), "--out", str(tmp_path / "emb")]) == 0  # fmt: skip
    v = Embeddings.load(tmp_path / "emb" / "voices.npz")
    f = Embeddings.load(tmp_path / "emb" / "faces.npz")
    assert len(np.unique(v.identities)) == len(CLIPS) and v.vectors.shape[1] == 128
    # the embeddings are the trained heads applied to the packaged encoders' features
    from vfbench.train.embed import load_trained

    method, model, cfg, _ = load_trained(run / "best.pt", get_method)
    for emb, mod in ((v, "voice"), (f, "face")):
        pos = {x: k for k, x in enumerate(everyone.table(mod).ids)}
        feats = packaged_features[mod][[pos[x] for x in emb.ids]]
        with torch.no_grad():
            want = method.embed(model, mod, torch.from_numpy(feats), True).numpy()
        assert np.allclose(emb.vectors, want, atol=1e-4)
    norms = np.linalg.norm(f.vectors, axis=1)
    assert np.allclose(norms, cfg.head.scale, rtol=1e-3)  # FC -> L2 -> x scale (Sec. 4.2)
    assert main(["evaluate", "--voices", str(tmp_path / "emb" / "voices.npz"), "--faces",
                 str(tmp_path / "emb" / "faces.npz"), "--manifest", str(tmp_path / "all"),
                 "--out", str(tmp_path / "eval"), "--quick"]) == 0  # fmt: skip
    res = json.loads((tmp_path / "eval" / "results.json").read_text())
    rows = [m for m in res["metrics"] if m["task"] == "match" and m["direction"] == "v2f"
            and m["params"].get("n") == 2 and m["params"].get("constraint") == "U"
            and m["group"] == "all"]  # fmt: skip
    assert rows and rows[0]["n_identities"] == len(CLIPS) and 0.0 <= rows[0]["value"] <= 1.0


@pytest.mark.slow
def test_full_trinet_pretrained_config_on_real_media(real_corpus, repo_dir, tmp_path) -> None:
    """The shipped config as is (2000 steps): trains, keeps finite weights, and separates
    the people it trained on clearly better than chance."""
    run = tmp_path / "train"
    rc = main(["train", str(repo_dir / "configs" / "trinet_pretrained.yaml"), "--out", str(run),
               "--set", f"data.manifest={real_corpus.manifest}",
               "--set", f"data.cache={real_corpus.cache}", "--set", "log.progress=false"])  # fmt: skip
    assert rc == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2000 and summary["best_val_acc"] is not None
    assert main(["embed", str(run / "best.pt"), str(real_corpus.manifest), "--cache",
                 str(real_corpus.cache), "--split", "train", "--out", str(tmp_path / "e")]) == 0  # fmt: skip
    v = Embeddings.load(tmp_path / "e" / "voices.npz")
    f = Embeddings.load(tmp_path / "e" / "faces.npz")
    vm = {i: v.vectors[v.identities == i].mean(0) for i in np.unique(v.identities)}
    fm = {i: f.vectors[f.identities == i].mean(0) for i in np.unique(f.identities)}
    ids = sorted(vm)
    s = np.array([[vm[a] @ fm[b] for b in ids] for a in ids])
    assert (s.argmax(1) == np.arange(len(ids))).mean() >= 0.75  # training people: matched
