from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def mlward(tmp_path: Path):
    """Run the real ``mlward`` console entry point in a subprocess."""

    def invoke(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        full_env = {**os.environ, "MLWARD_PRINCIPAL": "tester", "COLUMNS": "200", **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "mlward.cli.main", *args],
            cwd=cwd or tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return invoke
