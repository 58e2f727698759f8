"""``mlward ci init``: CI workflows and pre-commit hooks that run mlward's gates."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mlward.core.errors import ConfigError, InputError

TARGETS = {
    "github": ".github/workflows/mlward.yml",
    "gitlab": ".gitlab/mlward-ci.yml",
}
PRE_COMMIT = ".pre-commit-config.yaml"
WHEEL_DIR = "ci/mlward"
"""Where ``ci init`` puts the mlward wheel the workflow installs (commit it with the workflow)."""
_WHEEL_NAME = re.compile(r"^mlward-[0-9][^-]*-py3-none-any\.whl$")


@dataclass(frozen=True)
class WrittenFile:
    """A file ``ci init`` wrote (or left alone)."""

    path: Path
    created: bool


def _template(name: str) -> str:
    return resources.files("mlward.pipeline").joinpath(f"templates/{name}").read_text()


def _source_tree() -> Path:
    """The source checkout the running mlward was installed from (``pip install -e .`` or ``.``)."""
    try:
        direct = json.loads(metadata.distribution("mlward").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        direct = {}
    url = urlsplit(str(direct.get("url", "")))
    source = Path(unquote(url.path)) if url.scheme == "file" else None
    if source is None or not (source / "pyproject.toml").is_file():
        raise ConfigError(
            "cannot find the mlward source tree to build the wheel the workflow installs",
            hint="pass --wheel PATH to a built mlward wheel (python -m pip wheel --no-deps SRC)",
        )
    return source


def _build_wheel(into: Path) -> Path:
    """Build the running mlward's wheel from its source tree into ``into``."""
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                scratch,
                str(_source_tree()),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = sorted(Path(scratch).glob("mlward-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise ConfigError(
                f"building the mlward wheel failed: {proc.stderr.strip()[-300:]}",
                hint="pass --wheel PATH to a built mlward wheel",
            )
        into.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(wheels[-1], into / wheels[-1].name))


def _place_wheel(root: Path, wheel: Path | None) -> Path:
    """Copy ``wheel`` (or a freshly built one) to ``root/ci/mlward``; return its new path."""
    into = root / WHEEL_DIR
    if wheel is None:
        return _build_wheel(into)
    if not wheel.is_file() or not _WHEEL_NAME.match(wheel.name):
        raise InputError(f"{wheel}: not an mlward wheel (mlward-VERSION-py3-none-any.whl)")
    into.mkdir(parents=True, exist_ok=True)
    target = into / wheel.name
    if wheel.resolve() != target.resolve():
        shutil.copy2(wheel, target)
    return target


def init_ci(
    root: Path,
    target: str,
    *,
    data_glob: str = "data",
    extras: str = "",
    force: bool = False,
    wheel: Path | None = None,
) -> list[WrittenFile]:
    """Write the workflow for ``target``, a pre-commit config and the pinned mlward wheel under ``root``.

    The workflow never installs ``mlward`` by name from a package index: that name is not
    ours there (dependency confusion). It installs the wheel placed in ``ci/mlward/`` (built
    from the running mlward's source, or the one given) after checking its sha256.
    """
    if target not in TARGETS:
        raise ConfigError(f"unknown CI target {target!r}; choose one of: {', '.join(TARGETS)}")
    if extras and not re.fullmatch(r"[a-z0-9_-]+(,[a-z0-9_-]+)*", extras):
        raise ConfigError(f"--extras {extras!r}: give comma-separated extra names (e.g. dask,postgres)")
    placed = _place_wheel(root, wheel)
    digest = hashlib.sha256(placed.read_bytes()).hexdigest()
    relative_wheel = placed.relative_to(root).as_posix()
    extras_spec = f"[{extras}]" if extras else ""
    # Templates use {name} placeholders and {{ }} for literal braces (GitHub expressions).
    workflow = _template(f"{target}.yml").format(
        extras=extras_spec, data_glob=data_glob, wheel=relative_wheel, wheel_sha256=digest
    )
    written = [WrittenFile(placed, created=True)]
    for relative, content in ((TARGETS[target], workflow), (PRE_COMMIT, _template("pre-commit.yaml"))):
        path = root / relative
        if path.exists() and not force:
            written.append(WrittenFile(path, created=False))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(WrittenFile(path, created=True))
    return written
