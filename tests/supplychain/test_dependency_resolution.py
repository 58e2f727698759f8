"""Choosing versions: pins, installed versions for ranges, unresolved, markers."""

from __future__ import annotations

import sys
from pathlib import Path

from mlward.supplychain.environment import current_environment, interpreter_environment
from mlward.supplychain.resolve import collect_dependencies


def _rows(deps):
    return [(d.name, d.version, d.note) for d in deps]


def test_pins_installed_and_unresolved(tmp_path: Path, site_packages: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(
        "jinja2==2.11.3\n"
        "requests>=2.25\n"  # installed 2.31.0 satisfies it
        "urllib3>=2\n"  # installed 1.26.16 does not
        "numpy-not-installed>=1\n"
        "pyyaml==5.*\n"  # a wildcard is a range, not a pin
        "-e ./local\n"
        "Jinja2==2.11.3\n"  # the same pin again: reported once
    )
    env = current_environment([site_packages])
    deps = collect_dependencies(requirements=[req], environment=env)
    assert _rows(deps) == [
        ("jinja2", "2.11.3", "pinned"),
        ("requests", "2.31.0", "installed"),
        ("urllib3", "1.26.16", "installed, outside the declared range >=2"),
        ("numpy-not-installed", None, "not pinned and not installed: no version to audit"),
        ("pyyaml", "5.3.1", "installed"),
        ("-e ./local", None, "editable install: no released version to audit"),
    ]
    assert deps[0].line == 1 and deps[0].path == str(req)


def test_markers_are_evaluated_for_the_target_interpreter(tmp_path: Path, venv_python) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(
        'jinja2==2.10 ; python_version < "3"\n'
        f'requests==2.30.0 ; python_version == "{sys.version_info[0]}.{sys.version_info[1]}"\n'
        "urllib3==1.26.16 ; extra == 'socks'\n"
    )
    env = interpreter_environment(venv_python)
    deps = collect_dependencies(requirements=[req], environment=env)
    assert _rows(deps) == [("requests", "2.30.0", "pinned")]


def test_environment_only_and_files_plus_environment(tmp_path: Path, site_packages: Path) -> None:
    env = current_environment([site_packages])
    only_env = collect_dependencies(environment=env, include_environment=True)
    assert sorted(d.key for d in only_env) == sorted(p.key for p in env.packages)
    req = tmp_path / "requirements.txt"
    req.write_text("urllib3==1.26.16\n")
    both = collect_dependencies(requirements=[req], environment=env, include_environment=True)
    # urllib3 1.26.16 is declared and installed: the declaration (with its line) wins.
    urllib3 = [d for d in both if d.key == "urllib3"]
    assert len(urllib3) == 1 and urllib3[0].line == 1
    assert len(both) == len(env.packages)


def test_pyproject_with_unpinned_dependency(tmp_path: Path, site_packages: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\nversion = "1"\ndependencies = ["PyYAML>=5"]\n')
    deps = collect_dependencies(pyproject=path, environment=current_environment([site_packages]))
    assert _rows(deps) == [("PyYAML", "5.3.1", "installed")]
