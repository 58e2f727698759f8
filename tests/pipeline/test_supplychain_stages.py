"""audit-deps and sbom stages: a vulnerable pinned dependency stops the run at its gate."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import yaml

from mlward.pipeline.runner import PipelineRunner
from mlward.report.cyclonedx import validate_bom
from mlward.workspace import Workspace

ADVISORIES = Path(__file__).resolve().parents[1] / "fixtures" / "osv" / "advisories"


def _osv_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for advisory in sorted(ADVISORIES.glob("*.json")):
            archive.write(advisory, advisory.name)
    return path


def _configure(ws: Workspace, pipeline: dict, policy: dict) -> Workspace:
    config = yaml.safe_load(ws.config_path.read_text())
    config.update(pipeline=pipeline, policy=policy)
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    ws.close()
    return Workspace.open(ws.root)


def test_vulnerable_pin_fails_the_deps_gate(workspace: Workspace):
    root = workspace.root
    _osv_zip(root / "PyPI-all.zip")
    (root / "requirements.txt").write_text("jinja2==3.1.2\nrequests>=2  # unpinned\n")
    ws = _configure(
        workspace,
        {
            "stages": {
                "deps": {
                    "kind": "audit-deps",
                    "requirements": ["requirements.txt"],
                    "db": "PyPI-all.zip",
                    "offline": True,
                },
                "sbom": {"kind": "sbom", "output": "out/sbom.json", "needs": ["deps"]},
            }
        },
        {
            "gates": [
                {"name": "no-vulnerable-deps", "stage": "audit-deps", "rule": "deps.vulnerabilities() == 0"}
            ]
        },
    )
    result = PipelineRunner(ws).run()
    assert result.status == "failed"
    deps = result.stages[0]
    assert deps.status == "gate-failed"
    found = {v["package"] for v in deps.metrics["deps"]["vulnerabilities"]}
    assert "jinja2" in found
    assert {s.name: s.status for s in result.stages}["sbom"] == "skipped"
    # Fix the pin: the gate passes, the SBOM is written and valid. audit-deps is a
    # security stage, so it is never served from the cache.
    (root / "requirements.txt").write_text("jinja2==3.1.6\n")
    fixed = PipelineRunner(ws).run()
    assert fixed.status == "passed", fixed.failures
    bom = json.loads((root / "out" / "sbom.json").read_text())
    assert validate_bom(bom) == []
    assert PipelineRunner(ws, only="security").order() == ["deps"]
