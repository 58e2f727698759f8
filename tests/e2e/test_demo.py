"""`make demo` end to end, on a copy of the example with fewer rows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit-risk"


def test_demo_runs_the_pipeline_fails_drift_on_purpose_and_serves(tmp_path: Path):
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
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "gate no-drift failed on stage drift" in output
    assert "credit-risk@1 -> production" in output
    assert "(signed)" in output and "row 0:" in output  # the signed prediction round trip
    assert "HTTP 401" in output  # an anonymous request is refused
    assert "audit trail verified" in output
    assert list((demo / ".mlward" / "reports").glob("run-*.html"))
    assert (demo / "reports" / "sbom.cdx.json").exists()
