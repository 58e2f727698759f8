"""Read dependencies from pyproject.toml: PEP 621, PEP 735 groups and Poetry tables.

Covers ``[project] dependencies`` and ``optional-dependencies``, ``[dependency-groups]``,
and Poetry's ``[tool.poetry.dependencies]``, ``dev-dependencies`` and
``group.<name>.dependencies``, whose constraints (``^1.2``, ``~1.2``, ``1.2.*``, a bare
``1.2.3`` meaning exactly that version) are translated to PEP 440 specifiers.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from mlward.core.errors import InputError
from mlward.supplychain.declared import DeclaredRequirement, declare

_OPERATORS = ("===", "==", "!=", "~=", ">=", "<=", ">", "<")


def _bump(release: tuple[int, ...], index: int) -> str:
    """The version that bumps ``release[index]`` and drops what follows (``1.2.3``, 0 → ``2``)."""
    return ".".join(str(n) for n in (*release[:index], release[index] + 1))


def poetry_specifier(constraint: str) -> str:
    """Translate a Poetry version constraint to a PEP 440 specifier (``""``: any version)."""
    if "||" in constraint:
        return ""  # alternatives have no PEP 440 form; the installed version decides
    specs = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", constraint.strip()):
        part = part.strip()
        if part in ("", "*"):
            continue
        if part.startswith(_OPERATORS):
            specs.append(part)
            continue
        base = part.lstrip("^~").strip()
        try:
            release = Version(base.removesuffix(".*")).release
        except InvalidVersion:
            raise ValueError(f"unsupported Poetry constraint {constraint!r}") from None
        if part.startswith("^"):
            nonzero = next((i for i, n in enumerate(release) if n), len(release) - 1)
            specs += [f">={base}", f"<{_bump(release, nonzero)}"]
        elif part.startswith("~"):
            specs += [f">={base}", f"<{_bump(release, min(1, len(release) - 1))}"]
        else:
            specs.append(f"=={base}")
    return ",".join(specs)


def _poetry_text(name: str, value: Any) -> tuple[str, str | None]:
    """Return ``(requirement text, problem)`` for one Poetry dependency entry."""
    if isinstance(value, list):
        # Several constraints for different markers: the first one speaks for all.
        value = value[0] if value else "*"
    if isinstance(value, str):
        value = {"version": value}
    if not isinstance(value, Mapping):
        return name, f"unsupported Poetry entry {value!r}"
    if "version" not in value and any(k in value for k in ("git", "path", "url")):
        return name, "a git, path or URL dependency: no released version to audit"
    try:
        spec = poetry_specifier(str(value.get("version", "*")))
    except ValueError as exc:
        return name, str(exc)
    extras = value.get("extras") or []
    text = name + (f"[{','.join(extras)}]" if extras else "") + spec
    if value.get("markers"):
        text += f"; {value['markers']}"
    return text, None


def _line_of(lines: list[str], needle: str) -> int | None:
    return next((n for n, line in enumerate(lines, start=1) if needle in line), None)


def _key_line(lines: list[str], key: str) -> int | None:
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    return next((n for n, line in enumerate(lines, start=1) if pattern.match(line)), None)


def _pep621_strings(data: Mapping[str, Any]) -> Iterator[str]:
    project = data.get("project") or {}
    yield from project.get("dependencies") or []
    for group in (project.get("optional-dependencies") or {}).values():
        yield from group or []
    for group in (data.get("dependency-groups") or {}).values():
        # {include-group = "..."} entries point at another group, listed anyway.
        yield from (item for item in group or [] if isinstance(item, str))


def _poetry_tables(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    poetry = (data.get("tool") or {}).get("poetry") or {}
    yield poetry.get("dependencies") or {}
    yield poetry.get("dev-dependencies") or {}
    for group in (poetry.get("group") or {}).values():
        yield (group or {}).get("dependencies") or {}


def parse_pyproject(path: Path) -> list[DeclaredRequirement]:
    """Return every dependency ``path`` declares (PEP 621, PEP 735 and Poetry tables)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise InputError(f"pyproject file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    lines = text.splitlines()
    declared = []
    try:
        for requirement in _pep621_strings(data):
            line = _line_of(lines, f'"{requirement}"') or _line_of(lines, f"'{requirement}'")
            declared.append(declare(str(requirement), str(path), line))
        for table in _poetry_tables(data):
            for name, value in table.items():
                if name.lower() == "python":
                    continue  # the interpreter constraint, not a package
                requirement, problem = _poetry_text(name, value)
                line = _key_line(lines, name)
                if problem:
                    item = DeclaredRequirement(requirement, str(path), line, None, problem)
                    declared.append(item)
                else:
                    declared.append(declare(requirement, str(path), line))
    except (AttributeError, TypeError) as exc:
        raise InputError(f"{path}: a dependency table has an unexpected shape ({exc})") from None
    return declared
