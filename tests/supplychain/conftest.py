"""Fixtures of the dependency-audit tests: an OSV archive, installed distributions, a venv."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ADVISORIES = Path(__file__).parent.parent / "fixtures" / "osv" / "advisories"


def load_advisory(advisory_id: str) -> dict[str, Any]:
    """One fixture advisory as parsed JSON."""
    return json.loads((ADVISORIES / f"{advisory_id}.json").read_text(encoding="utf-8"))


def write_osv_zip(target: Path, extra: dict[str, bytes] | None = None) -> Path:
    """Zip the fixture advisories the way the OSV export does (one ``ID.json`` each)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(ADVISORIES.glob("*.json")):
            zf.write(path, arcname=path.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return target


def write_dist_info(site: Path, name: str, version: str, **headers: str | list[str]) -> Path:
    """Create an installed distribution's ``.dist-info`` folder (METADATA, INSTALLER)."""
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}"]
    for key, value in headers.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key.replace('_', '-')}: {item}")
    (folder / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "INSTALLER").write_text("pip\n", encoding="utf-8")
    return folder


INSTALLED = {
    "Jinja2": ("2.10", {"License": "BSD-3-Clause", "Summary": "A very fast template engine."}),
    "PyYAML": ("5.3.1", {"Classifier": ["License :: OSI Approved :: MIT License"]}),
    "requests": ("2.31.0", {"License_Expression": "Apache-2.0"}),
    "urllib3": ("1.26.16", {"License_Expression": "MIT"}),
    "mlward-fixture-lib": ("1.4.2", {"License_Expression": "MIT OR Apache-2.0"}),
    "mlward-fixture-legacy": ("2004d", {"License": "Proprietary, see LICENSE.txt"}),
}
"""The fake environment: vulnerable jinja2, PyYAML, urllib3 and fixture projects."""


@pytest.fixture(scope="session")
def osv_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture advisories as an OSV all.zip, with two unusable members besides."""
    folder = tmp_path_factory.mktemp("osv")
    return write_osv_zip(
        folder / "PyPI-all.zip",
        {"BROKEN-1.json": b"{not json", "README.txt": b"not an advisory"},
    )


@pytest.fixture(scope="session")
def site_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site-packages folder holding the ``INSTALLED`` distributions."""
    site = tmp_path_factory.mktemp("site-packages")
    for name, (version, headers) in INSTALLED.items():
        write_dist_info(site, name, version, **headers)
    return site


@pytest.fixture(scope="session")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real virtual environment (no pip) whose site-packages holds ``INSTALLED``."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for name, (version, headers) in INSTALLED.items():
        write_dist_info(site, name, version, **headers)
    return python


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A private index cache folder."""
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def advisory() -> Callable[[str], dict[str, Any]]:
    """Load one fixture advisory by id."""
    return load_advisory


@pytest.fixture(scope="session")
def make_dist() -> Callable[..., Path]:
    """Create a ``.dist-info`` folder: ``make_dist(site, name, version, **headers)``."""
    return write_dist_info


@pytest.fixture(scope="session")
def make_osv_zip() -> Callable[..., Path]:
    """Zip the fixture advisories: ``make_osv_zip(target, extra_members)``."""
    return write_osv_zip
