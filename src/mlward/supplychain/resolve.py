"""Choose the version to audit for each declared dependency.

A requirement pinned with ``==``/``===`` is audited at that version. Anything else (a
range, no specifier, a direct URL) is audited at the version installed in the given
environment when there is one, and otherwise reported as unresolved: auditing every
version a range allows would flag what is not deployed. Requirements whose environment
marker is false for the target interpreter are not dependencies there and are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mlward.supplychain.declared import DeclaredRequirement
from mlward.supplychain.environment import Environment
from mlward.supplychain.interface import Dependency
from mlward.supplychain.pyproject import parse_pyproject
from mlward.supplychain.requirements import parse_requirements_file


def pinned_version(requirement: Requirement) -> str | None:
    """The exact version of a ``==``/``===`` pin (no wildcard), else None."""
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def _applies(requirement: Requirement, environment: Environment | None) -> bool:
    """Evaluate the requirement's marker for the target interpreter (True when unsure)."""
    if requirement.marker is None:
        return True
    # Keys given here override packaging's defaults (this interpreter's values).
    markers: dict[str, str] = {"extra": "", **(environment.markers if environment else {})}
    try:
        return bool(requirement.marker.evaluate(markers))
    except (UndefinedComparison, UndefinedEnvironmentName):
        return True  # cannot tell: audit it rather than silently drop it


def resolve_declared(
    declared: Iterable[DeclaredRequirement], environment: Environment | None
) -> list[Dependency]:
    """Turn declarations into dependencies with a version (or a note saying why not)."""
    dependencies = []
    for item in declared:
        common: dict[str, Any] = {"path": item.path, "line": item.line, "requirement": item.text}
        req = item.requirement
        if req is None:
            dependencies.append(Dependency(name=item.text, version=None, note=item.problem, **common))
            continue
        if not _applies(req, environment):
            continue
        pinned = pinned_version(req)
        if pinned is not None:
            dependencies.append(Dependency(name=req.name, version=pinned, note="pinned", **common))
            continue
        installed = environment.get(str(canonicalize_name(req.name))) if environment else None
        if installed is None:
            note = "not pinned and not installed: no version to audit"
            dependencies.append(Dependency(name=req.name, version=None, note=note, **common))
            continue
        note = "installed"
        if req.specifier and not req.specifier.contains(installed.version, prereleases=True):
            note = f"installed, outside the declared range {req.specifier}"
        dependencies.append(Dependency(name=req.name, version=installed.version, note=note, **common))
    return dependencies


def environment_dependencies(environment: Environment) -> list[Dependency]:
    """Every installed distribution of ``environment`` as a dependency to audit."""
    return [
        Dependency(
            name=package.name,
            version=package.version,
            path=package.location or environment.python,
            note="installed",
        )
        for package in environment.packages
    ]


def collect_dependencies(
    *,
    requirements: Sequence[Path] = (),
    pyproject: Path | None = None,
    environment: Environment | None = None,
    include_environment: bool = False,
) -> list[Dependency]:
    """Gather dependencies from files and/or an environment, first declaration winning.

    ``environment`` resolves unpinned requirements; ``include_environment`` also audits
    every distribution installed in it.
    """
    declared: list[DeclaredRequirement] = []
    for path in requirements:
        declared.extend(parse_requirements_file(path))
    if pyproject is not None:
        declared.extend(parse_pyproject(pyproject))
    found = resolve_declared(declared, environment)
    if include_environment and environment is not None:
        found.extend(environment_dependencies(environment))
    unique: dict[tuple[str, str | None], Dependency] = {}
    for dependency in found:
        key: tuple[str, str | None]
        if dependency.version is None:
            # An unresolved line is identified by its text, not by a name it may lack.
            key = (dependency.requirement or dependency.name, None)
        else:
            key = (dependency.key, dependency.version)
        unique.setdefault(key, dependency)
    return list(unique.values())
