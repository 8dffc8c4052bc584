"""House style for ``--help`` pages, applied once to typer's renderer.

typer 0.29 prints a type tag beside every parameter (``<bool>`` even beside ``--help``,
``<path>``, ``<list[str]>``), writes required arguments as ``{config}`` in the usage line
and lays the help text out as rich ``Columns``, which cut a long unbroken token (a CSV
header, a path) with an ellipsis, and reads square brackets in help text as markup
(``identity[,gender]`` lost its bracket part). A well-kept CLI (git, pip, pytest) shows no type on
flags, upper-case metavars (``CONFIG``, ``PATH``, ``N``) and never truncates. These
patches change presentation only: parsing is untouched.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import typing
from types import ModuleType
from typing import Any

from typer import core as _core

# typer imports its rich renderer (``typer.rich_utils``, with rich's markdown and columns:
# ~0.05 s) only to print help or an error; so do these patches (:func:`install`)
_RICH_UTILS = "typer.rich_utils"
_orig: dict[str, Any] = {}

_TYPE_WORDS = {"int": "N", "float": "X", "str": "TEXT", "bool": "BOOL"}


def _metavar(param: Any) -> str | None:
    """Metavar of an option's value: None for flags, else an upper-case word."""
    if getattr(param, "is_flag", False) or getattr(param, "is_bool_flag", False):
        return None
    if param.metavar is not None:
        return str(param.metavar)
    if "--set" in param.opts:
        return "KEY=VALUE"
    desc = param.type_descriptor
    if desc.is_choice:
        choices = [str(getattr(c, "value", c)) for c in desc.choices or ()]
        word = "[" + "|".join(choices) + "]"
    elif desc.is_path:
        word = "DIR" if str(desc.path_type).lower().startswith("dir") else "PATH"
    else:
        ann = desc.annotation
        if typing.get_origin(ann) is list:
            (ann,) = typing.get_args(ann)
        name = getattr(ann, "__name__", str(ann))
        word = _TYPE_WORDS.get(name, name.upper())
    return word  # repeatable options say so in their help


def _option_type(self: Any, ctx: Any) -> str | None:
    return _metavar(self)


def _argument_name(self: Any) -> str:
    return str(self.metavar) if self.metavar is not None else str(self.name).upper()


def _argument_type(self: Any, ctx: Any) -> str | None:
    return None  # the upper-case name already says what it is


def _usage_name(self: Any) -> str:
    name = _argument_name(self)
    if not self.required:
        name = f"[{name}]"
    if self.nargs != 1:
        name += "..."
    return name


def _rich_text(*, text: str, style: str = "", markup_mode: Any) -> Any:
    # Our help strings are plain text: "identity[,gender]" or "'id identity [language]'"
    # must print as written, not be eaten as rich markup tags.
    from rich.markup import escape

    return _orig["rich_text"](text=escape(text), style=style, markup_mode=markup_mode)


def _default_string(obj: Any, **kwargs: Any) -> str:
    # typer wraps a textual default in parentheses ("[default: (runs/<name>)]"); a value
    # default has none: write both the same way.
    if kwargs.get("show_default_is_str"):
        return str(obj.show_default)
    return str(_orig["default_string"](obj, **kwargs))


def _param_help(**kwargs: Any) -> Any:
    from rich.columns import Columns
    from rich.text import Text

    out = _orig["param_help"](**kwargs)
    if isinstance(out, Columns):
        # One text that folds long tokens instead of cutting them with an ellipsis.
        text = Text(overflow="fold")
        for i, part in enumerate(out.renderables):
            if i:
                text.append(" ")
            text.append(part if isinstance(part, Text) else Text(str(part)))
        return text
    return out


def _patch_rich_utils(ru: ModuleType) -> None:
    if getattr(ru, "_vfbench_help", False):
        return
    _orig["param_help"] = ru._get_parameter_help
    _orig["rich_text"] = ru._make_rich_text
    ru._get_parameter_help = _param_help  # type: ignore[attr-defined]
    ru._make_rich_text = _rich_text  # type: ignore[attr-defined]
    ru._vfbench_help = True  # type: ignore[attr-defined]


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches ``typer.rich_utils`` right after typer first imports it (one shot)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != _RICH_UTILS:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec  # unusual layout: typer's own renderer, unpatched
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _patch_rich_utils(module)

        loader.exec_module = exec_module
        return spec


def install() -> None:
    """Apply the house style (idempotent); the renderer's part when typer loads it."""
    if not getattr(_core, "_vfbench_help", False):
        _core.TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]
        _core.TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign]
        _core.TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[assignment,method-assign]
        _core.TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
        _orig["default_string"] = _core._get_default_string
        _core._get_default_string = _default_string
        _core._vfbench_help = True  # type: ignore[attr-defined]
    ru = sys.modules.get(_RICH_UTILS)
    if ru is not None:
        _patch_rich_utils(ru)
    elif not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
