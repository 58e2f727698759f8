"""A requirement as declared in a file, before a version is chosen for it."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement


@dataclass(frozen=True)
class DeclaredRequirement:
    """One dependency line of a requirements file or pyproject.toml."""

    text: str
    """The requirement as written (options such as ``--hash`` removed)."""
    path: str
    """The file that declares it."""
    line: int | None
    """1-based line in ``path`` (None when not known)."""
    requirement: Requirement | None
    """The parsed PEP 508 requirement; None when the line names no project."""
    problem: str | None = None
    """Why it cannot be audited (editable install, bare URL, bad syntax)."""


def declare(text: str, path: str, line: int | None) -> DeclaredRequirement:
    """Parse one PEP 508 requirement string, keeping a parse failure as ``problem``."""
    try:
        return DeclaredRequirement(text, path, line, Requirement(text))
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        return DeclaredRequirement(text, path, line, None, f"not a PEP 508 requirement: {reason}")
