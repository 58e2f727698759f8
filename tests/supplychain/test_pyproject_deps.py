"""pyproject.toml dependencies: PEP 621, PEP 735 groups and Poetry tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlward.core.errors import InputError
from mlward.supplychain.pyproject import parse_pyproject, poetry_specifier

PEP621 = """\
[project]
name = "demo"
version = "0.1"
dependencies = [
  "Jinja2==2.10",
  "requests>=2.25",
]

[project.optional-dependencies]
yaml = ["PyYAML==5.3.1"]

[dependency-groups]
test = ["urllib3==1.26.16", {include-group = "lint"}]
lint = []
"""

POETRY = """\
[tool.poetry]
name = "demo"

[tool.poetry.dependencies]
python = "^3.11"
jinja2 = "2.10"
requests = "^2.25.1"
urllib3 = { version = "~1.26", markers = "sys_platform != 'win32'" }
mlward-fixture-lib = { git = "https://example.org/lib.git" }

[tool.poetry.group.dev.dependencies]
PyYAML = "5.3.*"
"""


def test_pep621_and_groups(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(PEP621)
    rows = [(d.text, d.line) for d in parse_pyproject(path)]
    assert rows == [
        ("Jinja2==2.10", 5),
        ("requests>=2.25", 6),
        ("PyYAML==5.3.1", 10),
        ("urllib3==1.26.16", 13),
    ]


def test_poetry_tables(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(POETRY)
    declared = parse_pyproject(path)
    rows = [(d.text, d.line, d.problem) for d in declared]
    assert rows == [
        ("jinja2==2.10", 6, None),
        ("requests>=2.25.1,<3", 7, None),
        ("urllib3>=1.26,<1.27; sys_platform != 'win32'", 8, None),
        ("mlward-fixture-lib", 9, "a git, path or URL dependency: no released version to audit"),
        ("PyYAML==5.3.*", 12, None),
    ]


@pytest.mark.parametrize(
    ("constraint", "specifier"),
    [
        ("^1.2.3", ">=1.2.3,<2"),
        ("^0.2.3", ">=0.2.3,<0.3"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0", ">=0,<1"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1", ">=1,<2"),
        ("1.2.3", "==1.2.3"),
        ("1.2.*", "==1.2.*"),
        (">=1.0,<2.0", ">=1.0,<2.0"),
        (">=1.0 <2.0", ">=1.0,<2.0"),
        ("*", ""),
        ("^1.0 || ^2.0", ""),
    ],
)
def test_poetry_specifier(constraint: str, specifier: str) -> None:
    assert poetry_specifier(constraint) == specifier


def test_bad_toml_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project\ndependencies = [")
    with pytest.raises(InputError, match="cannot read"):
        parse_pyproject(path)


def test_wrong_shape_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\noptional-dependencies = "oops"\n')
    with pytest.raises(InputError, match="unexpected shape"):
        parse_pyproject(path)
