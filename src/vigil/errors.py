"""The exception tree of vigil. The CLI is the only place these become exit codes.

    VigilError
    ├── UsageError        a command line that cannot work (exit 2)
    ├── ConfigError       vigil.yaml or a mapping is invalid (exit 78), located file:line
    ├── SourceError       an input cannot be read: missing, binary, unreadable (exit 65/1)
    ├── InputDataError    the input was read but nothing in it could be used (exit 65)
    ├── StorageError      the state directory or database cannot be used (exit 1)
    ├── ResponderError    a responder's backend failed or cannot be reached (exit 69)
    └── TargetRefused     an action's target is invalid or protected (exit 65)

Per-line problems are never exceptions: a line that does not parse becomes a reject
with its file, line number and reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    DATA_ERROR = 65
    UNAVAILABLE = 69
    CONFIG = 78
    INTERRUPTED = 130


@dataclass(frozen=True)
class Location:
    """Where in a file a problem is (1-based line and column)."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class VigilError(Exception):
    """Root of every error vigil reports to its user."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.message} (at {self.location})"


class UsageError(VigilError):
    exit_code = ExitCode.USAGE


class ConfigError(VigilError):
    exit_code = ExitCode.CONFIG


class SourceError(VigilError):
    exit_code = ExitCode.DATA_ERROR


class InputDataError(VigilError):
    exit_code = ExitCode.DATA_ERROR


class StorageError(VigilError):
    exit_code = ExitCode.FAILURE


class ResponderError(VigilError):
    """`final`: trying again cannot help (a refused host key) or the responder already
    retried on its own (SSH connections, webhooks), so the executor must not retry."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(
        self, message: str, location: Location | None = None, *, final: bool = False
    ) -> None:
        super().__init__(message, location)
        self.final = final


class TargetRefused(VigilError):
    """Raised before anything runs: the target is not a valid address/user, is wider than
    allowed, or is protected by the allowlist."""

    exit_code = ExitCode.DATA_ERROR
