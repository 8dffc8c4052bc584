"""Encoders: output shapes, parameter counts against published sizes, forward/backward."""

from __future__ import annotations

import pytest
import torch

from vfbench.errors import ConfigError, RegistryError
from vfbench.models.encoders import create_encoder, encoder_names, input_kind, out_dim

torch.set_num_threads(1)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# name, modality, input shape (tiny where the architecture allows), out_dim
CASES = [
    ("small_cnn", "face", (2, 3, 112, 112), 512),
    ("small_cnn", "voice", (2, 1, 257, 250), 256),
    ("resnet50", "face", (2, 3, 32, 32), 2048),
    ("se_resnet50", "face", (2, 3, 32, 32), 2048),
    pytest.param("iresnet50", "face", (2, 3, 112, 112), 512, marks=pytest.mark.slow),
    ("vgg_m", "face", (2, 3, 112, 112), 1024),
    ("vgg_m", "voice", (2, 1, 257, 120), 1024),
    ("thin_resnet34", "voice", (2, 1, 257, 16), 512),
    ("dimnet_cnn1d", "voice", (2, 1, 257, 40), 512),
]


@pytest.mark.parametrize(("name", "modality", "shape", "dim"), CASES)
def test_forward_backward_shapes(name: str, modality: str, shape: tuple, dim: int) -> None:
    torch.manual_seed(0)
    enc = create_encoder(name, modality)
    assert out_dim(enc) == dim
    assert input_kind(enc) == ("image" if modality == "face" else "spectrogram")
    x = torch.randn(*shape)
    y = enc(x)
    assert y.shape == (shape[0], dim)
    assert torch.isfinite(y).all()
    y.pow(2).mean().backward()
    grads = [p.grad for p in enc.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0


def test_parameter_counts_match_published() -> None:
    # torchvision resnet50: 25,557,032 incl. the 2048x1000 (+bias) ImageNet classifier
    assert n_params(create_encoder("resnet50", "face")) == 25_557_032 - (2048 * 1000 + 1000)
    # Cadene's se_resnet50: 28,088,024 incl. the same classifier
    assert n_params(create_encoder("se_resnet50", "face")) == 28_088_024 - (2048 * 1000 + 1000)
    # insightface iresnet50 (LResNet50E-IR, 512-d): 43.59 M
    assert abs(n_params(create_encoder("iresnet50", "face")) - 43.59e6) < 0.01e6


def test_iresnet50_eval_forward_shape() -> None:
    enc = create_encoder("iresnet50", "face").eval()
    with torch.no_grad():
        assert enc(torch.randn(1, 3, 112, 112)).shape == (1, 512)


def test_small_cnn_is_cpu_sized_and_thin_resnet_vlad_variants() -> None:
    assert n_params(create_encoder("small_cnn", "face")) < 200_000
    # the face CNN's layout grid: 8*width*grid^2 features
    assert out_dim(create_encoder("small_cnn", "face", width=8, grid=1)) == 64
    assert out_dim(create_encoder("small_cnn", "face", grid=3)) == 128 * 9
    a = create_encoder("thin_resnet34", "voice", aggregation="netvlad")
    b = create_encoder("thin_resnet34", "voice", aggregation="ghostvlad")
    # GhostVLAD adds 2 ghost clusters to the soft-assignment (bottleneck 512 -> 2 x 513)
    assert n_params(b) - n_params(a) == 2 * (512 + 1)
    # the VLAD output of a clip does not depend on its length (aggregation over time)
    a.eval()
    with torch.no_grad():
        assert a(torch.randn(1, 1, 257, 24)).shape == a(torch.randn(1, 1, 257, 48)).shape


def test_registry_lists_all_and_rejects_bad_names() -> None:
    names = set(encoder_names())
    assert {
        "iresnet50", "resnet50", "se_resnet50", "vgg_m", "small_cnn", "thin_resnet34",
        "dimnet_cnn1d", "resemblyzer", "dlib_face",
    } <= names  # fmt: skip
    with pytest.raises(RegistryError, match="nope"):
        create_encoder("nope", "face")
    with pytest.raises(ConfigError, match="thin_resnet34.*face"):
        create_encoder("thin_resnet34", "face")
    with pytest.raises(ConfigError, match="modality"):
        create_encoder("small_cnn", "smell")


@pytest.mark.slow
def test_resemblyzer_and_dlib_offline_backbones() -> None:
    import numpy as np

    v = create_encoder("resemblyzer", "voice")
    assert input_kind(v) == "waveform" and out_dim(v) == 256
    rng = np.random.default_rng(0)
    e = v.embed_items([rng.normal(size=32000).astype(np.float32) * 0.1])  # type: ignore[operator]
    assert e.shape == (1, 256)
    assert abs(float(e.norm()) - 1.0) < 1e-3  # GE2E embeddings are L2-normalised
    f = create_encoder("dlib_face", "face")
    chip = rng.integers(0, 255, size=(150, 150, 3), dtype=np.uint8)
    d = f.embed_items([chip, chip])  # type: ignore[operator]
    assert d.shape == (2, 128)
    assert torch.allclose(d[0], d[1])
