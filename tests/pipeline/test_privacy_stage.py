"""The privacy stage: its metrics feed gates; an overfitted model fails ``privacy.mia_auc``."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import yaml
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from mlward.pipeline.runner import PipelineRunner
from mlward.workspace import Workspace

CANARY = "CANARY-ZX81-QQ"


def _write_case(root: Path, model) -> None:
    x, y = make_classification(n_samples=1600, n_features=6, n_informative=4, flip_y=0.2, random_state=2)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    frame["label"] = y
    frame["region"] = np.where(x[:, 1] > 0, "north", "south")
    frame.loc[3, "region"] = CANARY  # one person's value: never in a result
    frame[:800].to_csv(root / "members.csv", index=False)
    frame[800:].to_csv(root / "holdout.csv", index=False)
    features = frame[[f"f{i}" for i in range(6)]]
    (root / "models").mkdir(exist_ok=True)
    joblib.dump(model.fit(features[:800], y[:800]), root / "models" / "model.joblib")


def _configure(ws: Workspace) -> Workspace:
    config = yaml.safe_load(ws.config_path.read_text())
    config["datasets"] = {"train-rows": {"path": "members.csv"}}
    config["pipeline"] = {
        "stages": {
            "privacy": {
                "kind": "privacy",
                "model": "models/model.joblib",
                "members": "train-rows",
                "nonmembers": "holdout.csv",
                "label": "label",
                "sensitive": "region",
                "n_bootstrap": 50,
            }
        }
    }
    config["policy"] = {
        "gates": [{"name": "no-membership-leak", "stage": "privacy", "rule": "privacy.mia_auc < 0.6"}]
    }
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    ws.close()
    return Workspace.open(ws.root)


def test_overfitted_model_fails_the_privacy_gate(workspace: Workspace):
    _write_case(workspace.root, RandomForestClassifier(n_estimators=30, random_state=0))
    ws = _configure(workspace)
    result = PipelineRunner(ws).run()
    assert result.status == "failed"
    stage = result.stages[0]
    assert stage.status == "gate-failed"
    metrics = stage.metrics["privacy"]
    assert metrics["mia_auc"] > 0.7 and metrics["mia_auc_low"] > 0.6
    assert metrics["mia_auc_low"] <= metrics["mia_auc"] <= metrics["mia_auc_high"]
    assert {"mia_advantage", "mia_advantage_low", "mia_advantage_high", "max_group_mia_auc"} <= set(metrics)
    assert "attribute_inference_advantage" in metrics
    assert CANARY not in json.dumps(result.to_dict() if hasattr(result, "to_dict") else stage.metrics)


def test_regularised_model_passes_the_privacy_gate(workspace: Workspace):
    _write_case(workspace.root, LogisticRegression(C=0.01))
    ws = _configure(workspace)
    result = PipelineRunner(ws).run()
    assert result.status == "passed", result.failures
    assert result.stages[0].metrics["privacy"]["mia_auc"] < 0.56
