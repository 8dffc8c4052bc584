"""End to end on a tiny synthetic corpus: synth -> preprocess -> vfbench train -> vfbench embed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vfbench.cli import main
from vfbench.evaluate.embeddings import Embeddings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    assert main(["synth", "--out", str(root / "synth"), "--identities", "40",
                 "--faces-per-id", "2", "--voices-per-id", "2", "-q"]) == 0  # fmt: skip
    assert main(["preprocess", "run", str(root / "synth" / "manifest"), "--out",
                 str(root / "cache"), "--set", "face.detector=none", "-q"]) == 0  # fmt: skip
    return root


def test_train_quick_then_embed(corpus: Path, tmp_path: Path, repo_dir: Path) -> None:
    out = tmp_path / "run"
    rc = main([
        "train", str(repo_dir / "configs" / "trinet_cpu.yaml"), "--quick", "--out", str(out),
        "--set", f"data.manifest={corpus / 'synth' / 'manifest'}",
        "--set", f"data.cache={corpus / 'cache'}", "--set", "sampler.P=8",
        "--set", "log.progress=false", "--set", "pretrain.batch_size=16",
    ])  # fmt: skip
    assert rc == 0
    assert len(list((out / "pretrain").glob("voice_*.pt"))) == 1 and (out / "last.pt").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["provenance"]["config"]["name"] == "trinet_cpu"
    emb = tmp_path / "emb"
    rc = main(["embed", str(out / "last.pt"), str(corpus / "synth" / "manifest"),
               "--cache", str(corpus / "cache"), "--split", "test", "--out", str(emb)])  # fmt: skip
    assert rc == 0
    v, f = Embeddings.load(emb / "voices.npz"), Embeddings.load(emb / "faces.npz")
    assert v.modality == "voice" and f.modality == "face" and v.dim == f.dim == 128
    assert np.allclose(np.linalg.norm(v.vectors, axis=1), 128.0, rtol=1e-3)  # L2 x s
    assert len(set(v.identities)) == len(set(f.identities)) > 0
    assert v.meta["checkpoint_sha256"] and v.meta["split"] == "test"


def test_embed_rejects_a_non_checkpoint(corpus: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"garbage")
    rc = main(["embed", str(bad), str(corpus / "synth" / "manifest"), "--cache",
               str(corpus / "cache"), "--out", str(tmp_path / "e")])  # fmt: skip
    assert rc == 2
    assert "x.pt" in capsys.readouterr().err
