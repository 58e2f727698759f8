"""The demo, run once for the end-to-end tests that need its workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit-risk"


@pytest.fixture(scope="package")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The demo, run once for the e2e tests (the documented-commands test reuses its workspace)."""
    tmp_path = tmp_path_factory.mktemp("demo")
    demo = tmp_path / "credit-risk"
    shutil.copytree(
        EXAMPLE, demo, ignore=shutil.ignore_patterns(".mlward", "data", "models", "reports", "*.zip")
    )
    env = {**os.environ, "MLWARD_DEMO_ROWS": "6000", "COLUMNS": "160"}
    env.pop("MLWARD_PRINCIPAL", None)
    proc = subprocess.run(
        [sys.executable, str(demo / "run_demo.py")],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return demo, proc
