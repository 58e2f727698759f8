from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from mlward.pipeline.ci import init_ci
from mlward.report.run_junit import run_to_junit


def _wheel(tmp_path: Path) -> Path:
    wheel = tmp_path / "dist" / "mlward-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: init_ci only copies and pins it
    return wheel


def test_ci_init_writes_valid_workflows_and_hooks(tmp_path: Path):
    wheel = _wheel(tmp_path)
    written = init_ci(tmp_path, "github", extras="dask", wheel=wheel)
    workflow = yaml.safe_load((tmp_path / ".github/workflows/mlward.yml").read_text())
    steps = workflow["jobs"]["mlward"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    assert "mlward model scan" in commands and "--format sarif" in commands
    assert "mlward run" in commands and "--only security" in commands
    # never `pip install mlward` by name from an index (dependency confusion): the pinned wheel
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f"{digest}  ci/mlward/mlward-0.1.0-py3-none-any.whl" in commands
    assert 'pip install "./ci/mlward/mlward-0.1.0-py3-none-any.whl[dask]"' in commands
    assert not re.search(r"pip install [\"']?mlward\b", commands)
    assert (tmp_path / "ci/mlward/mlward-0.1.0-py3-none-any.whl").read_bytes() == wheel.read_bytes()
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif") for step in steps)
    assert workflow["permissions"]["security-events"] == "write"
    hooks = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    assert {h["id"] for h in hooks} == {"mlward-model-scan", "mlward-data-scan"}
    assert all(w.created for w in written)
    again = init_ci(tmp_path, "gitlab", wheel=wheel)
    gitlab_text = (tmp_path / ".gitlab/mlward-ci.yml").read_text()
    assert not re.search(r"pip install [\"']?mlward\b", gitlab_text)
    gitlab = yaml.safe_load(gitlab_text)
    assert gitlab["pipeline"]["artifacts"]["reports"]["junit"] == "mlward-junit.xml"
    assert [w.created for w in again] == [True, True, False]  # wheel, workflow; the hooks file is kept


def test_ci_init_refuses_what_is_not_a_wheel_and_odd_extras(tmp_path: Path):
    import pytest

    from mlward.core.errors import ConfigError, InputError

    (tmp_path / "evil.whl").write_bytes(b"x")
    with pytest.raises(InputError, match="not an mlward wheel"):
        init_ci(tmp_path, "github", wheel=tmp_path / "evil.whl")
    with pytest.raises(ConfigError, match="extras"):
        init_ci(tmp_path, "github", extras="dask]; curl evil", wheel=_wheel(tmp_path))


def test_pre_commit_data_hook_scans_every_staged_file(tmp_path: Path):
    """pre-commit passes all staged files at once; `data scan` takes one target."""
    init_ci(tmp_path, "github", wheel=_wheel(tmp_path))
    hooks = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    entry = next(h for h in hooks if h["id"] == "mlward-data-scan")["entry"]
    clean = []
    for i in range(12):
        clean.append(tmp_path / f"clean{i}.csv")
        clean[-1].write_text("colour,size\n" + "".join(f"red,{n}\n" for n in range(40)))
    leaky = tmp_path / "leaky.csv"
    leaky.write_text(
        "ssn\n" + "".join(f"{123 + n:03d}-{45 + n % 50:02d}-{6789 - n:04d}\n" for n in range(40))
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ok = subprocess.run(f"{entry} " + " ".join(map(str, clean)), shell=True, env=env, cwd=tmp_path)
    assert ok.returncode == 0
    bad = subprocess.run(f"{entry} " + " ".join(map(str, [*clean, leaky])), shell=True, env=env, cwd=tmp_path)
    assert bad.returncode != 0


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
