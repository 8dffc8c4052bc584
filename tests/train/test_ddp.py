"""Two gloo processes on CPU give the same model as single-process training."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from vfbench.train.checkpoint import load_checkpoint

OVER = [
    "steps=12", "sampler.P=8", "head.dim=16", "head.scale=8", "val.every=0",
    "log.progress=false", "log.tensorboard=false", "threads=1", "checkpoint_every=12",
    "voice.kwargs.n_freq=16",
    "face.frozen=true",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from toy import toy_split
        from vfbench.methods import get_method
        from vfbench.train.config import load_train_config
        from vfbench.train.loop import train
        cfg = load_train_config(None, {OVER!r})
        trinet = get_method(cfg.method)
        tr, va = toy_split(32, 4), toy_split(16, 4, seed=1)
        if sys.argv[2] == "ddp":
            import torch.distributed as dist
            from vfbench.train.ddp import init_from_env
            info = init_from_env("cpu")
            train(cfg, sys.argv[1], trinet, data=tr, val_data=va, dist=info)
            dist.destroy_process_group()
        else:
            train(cfg, sys.argv[1], trinet, data=tr, val_data=va)
        """)
    )
    subprocess.run([sys.executable, script, tmp_path / "single", "single"], check=True)
    subprocess.run(
        [
            sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
            f"--master_port={_free_port()}", str(script), str(tmp_path / "ddp"), "ddp",
        ],
        check=True,
    )  # fmt: skip
    a = load_checkpoint(tmp_path / "single" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "ddp" / "last.pt")["model"]
    heads = [k for k in a if "_head." in k]
    assert heads
    for k in heads:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
    # and training moved them: the result is not just the shared initialisation
    init = load_checkpoint(tmp_path / "single" / "last.pt")["optimizer"]["state"]
    assert init  # Adam has state for the trained parameters
