"""Listing installed distributions: this interpreter, given paths, another interpreter."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from mlward.core.errors import InputError
from mlward.supplychain.environment import current_environment, interpreter_environment


def test_paths_list_their_distributions(site_packages: Path) -> None:
    env = current_environment([site_packages])
    assert [(p.name, p.version) for p in env.packages] == [
        ("Jinja2", "2.10"),
        ("mlward-fixture-legacy", "2004d"),
        ("mlward-fixture-lib", "1.4.2"),
        ("PyYAML", "5.3.1"),
        ("requests", "2.31.0"),
        ("urllib3", "1.26.16"),
    ]
    pyyaml = env.get("pyyaml")
    assert pyyaml is not None
    assert pyyaml.classifiers == ("License :: OSI Approved :: MIT License",)
    assert env.get("jinja2").license == "BSD-3-Clause"
    assert env.get("requests").license_expression == "Apache-2.0"
    assert env.markers["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_first_path_wins_for_duplicates(tmp_path: Path, make_dist) -> None:
    make_dist(tmp_path / "first", "Demo_Pkg", "2.0")
    make_dist(tmp_path / "second", "demo-pkg", "1.0")
    env = current_environment([tmp_path / "first", tmp_path / "second"])
    assert [(p.key, p.version) for p in env.packages] == [("demo-pkg", "2.0")]


def test_running_environment_matches_importlib() -> None:
    env = current_environment()
    assert env.get("packaging").version == metadata.version("packaging")
    assert env.python == sys.executable


def test_another_interpreter_is_probed(venv_python: Path) -> None:
    env = interpreter_environment(venv_python)
    names = {p.key for p in env.packages}
    assert {"jinja2", "pyyaml", "requests", "urllib3"} <= names
    assert "packaging" not in names  # the venv has no packaging: the probe needs none
    assert env.python.startswith(str(venv_python.parent.parent))
    assert env.markers["sys_platform"] == sys.platform


def test_missing_interpreter(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        interpreter_environment(tmp_path / "python")


def test_interpreter_that_fails(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'boom: not a python' >&2\nexit 7\n")
    fake.chmod(0o755)
    with pytest.raises(InputError, match="failed to list its packages: boom: not a python"):
        interpreter_environment(fake)
