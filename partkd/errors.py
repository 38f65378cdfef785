"""The project's own error types: one line, naming the file (or object) and the problem."""
from __future__ import annotations


class PartKDError(Exception):
    """Base class of every error partkd raises on purpose; its message is one readable line."""


class LayoutError(PartKDError):
    """A skeleton layout is unknown or invalid."""


class DataError(PartKDError):
    """A dataset file or folder cannot be read or holds invalid data."""


class CheckpointError(PartKDError):
    """A checkpoint is missing, unsafe, corrupt or does not match the data."""


class ConfigError(PartKDError):
    """A configuration value or file is invalid."""


class JobError(PartKDError):
    """A background job cannot be created, found or controlled."""


def where(path: object, problem: str) -> str:
    """Format the standard one-line message: '<path>: <problem>' (line breaks collapsed)."""
    return " ".join(f"{path}: {problem}".split())
