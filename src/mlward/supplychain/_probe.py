"""List the distributions an interpreter can import, as JSON. Standard library only.

This module runs in two ways with the same code: imported by mlward for its own
environment, and passed as ``python -c <source>`` to another interpreter (``--python``),
which may be any Python >= 3.8 without mlward or ``packaging`` installed.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from importlib import metadata


def marker_environment() -> dict[str, str]:
    """The PEP 508 marker variables of this interpreter (as ``packaging`` computes them)."""
    impl = sys.implementation
    info = impl.version
    version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _field(meta: metadata.PackageMetadata, key: str) -> str | None:
    """The first ``key`` header, as ``Message.get`` gives it (no ``get`` on ``PackageMetadata`` < 3.12)."""
    values = meta.get_all(key)
    return str(values[0]) if values else None


def probe(paths: list[str] | None = None) -> dict[str, object]:
    """Describe the distributions on ``paths`` (default: ``sys.path``), first one wins."""
    packages = []
    seen = set()
    for dist in metadata.distributions(path=paths if paths is not None else sys.path):
        meta = dist.metadata
        name = _field(meta, "Name") if meta is not None else None
        if not name:
            continue  # a broken dist-info folder without a Name cannot be audited
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue  # shadowed by an earlier path entry, as the import system would
        seen.add(key)
        location = getattr(dist, "_path", None)
        classifiers = meta.get_all("Classifier") or []
        packages.append(
            {
                "name": name,
                "version": dist.version,
                "summary": _field(meta, "Summary"),
                "license": _field(meta, "License"),
                "license_expression": _field(meta, "License-Expression"),
                "classifiers": [c for c in classifiers if c.startswith("License ::")],
                "location": str(location) if location is not None else None,
            }
        )
    return {
        "python": sys.executable,
        "python_version": platform.python_version(),
        "markers": marker_environment(),
        "packages": packages,
    }


def main() -> None:
    """Print ``probe()`` as JSON on stdout."""
    json.dump(probe(), sys.stdout)


if __name__ == "__main__":
    main()
