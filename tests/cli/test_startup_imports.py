"""Light commands import only what they need: no data-science stack at start-up (issue 17 §5).

Each command runs in a fresh interpreter under ``-X importtime``, which lists every module
imported on stderr; a heavy library there means the command pays seconds it does not use.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import mlward

HEAVY = ("scipy", "pandas", "polars", "sklearn", "torch")


def imported_modules(importtime_stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _env() -> dict[str, str]:
    # The subprocess must import the mlward under test, not whichever one a relative
    # PYTHONPATH or an editable install resolves to from the temporary working directory.
    source = str(Path(mlward.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "MLWARD_PRINCIPAL": "tester", "COLUMNS": "200"}


def run_with_importtime(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlward.cli.main", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, imported_modules(proc.stderr)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace made by ``mlward init``, holding a tiny pickle of a dict."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlward.cli.main", "init"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "tiny.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    return tmp_path


# (arguments, exit code, text on stdout or stderr that proves the command itself ran)
COMMANDS = [
    (["--version"], 0, "mlward "),
    (["model", "scan", "tiny.pkl"], 0, "SAFE"),
    (["model", "verify", "tiny.pkl"], 3, "signature"),
    (["audit", "verify"], 0, "audit trail verified"),
]


@pytest.mark.parametrize(("args", "code", "evidence"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_command_imports_no_heavy_library(workspace: Path, args: list[str], code: int, evidence: str) -> None:
    proc, modules = run_with_importtime(*args, cwd=workspace)
    assert proc.returncode == code, proc.stdout + proc.stderr[-2000:]
    assert evidence in proc.stdout + proc.stderr
    assert "mlward.cli.lazy" in modules  # the importtime listing was read at all
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, f"mlward {' '.join(args)} imported {heavy[:10]}"
