"""Installed Python distributions: of this interpreter, of given paths, or of another Python.

Another interpreter (``--python .venv/bin/python``) is asked to run mlward's
standard-library-only probe and print JSON, so it needs neither mlward nor ``packaging``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from mlward.core.errors import InputError
from mlward.supplychain import _probe


@dataclass(frozen=True)
class InstalledPackage:
    """One installed distribution and its declared metadata."""

    name: str
    """Project name as its metadata spells it."""
    version: str
    """Installed version (not necessarily valid PEP 440)."""
    summary: str | None = None
    """One-line description from the metadata."""
    license: str | None = None
    """The free-text ``License`` field."""
    license_expression: str | None = None
    """The PEP 639 ``License-Expression`` field (an SPDX expression)."""
    classifiers: tuple[str, ...] = ()
    """The ``License ::`` trove classifiers."""
    location: str | None = None
    """The ``.dist-info`` / ``.egg-info`` folder."""

    @property
    def key(self) -> str:
        """The PEP 503 normalised name."""
        return str(canonicalize_name(self.name))


@dataclass(frozen=True)
class Environment:
    """The distributions visible to one interpreter."""

    python: str
    """Path of the interpreter (``sys.executable``)."""
    python_version: str
    """Its version, like ``3.11.9``."""
    markers: Mapping[str, str] = field(default_factory=dict)
    """Its PEP 508 marker variables, to evaluate requirement markers against it."""
    packages: tuple[InstalledPackage, ...] = ()
    """Installed distributions, sorted by normalised name."""

    def get(self, key: str) -> InstalledPackage | None:
        """Return the installed distribution with normalised name ``key``, if any."""
        for package in self.packages:
            if package.key == key:
                return package
        return None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value.strip() else None


def environment_from_probe(data: Any) -> Environment:
    """Build an ``Environment`` from the probe's JSON; raise ``InputError`` when malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("packages"), list):
        raise InputError("the interpreter's package listing has an unexpected shape")
    packages = []
    for item in data["packages"]:
        if not isinstance(item, dict) or not _text(item.get("name")):
            continue
        packages.append(
            InstalledPackage(
                name=str(item["name"]),
                version=str(item.get("version") or ""),
                summary=_text(item.get("summary")),
                license=_text(item.get("license")),
                license_expression=_text(item.get("license_expression")),
                classifiers=tuple(str(c) for c in item.get("classifiers") or []),
                location=_text(item.get("location")),
            )
        )
    markers = data.get("markers")
    if not isinstance(markers, dict):
        markers = {}
    return Environment(
        python=str(data.get("python") or ""),
        python_version=str(data.get("python_version") or ""),
        markers={str(k): str(v) for k, v in markers.items()},
        packages=tuple(sorted(packages, key=lambda p: p.key)),
    )


def current_environment(paths: Sequence[Path] | None = None) -> Environment:
    """List the distributions of the running interpreter (or only those on ``paths``)."""
    data = _probe.probe([str(p) for p in paths] if paths is not None else None)
    return environment_from_probe(data)


def interpreter_environment(python: Path, *, timeout: float = 120.0) -> Environment:
    """Run ``python`` to list the distributions it sees; raise ``InputError`` on failure."""
    if not Path(python).is_file():
        raise InputError(f"python interpreter {python} does not exist")
    source = Path(_probe.__file__).read_text(encoding="utf-8")
    # -E ignores PYTHON* variables of this process; a fresh working directory keeps
    # modules lying in the caller's folder from shadowing the probe's imports.
    with tempfile.TemporaryDirectory(prefix="mlward-probe-") as cwd:
        try:
            done = subprocess.run(
                [str(python), "-E", "-c", source],
                cwd=cwd,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"cannot run {python}: {exc}") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise InputError(f"{python} failed to list its packages: {tail[0]}")
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise InputError(f"{python} printed no package listing") from None
    return environment_from_probe(data)
