from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from mlward.pipeline.ci import init_ci
from mlward.report.run_junit import run_to_junit


def test_ci_init_writes_valid_workflows_and_hooks(tmp_path: Path):
    written = init_ci(tmp_path, "github", extras="dask")
    workflow = yaml.safe_load((tmp_path / ".github/workflows/mlward.yml").read_text())
    steps = workflow["jobs"]["mlward"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    assert "mlward model scan" in commands and "--format sarif" in commands
    assert "mlward run" in commands and "--only security" in commands
    assert "pip install mlward[dask]" in commands
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif") for step in steps)
    assert workflow["permissions"]["security-events"] == "write"
    hooks = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    assert {h["id"] for h in hooks} == {"mlward-model-scan", "mlward-data-scan"}
    assert all(w.created for w in written)
    again = init_ci(tmp_path, "gitlab")
    gitlab = yaml.safe_load((tmp_path / ".gitlab/mlward-ci.yml").read_text())
    assert gitlab["pipeline"]["artifacts"]["reports"]["junit"] == "mlward-junit.xml"
    assert [w.created for w in again] == [True, False]  # the hooks file is kept


def test_run_as_junit_marks_failed_gates():
    run = {
        "run_id": "12345678-aaaa",
        "stages": [
            {
                "name": "drift",
                "kind": "drift",
                "status": "gate-failed",
                "summary": "3/20 drifted",
                "gates": [
                    {
                        "gate": "no-drift",
                        "rule": "drift.share < 0.1",
                        "passed": False,
                        "observed": {"drift.share": 0.15},
                    },
                ],
            },
            {"name": "train", "kind": "train", "status": "ok", "summary": "trained", "gates": []},
        ],
    }
    root = ET.fromstring(run_to_junit(run))
    cases = root.iter("testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["gate no-drift"]
    assert "0.15" in ET.tostring(root, encoding="unicode")
