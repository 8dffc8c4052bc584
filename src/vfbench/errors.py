"""One exception hierarchy for every error a user can cause.

Every message names the culprit (file, line/record, key) and, where possible, the fix.
The CLI prints ``VfbenchError`` as one line without a traceback (``--debug`` shows it).
"""

from __future__ import annotations

from pathlib import Path


class VfbenchError(Exception):
    """Base class of all errors vfbench raises on bad input or bad state."""


class ConfigError(VfbenchError):
    """A configuration file or override is invalid (unknown key, wrong type, bad value)."""


class ManifestError(VfbenchError):
    """A manifest or metadata file is malformed; the message names file and line."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(where + message)
        self.path = None if path is None else Path(path)
        self.line = line


class DataError(VfbenchError):
    """Media cannot be read or decoded, or a corpus tree has the wrong layout."""


class PathEscapeError(VfbenchError):
    """A path resolves outside the root it must stay in."""


class RegistryError(VfbenchError):
    """An unknown name was asked of a registry (encoder, loss, metric, detector ...)."""


class CheckpointError(VfbenchError):
    """A checkpoint or weights file is missing, corrupt or does not fit the model."""


class EvaluationError(VfbenchError):
    """Embeddings, trials or protocols are inconsistent."""
