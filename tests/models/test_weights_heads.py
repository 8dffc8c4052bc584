"""Safe weight loading (clear errors) and the TriNet head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vfbench.errors import CheckpointError
from vfbench.models.encoders import create_encoder
from vfbench.models.heads import TriNetHead
from vfbench.models.weights import load_weights


def test_weights_roundtrip_and_module_prefix(tmp_path: Path) -> None:
    a = create_encoder("small_cnn", "face")
    p = tmp_path / "w.pt"
    torch.save({"state_dict": {"module." + k: v for k, v in a.state_dict().items()}}, p)
    b = create_encoder("small_cnn", "face", weights=p)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])


def test_shape_mismatch_lists_keys(tmp_path: Path) -> None:
    p = tmp_path / "wide.pt"
    torch.save(create_encoder("small_cnn", "face", width=8).state_dict(), p)
    with pytest.raises(CheckpointError) as e:
        create_encoder("small_cnn", "face", weights=p)
    msg = str(e.value)
    assert str(p) in msg and "features.1.0.weight" in msg and "(8, 3, 5, 5)" in msg


def test_missing_unexpected_and_bad_files(tmp_path: Path) -> None:
    sd = create_encoder("small_cnn", "face").state_dict()
    sd.pop("features.3.1.bias")
    sd["extra.weight"] = torch.zeros(1)
    p = tmp_path / "partial.pt"
    torch.save(sd, p)
    with pytest.raises(
        CheckpointError, match=r"missing keys: features\.3\.1\.bias.*unexpected keys: extra\.weight"
    ):
        create_encoder("small_cnn", "face", weights=p)
    with pytest.raises(CheckpointError, match="not found"):
        load_weights(torch.nn.Linear(2, 2), tmp_path / "nope.pt")
    bad = tmp_path / "code.pt"
    torch.save({"x": Path("/etc")}, bad)  # an arbitrary object: refused by weights_only
    with pytest.raises(CheckpointError, match="code.pt"):
        load_weights(torch.nn.Linear(2, 2), bad)


def test_trinet_head_norm_and_switches() -> None:
    x = torch.randn(5, 16)
    h = TriNetHead(16, 8, fc=True, l2=True, scale=128.0)
    y = h(x)
    assert y.shape == (5, 8)
    assert torch.allclose(y.norm(dim=1), torch.full((5,), 128.0), atol=1e-3)
    z = x @ h.fc.weight.T + h.fc.bias  # type: ignore[operator]
    y_manual = 128.0 * z / z.norm(dim=1, keepdim=True)
    assert torch.allclose(y, y_manual, rtol=1e-4, atol=1e-3)
    no_l2 = TriNetHead(16, 8, l2=False, scale=1.0)
    assert not torch.allclose(no_l2(x).norm(dim=1), torch.ones(5))
    ident = TriNetHead(16, 8, fc=False, l2=True, scale=2.0)
    assert ident.out_dim == 16
    assert torch.allclose(ident(x), 2.0 * x / x.norm(dim=1, keepdim=True), atol=1e-5)


def test_centred_head_tracks_the_training_mean_and_centres_only_at_test_time() -> None:
    torch.manual_seed(0)
    plain = TriNetHead(16, 8, scale=4.0)
    h = TriNetHead(16, 8, scale=4.0, center=True, momentum=0.25)
    h.fc.load_state_dict(plain.fc.state_dict())
    assert "running_mean" not in plain.state_dict()  # old checkpoints keep their keys
    batches = [torch.randn(10, 16) + 3.0 for _ in range(3)]
    h.train()
    for b in batches:  # training output: exactly the uncentred head's
        assert torch.allclose(h(b), plain(b))
    # running mean: first batch sets it, later ones move it by the momentum
    ref = plain(batches[0]).mean(0)
    for b in batches[1:]:
        ref = 0.75 * ref + 0.25 * plain(b).mean(0)
    assert torch.allclose(h.running_mean, ref, atol=1e-6)
    assert int(h.num_batches_tracked) == 3
    h.eval()
    x = torch.randn(5, 16)
    want = torch.nn.functional.normalize(plain(x) - ref, dim=-1) * 4.0
    assert torch.allclose(h(x), want, atol=1e-5)
    assert torch.allclose(h(x).norm(dim=-1), torch.full((5,), 4.0), atol=1e-4)


def test_centring_removes_a_per_voice_hub_offset() -> None:
    # faces share a common direction u (their mean); each voice holds its own amount c_i
    # of u. Raw face->voice cosine then adds 2 c_i / |v_i| to every face's score for voice
    # i: a hub term independent of the face, so the voices with large c_i win for every
    # face. Centring the faces on their mean removes u from the query and with it the hub.
    torch.manual_seed(1)
    n, d = 40, 256
    ids = torch.nn.functional.normalize(torch.randn(n, d), dim=-1)
    u = torch.nn.functional.normalize(torch.randn(d), dim=0)
    faces = ids + 2.0 * u
    voices = ids + torch.linspace(-2.0, 2.0, n)[:, None] * u
    heads = []
    for x in (voices, faces):
        h = TriNetHead(d, d, fc=False, scale=1.0, center=True, momentum=1.0)
        h.train()
        raw = h(x)
        h.eval()
        heads.append((raw, h(x)))
    (v_raw, v_cen), (f_raw, f_cen) = heads
    top1 = {
        name: float(((f @ v.T).argmax(1) == torch.arange(n)).float().mean())  # face -> voice
        for name, v, f in (("raw", v_raw, f_raw), ("centred", v_cen, f_cen))
    }
    assert top1["raw"] < 0.5 and top1["centred"] == 1.0, top1
