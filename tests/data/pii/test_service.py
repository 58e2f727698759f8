"""``protect_dataset`` / ``reveal_dataset``: the Python API checks and audits like every door."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlward.core.errors import AccessDenied
from mlward.data.pii import PiiPolicy, protect_dataset, reveal_dataset
from mlward.data.pii.reveal import WrongDataKey
from mlward.lineage.graph import ArtifactRef
from mlward.workspace import Workspace

POLICY = PiiPolicy.model_validate({"by_entity": {"EMAIL": "tokenize", "US_SSN": {"action": "fpe"}}})


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("MLWARD_PRINCIPAL", "owner")  # admin of the new workspace
    opened = Workspace.init(tmp_path / "ws")
    yield opened
    opened.close()


@pytest.fixture()
def people(tmp_path: Path) -> tuple[Path, pa.Table]:
    table = pa.table(
        {
            "email": [f"person{i}@example.org" for i in range(40)],
            "ssn": [f"{123 + i % 7:03d}-{45 + i % 11:02d}-{6789 - i:04d}" for i in range(40)],
            "zip": [str(94100 + i % 3) for i in range(40)],
            "age": [30 + i % 4 for i in range(40)],
        }
    )
    path = tmp_path / "people.parquet"
    pq.write_table(table, path)
    return path, table


def test_protect_dataset_audits_registers_and_measures(workspace: Workspace, people, tmp_path: Path) -> None:
    source, _ = people
    output = tmp_path / "safe.parquet"
    outcome = protect_dataset(
        workspace,
        source,
        output,
        principal="owner",
        policy=POLICY,
        register="people-safe",
        quasi_identifiers=["zip", "age"],
    )
    assert outcome.result.actions["email"] == "tokenize"
    assert outcome.registered is not None and outcome.registered.ref == "people-safe@1"
    assert outcome.lineage_input == ArtifactRef("file", str(source), "source")
    assert outcome.k_anonymity is not None and outcome.k_anonymity.k >= 1
    (event,) = workspace.audit.query(action="data.protect")
    assert event.actor == "owner" and event.details["source"] == str(source)
    assert event.details["rows"] == 40
    upstream = workspace.lineage.upstream(ArtifactRef("dataset", "people-safe", "1"))
    assert any(r.kind == "file" and r.name == str(source) for r in upstream)


def test_reveal_dataset_denies_without_pii_reveal_and_audits(
    workspace: Workspace, people, tmp_path: Path
) -> None:
    source, table = people
    protected = tmp_path / "safe.parquet"
    protect_dataset(workspace, source, protected, principal="owner", policy=POLICY)
    out = tmp_path / "revealed.parquet"
    with pytest.raises(AccessDenied, match="pii:reveal"):
        reveal_dataset(workspace, protected, out, principal="mallory")
    assert not out.exists()
    (denial,) = workspace.audit.query(action="access.denied")
    assert denial.actor == "mallory" and denial.outcome == "denied"
    assert denial.details["permission"] == "pii:reveal" and denial.target == str(protected)
    assert not workspace.audit.query(action="pii.reveal")

    outcome = reveal_dataset(workspace, protected, out, principal="owner", columns=["ssn"])
    assert outcome.rows == 40 and outcome.principal == "owner" and outcome.columns == ("ssn",)
    assert pq.read_table(out).column("ssn").to_pylist() == table.column("ssn").to_pylist()
    (event,) = workspace.audit.query(action="pii.reveal")
    assert event.actor == "owner" and event.details["columns"] == ["ssn"]


def test_reveal_dataset_tries_every_key_and_names_the_wrong_one(
    workspace: Workspace, people, tmp_path: Path
) -> None:
    source, table = people
    protected = tmp_path / "safe.parquet"
    key = workspace.keys.data_key()
    protect_dataset(workspace, source, protected, principal="owner", policy=POLICY, data_key=key)
    out = tmp_path / "revealed.parquet"
    outcome = reveal_dataset(workspace, protected, out, principal="owner", keys=[os.urandom(32), key])
    assert outcome.rows == 40
    assert pq.read_table(out).column("email").to_pylist() == table.column("email").to_pylist()
    with pytest.raises(WrongDataKey, match="another data key"):
        reveal_dataset(
            workspace, protected, tmp_path / "no.parquet", principal="owner", keys=[os.urandom(32)]
        )
    assert not (tmp_path / "no.parquet").exists()
