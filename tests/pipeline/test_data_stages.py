"""Data stages resolve declared datasets and contracts like every other door."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlward.data.targets import declared_dataset
from mlward.pipeline.runner import PipelineRunner
from mlward.workspace import Workspace

CONTRACT = {"columns": {"id": {"type": "int", "nullable": False}, "score": {"type": "int", "min": 0}}}


def _configure(ws: Workspace, contracts: dict, stage: dict) -> Workspace:
    config = yaml.safe_load(ws.config_path.read_text())
    config["datasets"] = {"scores": {"path": "data/scores.csv"}}
    config["contracts"] = contracts
    config["pipeline"] = {"stages": {"check": {"kind": "validate", **stage}}}
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    ws.close()
    return Workspace.open(ws.root)


@pytest.fixture()
def scores(workspace: Workspace) -> Workspace:
    (workspace.root / "data").mkdir()
    (workspace.root / "data" / "scores.csv").write_text(
        "id,score\n" + "".join(f"{i},{i}\n" for i in range(20))
    )
    (workspace.root / "contracts").mkdir()
    (workspace.root / "contracts" / "scores.yaml").write_text(yaml.safe_dump(CONTRACT))
    return workspace


def test_declared_dataset_is_relative_to_the_workspace_root(
    scores: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _configure(scores, {}, {"dataset": "scores", "contract": "contracts/scores.yaml"})
    monkeypatch.chdir(tmp_path)  # not the workspace: the declared path must not depend on it
    declared = declared_dataset(ws, "scores")
    assert declared is not None and declared.path == ws.root / "data" / "scores.csv"
    assert declared_dataset(ws, "absent") is None
    run = PipelineRunner(ws).run()
    assert run.stages[0].status == "ok", run.stages[0].error
    ws.close()


def test_validate_stage_reads_a_named_contract_file_only_inside_the_workspace(
    scores: Workspace, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(yaml.safe_dump(CONTRACT))
    contracts = {"inside": "contracts/scores.yaml", "outside": str(outside)}
    ws = _configure(scores, contracts, {"dataset": "scores", "contract": "inside"})
    run = PipelineRunner(ws).run()
    assert run.stages[0].status == "ok", run.stages[0].error
    ws = _configure(ws, contracts, {"dataset": "scores", "contract": "outside"})
    run = PipelineRunner(ws).run()
    assert run.stages[0].status == "failed"
    assert "contracts.outside: the contract file" in (run.stages[0].error or "")
    ws.close()
