"""Method registry ``METHODS``: what distinguishes one voice-face method from another.

A method = which heads it puts on the backbones, which objective it optimises, how it
samples batches, which parameters train at which learning rate, and how it turns inputs
into voice/face embeddings (plus, optionally, a pairwise scorer). The training loop,
checkpointing, validation, feature mode, DDP and ``vfbench embed`` are shared (``train``;
they take a method object, see :mod:`vfbench.train.protocol`): a new method is one file in
``vfbench/methods/`` subclassing :class:`vfbench.methods.base.Method` (overriding only
what differs) plus one line in :data:`METHOD_MODULES`.
"""

from __future__ import annotations

import importlib

from vfbench.methods.base import Method
from vfbench.registry import Registry

METHODS: Registry[type[Method]] = Registry("method")

# Modules holding the methods (each registers into METHODS when imported). Add one line
# per new method file; loaded on the first lookup, so `import vfbench.methods` stays light.
METHOD_MODULES: tuple[str, ...] = (
    "vfbench.methods.trinet",
    "vfbench.methods.svhf",
    "vfbench.methods.dimnet",
    "vfbench.methods.pins",
    "vfbench.methods.kim",
    "vfbench.methods.horiguchi",
    "vfbench.methods.fop",
    "vfbench.methods.cmpc",
    "vfbench.methods.ssnet",
    "vfbench.methods.fv_cme",
    "vfbench.methods.lafv",
    "vfbench.methods.self_lifting",
    "vfbench.methods.cae",
    "vfbench.methods.barlow_twins",
)

_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        for m in METHOD_MODULES:
            importlib.import_module(m)
        _loaded = True


def get_method(name: str) -> Method:
    """Instantiate the method registered as ``name`` (an unknown name is a ConfigError
    listing the registered ones)."""
    _load()
    method: Method = METHODS.build(name)
    return method


def method_names() -> list[str]:
    """Names of every registered method."""
    _load()
    return METHODS.names()
