"""Validated configs: defaults in code < YAML file < ``--set key=value`` overrides.

A config schema is a (nested) dataclass. :func:`load_config` reads YAML, applies dotted
overrides (``train.lr=1e-3``; values parsed as YAML scalars), and builds the dataclass,
checking every key and type. An unknown key is an error that names it and lists the
known ones; so is a value of the wrong type.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from vfbench.errors import ConfigError

C = TypeVar("C")


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b=3"`` -> (["a", "b"], 3). The value is parsed as a YAML scalar/list."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key=value")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: value is not valid YAML ({exc})") from None
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a deep-copied ``data`` with each dotted override set."""

    out = copy.deepcopy(data)
    for item in overrides:
        keys, value = parse_override(item)
        node = out
        for k in keys[:-1]:
            nxt = node.get(k)
            if nxt is None:
                nxt = {}
                node[k] = nxt
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {item!r}: {k!r} is not a section")
            node = nxt
        node[keys[-1]] = value
    return out


def _dataclass_of(tp: Any) -> type | None:
    """The dataclass inside a type hint (``X``, ``X | None``), else None."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    if get_origin(tp) in (Union, types.UnionType):
        for a in get_args(tp):
            if dataclasses.is_dataclass(a) and isinstance(a, type):
                return a
    return None


def check_override_keys(schema: type, overrides: Iterable[str]) -> None:
    """Raise ConfigError blaming the ``--set`` option (not the YAML file) for an override
    whose key is not in ``schema``; lists the known keys of that section. Keys inside
    free-form mappings (``dict`` fields such as ``kwargs``) are not checked here."""
    for item in overrides:
        keys, _ = parse_override(item)
        node: Any = schema
        for depth, k in enumerate(keys):
            cls = _dataclass_of(node)
            if cls is None:
                break  # a free-form mapping: its keys are validated by whoever reads it
            hints = get_type_hints(cls)
            fields = [f.name for f in dataclasses.fields(cls) if f.init]
            if k not in fields:
                section = ".".join(keys[:depth])
                raise ConfigError(
                    f"--set {item}: unknown key {'.'.join(keys[: depth + 1])!r}; known keys"
                    f"{' in ' + section if section else ''}: {', '.join(sorted(fields))}"
                )
            node = hints[k]


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping, got {type(data).__name__}")
    return data


def load_config(
    schema: type[C], path: str | Path | None = None, overrides: Iterable[str] = ()
) -> C:
    """Build ``schema`` from an optional YAML file plus dotted overrides, validating all keys."""
    overrides = list(overrides)
    check_override_keys(schema, overrides)
    data = read_yaml(path) if path is not None else {}
    data = apply_overrides(data, overrides)
    where = str(path) if path is not None else "config"
    return from_dict(schema, data, where)


def from_dict(
    schema: type[C], data: Mapping[str, Any], where: str = "config", prefix: str = ""
) -> C:
    """Build dataclass ``schema`` from ``data``; unknown keys and bad types raise ConfigError.

    ``where`` names the source (a file path) in messages; ``prefix`` is the dotted key of
    ``data`` inside it (empty at top level).
    """
    if not dataclasses.is_dataclass(schema):
        raise TypeError(f"{schema} is not a dataclass")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{where}: {prefix or 'top level'}: expected a mapping, got {type(data).__name__}"
        )
    hints = get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {prefix + unknown[0]!r}; known keys"
            f"{' in ' + prefix.rstrip('.') if prefix else ''}: {', '.join(sorted(fields))}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, prefix + name, where)
    try:
        obj = schema(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {prefix or 'top level'}: {exc}") from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except (ValueError, AssertionError) as exc:
            raise ConfigError(
                f"{where}: {prefix.rstrip('.') + ': ' if prefix else ''}{exc}"
            ) from None
    return obj


def _coerce(tp: Any, value: Any, key: str, where: str = "config") -> Any:
    """Check/convert ``value`` against type hint ``tp``; ``key`` is its dotted name."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, key, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {key}: value {value!r} does not fit {tp}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{where}: {key}: {value!r} is not one of {list(allowed)}")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if value is None:
            return tp()
        return from_dict(tp, value, where, key + ".")
    if origin in (list, tuple, typing.Sequence):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: {key}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: {key}: expected {len(args)} items, got {len(value)}")
            return tuple(
                _coerce(a, v, f"{key}[{i}]", where)
                for i, (a, v) in enumerate(zip(args, value, strict=True))
            )
        inner = args[0] if args else Any
        items = [_coerce(inner, v, f"{key}[{i}]", where) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key}: expected a mapping, got {value!r}")
        kt, vt = get_args(tp) or (Any, Any)
        return {
            _coerce(kt, k, key, where): _coerce(vt, v, f"{key}.{k}", where)
            for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: {key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: {key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: {key}: expected a string, got {value!r}")
    if tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise ConfigError(f"{where}: {key}: expected a path, got {value!r}")
    return value


def to_dict(obj: Any) -> Any:
    """A config dataclass as plain YAML/JSON-able data (Paths become strings)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False)
