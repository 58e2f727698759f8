"""The mlward error hierarchy.

Every error a user can cause or meet is an ``MlwardError`` with a message that says
what went wrong, where, and how to fix it. The CLI maps each class to an exit code
(see ``exit_code``) and prints the message on one line, without a traceback.
"""

from __future__ import annotations

# Exit codes, as in DESIGN.md.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


class MlwardError(Exception):
    """Base class of every error mlward raises on purpose."""

    exit_code: int = EXIT_INCOMPLETE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(MlwardError):
    """mlward.yaml, a setting, an argument or the workspace is wrong."""

    exit_code = EXIT_USAGE


class WorkspaceNotFound(ConfigError):
    """No mlward workspace where one was expected."""


class NotFound(MlwardError):
    """A named thing (dataset, model, version, token, run) does not exist."""

    exit_code = EXIT_USAGE


class StoreError(MlwardError):
    """The metadata or object store could not complete an operation."""

    exit_code = EXIT_INCOMPLETE


class IntegrityError(MlwardError):
    """Stored bytes, a signature, a hash chain or an envelope does not verify."""

    exit_code = EXIT_FINDINGS


class KeyFileError(MlwardError):
    """A key file is missing, unreadable, or not safe to use."""

    exit_code = EXIT_USAGE


class PolicyViolation(MlwardError):
    """A gate or policy refused an action."""

    exit_code = EXIT_FINDINGS


class ScanError(MlwardError):
    """A scan could not be completed (the file is treated as unsafe)."""

    exit_code = EXIT_INCOMPLETE


class AccessDenied(MlwardError):
    """The principal lacks the permission for an action."""

    exit_code = EXIT_FINDINGS


class InputError(MlwardError):
    """A user-supplied file or value cannot be read or parsed."""

    exit_code = EXIT_INCOMPLETE


def exit_code(error: BaseException) -> int:
    """Return the CLI exit code for ``error``."""
    if isinstance(error, MlwardError):
        return error.exit_code
    return EXIT_INCOMPLETE
