"""The project's own error types: one line, naming the file (or object) and the problem."""

from __future__ import annotations


class PartKDError(Exception):
    """Base class of every error partkd raises on purpose; its message is one readable line."""


class LayoutError(PartKDError):
    """A skeleton layout is unknown or invalid."""


class DataError(PartKDError):
    """A dataset file or folder cannot be read or holds invalid data."""


class FlagHintError(DataError):
    """A DataError fixed by a command-line flag (--layout, --format); a caller reading the low-quality side renames
    the flag to its own (--low-layout) so that the message only names flags of the command that failed."""

    def __init__(self, source: object, template: str, flag: str) -> None:
        self.source, self.template, self.flag = source, template, flag
        super().__init__(where(source, template.format(flag=flag)))

    def for_low(self) -> FlagHintError:
        """The same error naming the low-quality twin of its flag (--layout -> --low-layout)."""
        return FlagHintError(self.source, self.template, "--low-" + self.flag.removeprefix("--"))


class CheckpointError(PartKDError):
    """A checkpoint is missing, unsafe, corrupt or does not match the data."""


class ConfigError(PartKDError):
    """A configuration value or file is invalid."""


class JobError(PartKDError):
    """A background job cannot be created, found or controlled."""


def where(path: object, problem: str) -> str:
    """Format the standard one-line message: '<path>: <problem>' (line breaks collapsed)."""
    return " ".join(f"{path}: {problem}".split())
