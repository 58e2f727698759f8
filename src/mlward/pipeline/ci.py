"""``mlward ci init``: CI workflows and pre-commit hooks that run mlward's gates."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mlward.core.errors import ConfigError

TARGETS = {
    "github": ".github/workflows/mlward.yml",
    "gitlab": ".gitlab/mlward-ci.yml",
}
PRE_COMMIT = ".pre-commit-config.yaml"


@dataclass(frozen=True)
class WrittenFile:
    """A file ``ci init`` wrote (or left alone)."""

    path: Path
    created: bool


def _template(name: str) -> str:
    return resources.files("mlward.pipeline").joinpath(f"templates/{name}").read_text()


def init_ci(
    root: Path, target: str, *, data_glob: str = "data", extras: str = "", force: bool = False
) -> list[WrittenFile]:
    """Write the workflow for ``target`` and a pre-commit config under ``root``."""
    if target not in TARGETS:
        raise ConfigError(f"unknown CI target {target!r}; choose one of: {', '.join(TARGETS)}")
    extras_spec = f"[{extras}]" if extras else ""
    # Templates use {name} placeholders and {{ }} for literal braces (GitHub expressions).
    workflow = _template(f"{target}.yml").format(extras=extras_spec, data_glob=data_glob)
    written = []
    for relative, content in ((TARGETS[target], workflow), (PRE_COMMIT, _template("pre-commit.yaml"))):
        path = root / relative
        if path.exists() and not force:
            written.append(WrittenFile(path, created=False))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(WrittenFile(path, created=True))
    return written
