"""Gateway fixtures: a template workspace with real registered models, tokens and JWT keys.

The template is built once per session (real scikit-learn models saved with joblib,
scanned, signed and registered; a real OutlierDetector fitted on the training data) and
copied for each test that changes state, so tests stay independent and fast.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# The helpers module sits next to this file; test modules import it by name.
sys.path.insert(0, str(Path(__file__).parent))

from serve_testlib import (
    CONTRACT,
    FEATURES,
    ServerProcess,
    Template,
    base_overrides,
    training_data,
    write_jwt_material,
)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A workspace serving ``credit-risk`` (contract + outlier detector) and ``plain`` (no contract)."""
    from mlward.access.tokens import create_token
    from mlward.data.outliers import OutlierDetector
    from mlward.model.registry import promote_model, register_model
    from mlward.workspace import Workspace

    base = tmp_path_factory.mktemp("serve-template")
    old = os.environ.get("MLWARD_PRINCIPAL")
    os.environ["MLWARD_PRINCIPAL"] = "tester"
    try:
        ws = Workspace.init(base / "ws", project="serve-test")
        config = yaml.safe_load(ws.config_path.read_text())
        config["roles"]["credit-only"] = {"permissions": ["predict:credit-risk"], "members": []}
        config["roles"]["nothing"] = {"permissions": ["data:read"], "members": []}
        config["contracts"] = {"credit-risk": CONTRACT}
        ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        ws.close()
        ws = Workspace.open(base / "ws")

        X, y = training_data()
        credit_dir = base / "credit-risk"
        credit_dir.mkdir()
        joblib.dump(
            make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), credit_dir / "model.joblib"
        )
        OutlierDetector(target_fpr=0.02, n_estimators=50).fit(pd.DataFrame(X, columns=FEATURES)).save(
            credit_dir / "credit-risk.outliers.safetensors"
        )
        register_model(ws, credit_dir, "credit-risk", datasets=["applications@1"])
        promote_model(ws, "credit-risk", 1, "production")

        frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
        joblib.dump(LogisticRegression().fit(frame, y), base / "plain.joblib")
        register_model(ws, base / "plain.joblib", "plain")
        promote_model(ws, "plain", 1, "production")

        tokens, secrets, ids = {}, {}, {}
        for role in ("admin", "predictor", "auditor", "approver", "monitor", "credit-only", "nothing"):
            issued = create_token(ws, [role], name=f"{role}-token")
            tokens[role], secrets[role], ids[role] = issued.token, issued.signing_secret, issued.info.id
        jwt_settings, keys = write_jwt_material(ws.root)
        ws.close()
    finally:
        if old is None:
            os.environ.pop("MLWARD_PRINCIPAL", None)
        else:
            os.environ["MLWARD_PRINCIPAL"] = old
    return Template(base / "ws", tokens, secrets, ids, jwt_settings, keys)


@pytest.fixture
def ws_copy(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A private copy of the template workspace, opened."""
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    target = tmp_path / "ws"
    shutil.copytree(template.root, target)
    ws = Workspace.open(target)
    yield ws
    ws.close()


@pytest.fixture
def make_client(template: Template, ws_copy):
    """Build an in-process client (ASGI, lifespan run) for ``ws_copy`` with setting overrides."""
    from mlward.serve.app import create_app

    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        client = TestClient(create_app(workspace=ws_copy, overrides=base_overrides(template, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers started by a test, stopped afterwards."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()
