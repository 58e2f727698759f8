"""Read pip requirements files: PEP 508 lines, ``-r`` includes, comments, hashes, markers.

Follows pip's file format closely enough for auditing: ``\\`` continues a line, ``#``
starts a comment at line start or after whitespace, ``-r``/``--requirement`` includes
another file relative to the including one, per-requirement options (``--hash``) are
dropped, and global options (``--index-url``, ``-c`` constraints) are ignored.
Editable installs and bare paths/URLs name no project version and are kept as
declarations with a ``problem``, so the audit reports them instead of losing them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mlward.core.errors import InputError
from mlward.supplychain.declared import DeclaredRequirement, declare

_COMMENT = re.compile(r"(^|\s+)#.*$")
_PER_REQUIREMENT_OPTION = re.compile(
    r"\s+--(?:hash|config-settings|global-option|install-option)(?:=|\s+)\S+"
)
_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:=|\s*)(?P<path>\S.*)$")
_NAMED_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*@")
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz")
_EDITABLE = re.compile(r"^(?:-e|--editable)(?:=|\s*)(?P<target>\S.*)$")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(first line number, line)`` after joining continuations and removing comments."""
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).rstrip()
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        joined = "".join(parts).strip()
        parts = []
        if joined:
            yield start, joined
    tail = "".join(parts).strip()
    if tail:
        yield start, tail


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"requirements file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read requirements file {path}: {exc}") from None


def _is_bare_location(text: str) -> bool:
    """True for lines that give an archive, folder or URL without a project name."""
    if _NAMED_URL.match(text):
        return False  # "name @ url" is a PEP 508 direct reference that names its project
    return text.startswith((".", "/", "~")) or "://" in text or text.endswith(_ARCHIVES)


def parse_requirements_file(path: Path, *, _stack: tuple[Path, ...] = ()) -> list[DeclaredRequirement]:
    """Return every requirement declared in ``path`` and the files it includes, in order."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _stack:
        chain = " -> ".join(str(p) for p in (*_stack, resolved))
        raise InputError(f"requirements files include each other in a loop: {chain}")
    declared: list[DeclaredRequirement] = []
    for number, line in _logical_lines(_read(path)):
        include = _INCLUDE.match(line)
        if include:
            target = path.parent / include.group("path").strip()
            declared.extend(parse_requirements_file(target, _stack=(*_stack, resolved)))
            continue
        editable = _EDITABLE.match(line)
        if editable:
            declared.append(
                DeclaredRequirement(
                    line, str(path), number, None, "editable install: no released version to audit"
                )
            )
            continue
        if line.startswith("-"):
            continue  # index URLs, constraints, --pre: they do not declare a project
        text = _PER_REQUIREMENT_OPTION.sub("", line).strip()
        if _is_bare_location(text):
            declared.append(
                DeclaredRequirement(text, str(path), number, None, "a path or URL without a project name")
            )
            continue
        declared.append(declare(text, str(path), number))
    return declared
