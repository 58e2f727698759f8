"""pip requirements files: includes, comments, continuations, hashes, markers, options."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlward.core.errors import InputError
from mlward.supplychain.requirements import parse_requirements_file

MAIN = """\
# production pins
--index-url https://pypi.org/simple
-r base.txt
Jinja2==2.10  # pinned on purpose
requests>=2.25,<3 ; python_version >= "3.8"
PyYAML==5.3.1 \\
    --hash=sha256:0c9a9cfd1c6a3c4c2d2b0e6f5a3d4e1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111
-e git+https://github.com/example/project.git#egg=project
./vendored/pkg-1.0.tar.gz
mlward-fixture-lib @ https://example.org/mlward_fixture_lib-1.4.2-py3-none-any.whl
-c constraints.txt
this is not a requirement
"""


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    (tmp_path / "base.txt").write_text("urllib3==1.26.16\n\n   # indented comment\n")
    main = tmp_path / "requirements.txt"
    main.write_text(MAIN)
    return main


def test_every_kind_of_line(requirements: Path) -> None:
    declared = parse_requirements_file(requirements)
    rows = [(Path(d.path).name, d.line, d.text, d.problem is None) for d in declared]
    assert rows == [
        ("base.txt", 1, "urllib3==1.26.16", True),
        ("requirements.txt", 4, "Jinja2==2.10", True),
        ("requirements.txt", 5, 'requests>=2.25,<3 ; python_version >= "3.8"', True),
        ("requirements.txt", 6, "PyYAML==5.3.1", True),
        ("requirements.txt", 9, "-e git+https://github.com/example/project.git#egg=project", False),
        ("requirements.txt", 10, "./vendored/pkg-1.0.tar.gz", False),
        (
            "requirements.txt",
            11,
            "mlward-fixture-lib @ https://example.org/mlward_fixture_lib-1.4.2-py3-none-any.whl",
            True,
        ),
        ("requirements.txt", 13, "this is not a requirement", False),
    ]
    problems = {d.line: d.problem for d in declared if d.problem}
    assert problems[9] == "editable install: no released version to audit"
    assert problems[10] == "a path or URL without a project name"
    assert problems[13].startswith("not a PEP 508 requirement")
    pyyaml = declared[3].requirement
    assert pyyaml is not None and str(pyyaml.specifier) == "==5.3.1"
    requests = declared[2].requirement
    assert requests is not None and str(requests.marker) == 'python_version >= "3.8"'


def test_include_loop_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\n")
    (tmp_path / "b.txt").write_text("--requirement=a.txt\n")
    with pytest.raises(InputError, match="include each other in a loop"):
        parse_requirements_file(tmp_path / "a.txt")


def test_missing_include_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r missing.txt\n")
    with pytest.raises(InputError, match=r"missing\.txt does not exist"):
        parse_requirements_file(tmp_path / "a.txt")


def test_binary_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="cannot read requirements file"):
        parse_requirements_file(tmp_path / "r.txt")


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_bytes("\ufeffjinja2==2.10\r\nrequests\r\n".encode())
    assert [d.text for d in parse_requirements_file(tmp_path / "r.txt")] == [
        "jinja2==2.10",
        "requests",
    ]
