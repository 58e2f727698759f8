"""Pipeline DAG, caching, parallelism and failure semantics with real commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from mlward.core.errors import ConfigError
from mlward.pipeline.runner import PipelineRunner, get_run
from mlward.workspace import Workspace

WRITE = 'python -c "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"'


def configure(ws: Workspace, pipeline: dict, policy: dict | None = None) -> Workspace:
    config = yaml.safe_load(ws.config_path.read_text())
    config["pipeline"] = pipeline
    if policy is not None:
        config["policy"] = policy
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    ws.close()
    return Workspace.open(ws.root)


def test_dag_inferred_from_inputs_and_outputs(workspace: Workspace):
    (workspace.root / "raw.txt").write_text("raw")
    ws = configure(
        workspace,
        {
            "stages": {
                "report": {
                    "kind": "command",
                    "run": f"{WRITE} report.txt done",
                    "inputs": ["clean.txt"],
                    "outputs": ["report.txt"],
                },
                "clean": {
                    "kind": "command",
                    "run": f"{WRITE} clean.txt clean",
                    "inputs": ["raw.txt"],
                    "outputs": ["clean.txt"],
                },
            }
        },
    )
    runner = PipelineRunner(ws)
    assert runner.order() == ["clean", "report"]
    assert runner.order(["clean"]) == ["clean"]
    result = runner.run()
    assert result.status == "passed"
    assert [s.status for s in result.stages] == ["ok", "ok"]
    assert (ws.root / "report.txt").read_text() == "done"
    # Lineage links raw.txt -> clean.txt -> report.txt.
    from mlward.lineage.graph import ArtifactRef

    graph = ws.lineage.graph()
    assert any(n.startswith("file:raw.txt") for n in graph)
    assert get_run(ws, result.run_id[:8])["status"] == "passed"
    del ArtifactRef


def test_cache_skips_unchanged_stages_and_reruns_on_change(workspace: Workspace):
    (workspace.root / "raw.txt").write_text("v1")
    ws = configure(
        workspace,
        {
            "stages": {
                "copy": {
                    "kind": "command",
                    "run": "python -c \"import shutil; shutil.copy('raw.txt', 'out.txt')\"",
                    "inputs": ["raw.txt"],
                    "outputs": ["out.txt"],
                },
            }
        },
    )
    assert PipelineRunner(ws).run().stages[0].status == "ok"
    assert PipelineRunner(ws).run().stages[0].status == "cached"
    (ws.root / "raw.txt").write_text("v2")  # input changed
    assert PipelineRunner(ws).run().stages[0].status == "ok"
    assert (ws.root / "out.txt").read_text() == "v2"
    (ws.root / "out.txt").write_text("tampered")  # output changed behind our back
    assert PipelineRunner(ws).run().stages[0].status == "ok"
    assert (ws.root / "out.txt").read_text() == "v2"
    assert PipelineRunner(ws, force=True).run().stages[0].status == "ok"


def test_security_stages_are_never_served_from_the_cache(workspace: Workspace):
    import pickle

    (workspace.root / "model.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    ws = configure(workspace, {"stages": {"scan": {"kind": "scan-model", "path": "model.pkl"}}})
    assert PipelineRunner(ws).run().stages[0].status == "ok"
    # Nothing changed, yet the scan runs again: rules change even when files do not.
    again = PipelineRunner(ws).run().stages[0]
    assert again.status == "ok" and again.metrics["scan"]["verdict"] == "SAFE"


def test_independent_stages_run_in_parallel(workspace: Workspace):
    sleep = 'python -c "import time; time.sleep(1.5)"'
    ws = configure(
        workspace,
        {
            "workers": 2,
            "stages": {
                "a": {"kind": "command", "run": sleep},
                "b": {"kind": "command", "run": sleep},
            },
        },
    )
    started = time.monotonic()
    result = PipelineRunner(ws).run()
    assert result.status == "passed"
    assert time.monotonic() - started < 2.8  # two 1.5 s stages overlapped


def test_failure_stops_the_run_and_downstream_never_runs(workspace: Workspace):
    ws = configure(
        workspace,
        {
            "workers": 1,
            "stages": {
                "bad": {"kind": "command", "run": 'python -c "raise SystemExit(3)"', "outputs": ["x.txt"]},
                "after": {"kind": "command", "run": f"{WRITE} y.txt y", "inputs": ["x.txt"]},
                "other": {"kind": "command", "run": f"{WRITE} z.txt z"},
            },
        },
    )
    result = PipelineRunner(ws).run()
    status = {s.name: s.status for s in result.stages}
    assert result.status == "failed"
    assert status["bad"] == "failed" and status["after"] == "skipped" and status["other"] == "not-run"
    assert "exited with 3" in result.failures[0]
    kept = PipelineRunner(ws, keep_going=True).run()
    status = {s.name: s.status for s in kept.stages}
    assert status == {"bad": "failed", "after": "skipped", "other": "ok"}
    assert not (ws.root / "y.txt").exists()


def test_gates_fail_closed_and_report_observed_values(workspace: Workspace):
    script = workspace.root / "metrics.py"
    script.write_text("import json; json.dump({'auc': 0.61, 'share': 0.4}, open('m.json', 'w'))\n")
    ws = configure(
        workspace,
        {
            "stages": {
                "eval": {"kind": "command", "run": "python metrics.py", "metrics_file": "m.json"},
                "ship": {"kind": "command", "run": f"{WRITE} shipped.txt yes", "needs": ["eval"]},
            }
        },
        {
            "gates": [
                {"name": "good-enough", "stage": "eval", "rule": "command.auc >= 0.7"},
                {"name": "typo", "stage": "command", "rule": "command.missing < 1"},
            ]
        },
    )
    result = PipelineRunner(ws, keep_going=True).run()
    assert result.status == "failed"
    first = result.stages[0]
    assert first.status == "gate-failed"
    verdicts = {g.gate: g for g in first.gates}
    assert verdicts["good-enough"].observed == {"command.auc": 0.61}
    assert verdicts["typo"].error and not verdicts["typo"].passed
    assert any("command.auc >= 0.7" in line and "0.61" in line for line in result.failures)
    assert not (ws.root / "shipped.txt").exists()


def test_configuration_errors_name_the_stage(workspace: Workspace):
    ws = configure(workspace, {"stages": {"a": {"kind": "nope"}}})
    with pytest.raises(ConfigError, match=r"pipeline\.stages\.a\.kind"):
        PipelineRunner(ws)
    ws = configure(ws, {"stages": {"a": {"kind": "command", "run": "true", "colour": 1}}})
    with pytest.raises(ConfigError, match=r"pipeline\.stages\.a\.colour"):
        PipelineRunner(ws)
    ws = configure(
        ws,
        {
            "stages": {
                "a": {"kind": "command", "run": "true", "inputs": ["b.txt"], "outputs": ["a.txt"]},
                "b": {"kind": "command", "run": "true", "inputs": ["a.txt"], "outputs": ["b.txt"]},
            }
        },
    )
    with pytest.raises(ConfigError, match="cycle"):
        PipelineRunner(ws)


def test_run_cli_exit_codes_and_report(mlward_cli, workspace: Workspace):
    ws = configure(
        workspace, {"stages": {"fail": {"kind": "command", "run": 'python -c "raise SystemExit(1)"'}}}
    )
    result = mlward_cli("run", "--format", "json", cwd=ws.root)
    assert result.code == 1
    data = json.loads(result.out)
    assert data["status"] == "failed"
    assert Path(data["report"]).read_text().count("fail") > 1
    shown = mlward_cli("run", "show", data["run_id"][:8], "--format", "json", cwd=ws.root)
    assert shown.code == 0 and json.loads(shown.out)["status"] == "failed"


@pytest.fixture
def mlward_cli(tmp_path: Path):
    import os
    import subprocess
    import sys
    from types import SimpleNamespace

    def invoke(*args: str, cwd: Path):
        env = {**os.environ, "MLWARD_PRINCIPAL": "tester"}
        proc = subprocess.run(
            [sys.executable, "-m", "mlward.cli.main", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return SimpleNamespace(code=proc.returncode, out=proc.stdout, err=proc.stderr)

    return invoke
