"""Shared helpers for the method tests (tiny in-memory data; see methods_toy.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
