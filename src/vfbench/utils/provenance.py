"""What produced a result: package version, config, seed, inputs, machine, time."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from vfbench import __version__


@dataclass
class Provenance:
    """Recorded in every result file so a figure can be traced and reproduced."""

    vfbench_version: str = __version__
    python: str = field(default_factory=lambda: sys.version.split()[0])
    platform: str = field(default_factory=platform.platform)
    created_utc: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    )
    command: str = ""
    seed: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # name -> sha256 (or other content hash)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Provenance:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)
