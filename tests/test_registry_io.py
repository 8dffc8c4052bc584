import os
from pathlib import Path

import numpy as np
import pytest

from vfbench.errors import PathEscapeError, RegistryError
from vfbench.registry import Registry
from vfbench.utils.io import (
    atomic_save_npz,
    atomic_write,
    atomic_write_text,
    resolve_under,
    stable_hash,
)


def test_registry_build_and_errors() -> None:
    reg: Registry = Registry("widget")

    @reg.register("double")
    def double(x: int = 1) -> int:
        return 2 * x

    assert reg.build("double", x=4) == 8
    assert "double" in reg and reg.names() == ["double"]
    with pytest.raises(RegistryError, match="unknown widget 'triple'; known: double"):
        reg.get("triple")
    with pytest.raises(RegistryError, match="registered twice"):
        reg.register("double")(double)


def test_atomic_write_keeps_old_file_on_error(tmp_path: Path) -> None:
    p = tmp_path / "out.txt"
    atomic_write_text(p, "old")
    with pytest.raises(RuntimeError), atomic_write(p) as fh:
        fh.write("partial")
        raise RuntimeError("crash mid-write")
    assert p.read_text() == "old"
    assert [f for f in os.listdir(tmp_path) if f != "out.txt"] == []  # no temp left behind


def test_atomic_npz_roundtrip(tmp_path: Path) -> None:
    p = tmp_path / "a.npz"
    atomic_save_npz(p, x=np.arange(3))
    assert np.load(p)["x"].tolist() == [0, 1, 2]


def test_resolve_under_refuses_escape(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert resolve_under(tmp_path, "a/b.wav") == (tmp_path / "a" / "b.wav").resolve()
    with pytest.raises(PathEscapeError, match="escapes its root"):
        resolve_under(tmp_path / "a", "../x.wav")
    with pytest.raises(PathEscapeError, match="is absolute"):
        resolve_under(tmp_path, "/etc/passwd")


def test_stable_hash_is_order_free() -> None:
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
