"""Human review decisions: ``DIR/review.json``, written atomically, read by export.

Format::

    {"schema_version": 1,
     "items": {"<face or voice id>": "accept" | "reject"},
     "identities": {"<identity>": "accept" | "reject"},
     "updated_utc": "..."}

An item or identity without an entry is undecided; export treats undecided as accepted
(the pipeline already kept it) and drops rejected ones.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfbench.errors import VfbenchError
from vfbench.utils.io import atomic_write_json

REVIEW_FILE = "review.json"
DECISIONS = ("accept", "reject")


@dataclass
class Decisions:
    items: dict[str, str] = field(default_factory=dict)
    identities: dict[str, str] = field(default_factory=dict)

    def item_rejected(self, item_id: str) -> bool:
        return self.items.get(item_id) == "reject"

    def identity_rejected(self, identity: str) -> bool:
        return self.identities.get(identity) == "reject"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "items": dict(sorted(self.items.items())),
            "identities": dict(sorted(self.identities.items())),
            "updated_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }


def load_decisions(collection_dir: str | Path) -> Decisions:
    """Read ``DIR/review.json`` (empty decisions when absent); bad content raises naming it."""
    p = Path(collection_dir) / REVIEW_FILE
    if not p.is_file():
        return Decisions()
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise VfbenchError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(d, dict):
        raise VfbenchError(f"{p}: top level must be an object")
    out = Decisions()
    for key, target in (("items", out.items), ("identities", out.identities)):
        block = d.get(key, {})
        if not isinstance(block, dict):
            raise VfbenchError(f"{p}: {key!r} must be an object")
        for k, v in block.items():
            if v not in DECISIONS:
                raise VfbenchError(f"{p}: {key}[{k!r}] = {v!r}; expected 'accept' or 'reject'")
            target[str(k)] = v
    return out


class DecisionStore:
    """Thread-safe read-modify-write of ``review.json`` (one lock per store)."""

    def __init__(self, collection_dir: str | Path) -> None:
        self.dir = Path(collection_dir)
        self._lock = threading.Lock()
        self.decisions = load_decisions(self.dir)

    def set(self, kind: str, key: str, decision: str | None) -> Decisions:
        """Record ``decision`` ("accept", "reject" or None = undecided) for an item or
        identity (``kind`` "item" / "identity") and save atomically."""
        if kind not in ("item", "identity"):
            raise VfbenchError(f"unknown decision kind {kind!r}; expected 'item' or 'identity'")
        if decision is not None and decision not in DECISIONS:
            raise VfbenchError(f"decision {decision!r} must be 'accept', 'reject' or null")
        with self._lock:
            table = self.decisions.items if kind == "item" else self.decisions.identities
            if decision is None:
                table.pop(key, None)
            else:
                table[key] = decision
            atomic_write_json(self.dir / REVIEW_FILE, self.decisions.to_dict())
            return self.decisions
