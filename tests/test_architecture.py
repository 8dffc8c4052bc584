"""The import graph of ``src/vfbench`` runs one way (``../shared/STYLE.md``, issue 19.1).

Every ``import``/``from ... import`` of a ``vfbench`` module anywhere in a file (module
level or inside a function) is an arrow from the importing package to the imported one.
Each package lists the packages it may import; an arrow outside the list fails the test
and names the file, the line and the import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "vfbench"

# importable from everywhere: the package root (version, errors), configs, registries, utils
FOUNDATION = {"", "errors", "config", "registry", "utils"}

# package -> the (sub)modules it may import besides FOUNDATION and itself; a dotted entry
# allows that module only (train may use evaluate's quick validation, nothing else of it)
ALLOWED: dict[str, set[str]] = {
    "utils": set(),
    "config": set(),
    "errors": set(),
    "registry": set(),
    "data": set(),
    "models": set(),
    "preprocess": {"data"},
    "evaluate": {"data"},
    "train": {"models", "data", "preprocess", "evaluate.quick", "evaluate.embeddings"},
    "methods": {"train", "models", "data", "preprocess"},
    "report": {"evaluate", "data"},
    "collect": {"data", "preprocess"},
    "experiments": {
        "data",
        "preprocess",
        "models",
        "train",
        "methods",
        "evaluate",
        "report",
    },  # fmt: skip
    "demo": {"experiments"},  # the old import path of the demo (re-exports)
    "cli": {"*"},
    "__main__": {"cli"},
}


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, src: Path = SRC) -> list[tuple[int, str]]:
    """(line, absolute vfbench module) of every import in ``path`` (relative ones resolved)."""
    mod = _module_name(path, src)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            # `from vfbench.evaluate import quick` imports the module vfbench.evaluate.quick
            subs = [f"{name}.{a.name}" for a in node.names]
            out += [(node.lineno, s if _is_module(s, src) else name) for s in subs]
    return [(line, n) for line, n in out if n == "vfbench" or n.startswith("vfbench.")]


def _is_module(dotted: str, src: Path = SRC) -> bool:
    p = src.joinpath(*dotted.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _allowed(src_pkg: str, target: str) -> bool:
    tgt_pkg = _package(target)
    if tgt_pkg in FOUNDATION or tgt_pkg == src_pkg:
        return True
    rules = ALLOWED[src_pkg]
    if "*" in rules or tgt_pkg in rules:
        return True
    rest = target.split(".", 1)[1]  # "evaluate.quick" / "evaluate.quick.x"
    return any(rest == r or rest.startswith(r + ".") for r in rules if "." in r)


def violations() -> list[str]:
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if path == PKG / "__init__.py":
            continue  # the package root: checked by the lazy-import test below
        src_pkg = path.stem if path.parent == PKG else _package(_module_name(path))
        assert src_pkg in ALLOWED, f"{path}: new package {src_pkg!r}: add it to ALLOWED"
        for line, target in _imports(path):
            if not _allowed(src_pkg, target):
                bad.append(f"{path.relative_to(SRC)}:{line}: {src_pkg} -> {target}")
    return bad


def test_every_arrow_runs_downwards() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    "pkg, target",
    [
        ("train", "vfbench.methods"),
        ("train", "vfbench.experiments.demo"),
        ("train", "vfbench.report.render"),
        ("train", "vfbench.cli"),
        ("train", "vfbench.evaluate.api"),  # only the quick validation of evaluate
        ("evaluate", "vfbench.models.encoders"),
        ("evaluate", "vfbench.train.loop"),
        ("data", "vfbench.models"),
        ("data", "vfbench.train.data"),
        ("data", "vfbench.evaluate.trials"),
        ("methods", "vfbench.experiments.benchmark"),
        ("report", "vfbench.experiments.stages"),
        ("experiments", "vfbench.cli.demo"),
        ("models", "vfbench.train"),
    ],
)
def test_rules_catch_a_wrong_arrow(pkg: str, target: str) -> None:
    assert not _allowed(pkg, target)


@pytest.mark.parametrize(
    "pkg, target",
    [
        ("train", "vfbench.evaluate.quick"),
        ("train", "vfbench.models.voiceface"),
        ("methods", "vfbench.train.protocol"),
        ("experiments", "vfbench.report.compare"),
        ("cli", "vfbench.experiments.demo"),
    ],
)
def test_rules_allow_the_intended_arrows(pkg: str, target: str) -> None:
    assert _allowed(pkg, target)


def test_scanner_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The scanner itself: imports inside functions, relative ones and ``from pkg import
    module`` are arrows too (to the module, not just the package)."""
    pkg = tmp_path / "vfbench"
    for d in (pkg / "train", pkg / "methods", pkg / "evaluate"):
        d.mkdir(parents=True)
        (d / "__init__.py").write_text("")
    (pkg / "methods" / "registry.py").write_text("")
    (pkg / "evaluate" / "quick.py").write_text("")
    f = pkg / "train" / "x.py"
    f.write_text(
        "import numpy\n"
        "from vfbench.evaluate import quick\n"
        "def f():\n"
        "    from ..methods import registry\n"
        "    from . import y\n"
        "    import vfbench.report.render\n"
    )
    got = _imports(f, tmp_path)
    assert got == [
        (2, "vfbench.evaluate.quick"),
        (4, "vfbench.methods.registry"),
        (5, "vfbench.train"),
        (6, "vfbench.report.render"),
    ]


def test_import_vfbench_pulls_no_heavy_dependency() -> None:
    """``import vfbench`` (and the light experiments package) stays cheap."""
    code = (
        "import sys, vfbench, vfbench.experiments; "
        "heavy = [m for m in ('torch', 'matplotlib', 'dlib', 'resemblyzer') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()
    )
    assert out.stdout.strip() == ""


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env
