"""The exception tree. Every error the editor can cause is a DigestError whose str() is one line."""

from __future__ import annotations

from pathlib import Path


class DigestError(Exception):
    """Base class: carries its exit code so the CLI has one `except` path."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"error: {self.message}"


class UsageError(DigestError):
    """Bad command-line input (a malformed month, an unknown issue name): exit code 2."""

    exit_code = 2


class FileError(DigestError):
    """A problem with a whole file (it is missing, say): `FILE: error: message`."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(message)
        self.path = Path(path)

    def __str__(self) -> str:
        return f"{self.path}: error: {self.message}"

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.path, self.message))


class IssueError(DigestError):
    """A problem at a place in a file, rendered as `FILE:LINE:COL: error: message`."""

    def __init__(
        self,
        path: Path | str,
        line: int,
        column: int,
        message: str,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.line = line
        self.column = column
        self.rule = rule

    def __str__(self) -> str:
        suffix = f" [{self.rule}]" if self.rule else ""
        return f"{self.path}:{self.line}:{self.column}: error: {self.message}{suffix}"

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.path, self.line, self.column, self.message, self.rule))


class SettingsError(IssueError):
    """A wrong value in `[tool.digest]`."""


class StoreError(DigestError):
    """The metadata store lacks a paper or holds a broken record."""


class FetchError(DigestError):
    """arXiv (or the stand-in) could not answer, after the retries allowed."""

    def __init__(self, message: str, url: str = "", attempts: int = 0, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts
        self.status = status

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.message, self.url, self.attempts, self.status))


class InvalidArxivId(DigestError):
    """A string that is no arXiv identifier; raised before any request is made."""

    exit_code = 2

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r} is not an arXiv id: {reason}")
        self.text = text
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.text, self.reason))
