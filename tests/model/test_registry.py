"""The registry end to end with real model files: register, promote, load, tamper."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlward.core.errors import AccessDenied, ConfigError, IntegrityError, PolicyViolation
from mlward.model.bom import model_bom
from mlward.model.loader import UnsafeGlobal, load_pickle
from mlward.model.registry import (
    get_model,
    list_models,
    load_model,
    open_model,
    promote_model,
    register_model,
    verify_version,
)
from mlward.model.scan.allowlist import default_allowlist
from mlward.report.cyclonedx import validate_bom
from mlward.workspace import Workspace


@pytest.fixture(scope="module")
def sklearn_model(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    path = tmp_path_factory.mktemp("models") / "credit.joblib"
    joblib.dump(model, path)
    return path


class _Payload:
    """Pickles to a call of os.system that would only write a marker (never run here)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def malicious_model(tmp_path: Path) -> Path:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Payload(tmp_path / "pwned")))
    return path


def test_register_promote_load_round_trip(any_workspace: Workspace, sklearn_model: Path):
    ws = any_workspace
    version = register_model(ws, sklearn_model, "credit-risk", metrics={"auc": 0.93}, datasets=["apps@1"])
    assert version.version == 1 and version.stage == "none"
    assert version.framework == "sklearn"
    assert version.scan_max_severity in (None, "INFO", "LOW")
    assert list(version.files) == ["credit.joblib"]
    assert get_model(ws, "credit-risk").root_digest == version.root_digest
    promoted = promote_model(ws, "credit-risk", 1, "production")
    assert promoted.stage == "production" and promoted.approved_by == "tester"
    model = load_model(ws, "credit-risk", "production")
    X = np.zeros((2, 4))
    assert (model.predict(X) == joblib.load(sklearn_model).predict(X)).all()
    second = register_model(ws, sklearn_model, "credit-risk")
    assert second.version == 2
    promote_model(ws, "credit-risk", 2, "production")
    stages = {v.version: v.stage for v in list_models(ws)}
    assert stages == {1: "archived", 2: "production"}
    # Lineage: the model came from the dataset.
    from mlward.lineage.graph import ArtifactRef

    upstream = ws.lineage.upstream(ArtifactRef("model", "credit-risk", "1"))
    assert [r.key for r in upstream] == ["dataset:apps@1"]
    actions = [e.action for e in ws.audit.query()]
    assert actions.count("model.register") == 2 and "model.load" in actions
    assert ws.audit.verify().ok


def test_malicious_model_is_refused_and_audited(workspace: Workspace, malicious_model: Path):
    with pytest.raises(PolicyViolation, match="refusing to register"):
        register_model(workspace, malicious_model, "evil")
    denied = workspace.audit.query(outcome="denied")
    assert denied and denied[-1].action == "model.register"
    assert list_models(workspace) == []
    assert not (malicious_model.parent / "pwned").exists()


def test_accept_risk_needs_the_approver_role(workspace: Workspace, malicious_model: Path):
    with pytest.raises(AccessDenied):
        register_model(workspace, malicious_model, "evil", accept_risk="research only", principal="eve")
    version = register_model(workspace, malicious_model, "evil", accept_risk="sandbox study")
    assert version.accepted_risk and version.accepted_risk["reason"] == "sandbox study"
    # Even an accepted-risk model is never unpickled freely: the restricted loader refuses os.system.
    with pytest.raises(UnsafeGlobal, match="system"):
        load_model(workspace, "evil")
    assert not (malicious_model.parent / "pwned").exists()


def test_tampered_blob_is_never_deserialized(workspace: Workspace, sklearn_model: Path):
    version = register_model(workspace, sklearn_model, "credit-risk")
    blob = Path(workspace.objects.path_of(version.files["credit.joblib"]))
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="corrupted"):
        load_model(workspace, "credit-risk")
    alerts = workspace.audit.query(outcome="alert")
    assert alerts and alerts[-1].action == "model.load"


def test_swapped_artifact_fails_the_signature(workspace: Workspace, sklearn_model: Path, tmp_path: Path):
    """An attacker with database access points the version at other (valid) bytes."""
    from mlward.model.registry_models import ModelVersionRow

    version = register_model(workspace, sklearn_model, "credit-risk")
    other = tmp_path / "other.joblib"
    joblib.dump({"weights": np.ones(3)}, other)
    forged = workspace.objects.put_file(other).digest
    with workspace.metadata.session() as session:
        row = session.query(ModelVersionRow).one()
        row.files = {"credit.joblib": forged}
    with pytest.raises(IntegrityError):
        verify_version(workspace, "credit-risk")
    with pytest.raises(IntegrityError):
        promote_model(workspace, "credit-risk", version.version, "production")
    assert workspace.audit.query(outcome="alert")


def test_promote_needs_permission(workspace: Workspace, sklearn_model: Path):
    register_model(workspace, sklearn_model, "credit-risk")
    with pytest.raises(AccessDenied):
        promote_model(workspace, "credit-risk", 1, "production", principal="mallory")
    assert get_model(workspace, "credit-risk").stage == "none"


def test_names_are_validated(workspace: Workspace, sklearn_model: Path):
    for bad in ("../etc", "A", "a/b", "", "x" * 101):
        with pytest.raises(ConfigError):
            register_model(workspace, sklearn_model, bad)


def test_directory_model_and_open_model(workspace: Workspace, tmp_path: Path):
    from safetensors.numpy import save_file

    model_dir = tmp_path / "bert-tiny"
    model_dir.mkdir()
    save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, model_dir / "model.safetensors")
    (model_dir / "config.json").write_text('{"hidden": 3}')
    version = register_model(workspace, model_dir, "bert-tiny")
    assert set(version.files) == {"model.safetensors", "config.json"}
    with open_model(workspace, "bert-tiny", deserialize=False) as loaded:
        assert (loaded.path / "config.json").read_text() == '{"hidden": 3}'
        assert loaded.checks["signature"]["verified"] is True


def test_ml_bom_is_valid_cyclonedx(workspace: Workspace, sklearn_model: Path):
    register_model(workspace, sklearn_model, "credit-risk", metrics={"auc": 0.9}, datasets=["apps@3"])
    bom = model_bom(workspace, "credit-risk")
    assert validate_bom(bom) == []
    component = bom["components"][0]
    assert component["type"] == "machine-learning-model"
    assert component["modelCard"]["modelParameters"]["datasets"] == [{"ref": "dataset:apps@3"}]
    assert component["modelCard"]["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "auc", "value": "0.9"}
    ]
    assert bom["components"][1]["type"] == "data"


def test_restricted_unpickler_allows_plain_data_and_refuses_gadgets():
    allowlist = default_allowlist()
    assert load_pickle(pickle.dumps({"a": [1, 2.0, "x"], "b": (None, True)}), allowlist) == {
        "a": [1, 2.0, "x"],
        "b": (None, True),
    }
    gadget = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(UnsafeGlobal):
        load_pickle(gadget, allowlist)


def test_a_version_pointed_at_another_signed_model_is_refused(
    workspace: Workspace, sklearn_model: Path, tmp_path: Path
):
    """Files and signature swapped for another registered model's: both verify, but not as this version."""
    from mlward.model.registry_models import ModelVersionRow

    version = register_model(workspace, sklearn_model, "credit-risk")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    joblib.dump({"weights": np.ones(3)}, other_dir / "credit.joblib")
    other = register_model(workspace, other_dir / "credit.joblib", "other-model")
    with workspace.metadata.session() as session:
        rows = {row.root_digest: row for row in session.query(ModelVersionRow)}
        target, source = rows[version.root_digest], rows[other.root_digest]
        target.files, target.signature_digest = dict(source.files), source.signature_digest
    with pytest.raises(IntegrityError, match="different artifact"):
        verify_version(workspace, "credit-risk")
    with pytest.raises(IntegrityError, match="different artifact"):
        load_model(workspace, "credit-risk")


def test_loading_rescans_with_the_rules_in_force_now(workspace: Workspace, tmp_path: Path):
    """A model admitted through a workspace allowlist entry is refused once the entry is gone."""
    path = tmp_path / "custom.pkl"
    path.write_bytes(b"\x80\x04\x8c\x0cmypkg.models\x8c\x03Net\x93)\x81.")
    import yaml

    config = workspace.root / "mlward.yaml"
    original = config.read_text()
    loosened = yaml.safe_load(original)
    loosened.setdefault("model", {})["allowlist"] = ["mypkg.models.Net"]
    config.write_text(yaml.safe_dump(loosened))
    allowed = Workspace.open(workspace.root)
    register_model(allowed, path, "custom")
    assert verify_version(allowed, "custom")["scan"] == "clean"
    config.write_text(original)
    today = Workspace.open(workspace.root)
    with pytest.raises(PolicyViolation, match="now fails the scan"):
        verify_version(today, "custom")
