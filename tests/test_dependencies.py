"""Declared = imported (issue 19.5): ``pyproject.toml`` lists exactly the third-party
packages ``src/vfbench`` imports (optional extras for optional features), nothing arrives
by accident through another package, and nothing is declared that no code imports."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "vfbench"

# distribution name (normalised) -> the top-level module(s) it provides, where they differ
IMPORT_NAMES: dict[str, set[str]] = {
    "pillow": {"PIL"},
    "pyyaml": {"yaml"},
    "dlib-bin": {"dlib"},
    "scikit-learn": {"sklearn"},
    "face-recognition-models": {"face_recognition_models"},
    "yt-dlp": {"yt_dlp"},
    "faiss-cpu": {"faiss"},
}

# declared although no module of ours imports them, each with the reason
NOT_IMPORTED_ON_PURPOSE: dict[str, str] = {
    "setuptools": "face_recognition_models imports pkg_resources (gone from setuptools 81)",
}


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _dist_name(requirement: str) -> str:
    return _normalise(re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0])


def declared() -> dict[str, set[str]]:
    """Dependency group ("" = required, else the extra's name) -> normalised dist names."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    out = {"": {_dist_name(r) for r in project["dependencies"]}}
    for extra, reqs in project.get("optional-dependencies", {}).items():
        out[extra] = {_dist_name(r) for r in reqs}
    return out


def imported(root: Path = SRC) -> dict[str, list[str]]:
    """Third-party top-level module -> files importing it (module level or in functions)."""
    out: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "vfbench":
                    out.setdefault(top, []).append(str(path.relative_to(root.parent)))
    return out


def module_names(dist: str) -> set[str]:
    return IMPORT_NAMES.get(dist, {dist.replace("-", "_")})


def test_every_imported_package_is_declared() -> None:
    provided = {m for group in declared().values() for d in group for m in module_names(d)}
    missing = {m: files[0] for m, files in imported().items() if m not in provided}
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"


def test_every_required_dependency_is_imported() -> None:
    used = set(imported())
    unused = sorted(
        d
        for d in declared()[""]
        if d not in NOT_IMPORTED_ON_PURPOSE and not (module_names(d) & used)
    )
    assert unused == [], f"declared in pyproject.toml but never imported: {unused}"


def test_optional_extras_are_imported_by_the_library() -> None:
    """Extras other than dev tooling name packages the library imports (yt-dlp)."""
    used = set(imported())
    for extra, dists in declared().items():
        if extra in ("", "dev"):
            continue
        assert all(module_names(d) & used for d in dists), extra


def test_known_facts_of_the_scan() -> None:
    """The scanner sees function-level imports (numba is only imported inside a function)
    and maps distribution names to modules."""
    found = imported()
    assert "vfbench/evaluate/_kernels.py" in found["numba"]
    assert "vfbench/evaluate/_kernels.py" in found["faiss"]  # declared as faiss-cpu
    assert module_names("faiss-cpu") == {"faiss"}
    assert _dist_name("dlib-bin>=19.24") == "dlib-bin" and module_names("dlib-bin") == {"dlib"}
    assert _dist_name("Pillow>=10") == "pillow" and module_names("pillow") == {"PIL"}
    assert _dist_name("face_recognition_models==0.3.0") == "face-recognition-models"


@pytest.mark.parametrize(
    "source, expect",
    [
        ("import torch.nn as nn\n", {"torch"}),
        ("def f():\n    from scipy import stats\n", {"scipy"}),
        ("import os, json\nfrom . import x\nfrom vfbench import errors\n", set()),
    ],
)
def test_scanner_on_small_files(tmp_path: Path, source: str, expect: set[str]) -> None:
    pkg = tmp_path / "vfbench"
    pkg.mkdir()
    (pkg / "m.py").write_text(source)
    assert set(imported(pkg)) == expect
