"""The only exceptions envdoctor lets escape its parsers.

Anything a user can type or a project can contain must end as one of these, never as a
traceback: the CLI turns them into one line each and exit code 2 (configuration) or into a
check's `error` status (a project file a check reads).
"""

from __future__ import annotations

from dataclasses import dataclass


class EnvdoctorError(Exception):
    """Base class of every error envdoctor raises on purpose."""


@dataclass(frozen=True)
class Source:
    """A place in a file, shown as `path:line` (line omitted when unknown)."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class ConfigError(EnvdoctorError):
    """One problem in a check module, a setting, or a value such as a duration.

    Parsers raise it without a source; the loader attaches the `file:line` it knows.
    """

    def __init__(self, message: str, source: Source | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def with_source(self, source: Source) -> ConfigError:
        return ConfigError(self.message, self.source or source)

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message


class ConfigErrors(EnvdoctorError):
    """Every configuration problem found in one load, so the user fixes them in one go."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class ProjectFileError(EnvdoctorError):
    """A project file a check reads (requirements, compose, .env) is unreadable or malformed.

    It becomes that check's `error`, and the rest of the run goes on.
    """

    def __init__(self, message: str, source: Source | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message
