"""add / get / ls / show / tag on SQLite and PostgreSQL, with dedupe and lineage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlward.core.errors import ConfigError, InputError, NotFound
from mlward.data.catalog import (
    add_dataset,
    dataset_digest,
    describe_dataset,
    get_dataset,
    list_datasets,
    load_profile,
    tag_dataset,
)
from mlward.lineage.graph import ArtifactRef


def _blobs(workspace) -> set[str]:
    return set(workspace.objects.digests())


def test_add_records_schema_profile_pii_and_lineage(any_workspace, credit) -> None:
    ws = any_workspace
    version = add_dataset(ws, credit.csv, "credit-apps", owner="risk-team", tags=["raw"], description="loans")

    assert (version.ref, version.layout, version.format) == ("credit-apps@1", "file", "csv")
    assert version.rows == credit.rows
    assert version.size == credit.csv.stat().st_size
    assert [f.path for f in version.files] == ["applications.csv"]
    assert version.digest == dataset_digest([("applications.csv", version.files[0].digest)])
    assert version.sensitivity == "restricted"
    assert version.column("email").entities == ("EMAIL",)
    assert version.column("ssn").entities == ("US_SSN",)
    assert version.column("ssn").sensitivity == "restricted"
    assert version.column("income").entities == ()
    assert [f["name"] for f in version.schema["fields"]] == credit.table.schema.names
    assert version.column("income").type == "double"
    assert (version.owner, version.tags, version.description) == ("risk-team", ("raw",), "loans")
    # The CSV and the profile JSON are new blobs.
    assert version.new_blobs == 2 and not version.unchanged and not version.encrypted

    latest = get_dataset(ws, "credit-apps")
    assert latest == get_dataset(ws, "credit-apps", 1) == get_dataset(ws, "credit-apps@1")
    assert [v.ref for v in list_datasets(ws)] == ["credit-apps@1"]
    profile = load_profile(ws, version)
    assert profile.rows == credit.rows and profile.columns["income"].n == credit.rows

    details = describe_dataset(ws, "credit-apps@1")
    by_name = {c.name: c for c in details.columns}
    income = credit.table["income"].to_pylist()
    assert by_name["income"].mean == pytest.approx(sum(income) / len(income))
    assert by_name["income"].minimum == pytest.approx(min(income))
    # PII columns never show values: a card number's min/max would be a card number.
    card = by_name["card_number"]
    assert card.entities == ("CREDIT_CARD",)
    assert (card.minimum, card.maximum, card.mean, card.median, card.top) == (None, None, None, None, ())
    assert by_name["email"].top == ()
    assert dict(by_name["state"].top)  # a public categorical column lists its top categories
    assert details.upstream == (f"file:{credit.csv.resolve()}@{version.digest[:12]}",)

    run = ws.lineage.run(version.lineage_run)
    assert run.job == "data.add" and run.outputs[0].key == "dataset:credit-apps@1"
    events = ws.audit.query(action="data.add")
    assert [(e.target, e.details["sensitivity"]) for e in events] == [("credit-apps@1", "restricted")]


def test_identical_content_is_a_noop_and_blobs_dedupe(any_workspace, credit, tmp_path: Path) -> None:
    ws = any_workspace
    first = add_dataset(ws, credit.csv, "apps")
    before = _blobs(ws)

    again = add_dataset(ws, credit.csv, "apps", tags=["ignored"])
    assert again.unchanged and again.ref == "apps@1" and again.tags == ()
    assert _blobs(ws) == before
    assert len(ws.audit.query(action="data.add")) == 1

    # Same bytes under another dataset name: a new version, but not one new blob.
    copy = tmp_path / "applications.csv"
    shutil.copyfile(credit.csv, copy)
    other = add_dataset(ws, copy, "apps-copy")
    assert other.ref == "apps-copy@1" and other.digest == first.digest and other.new_blobs == 0
    assert _blobs(ws) == before

    # Changed content: version 2, owner and description carried over unless given.
    changed = tmp_path / "applications.csv"
    changed.write_bytes(credit.drifted_csv.read_bytes())
    second = add_dataset(ws, changed, "apps", description="october batch")
    assert (second.version, second.owner, second.description) == (2, first.owner, "october batch")
    assert second.digest != first.digest and second.new_blobs == 2
    assert get_dataset(ws, "apps").version == 2 and get_dataset(ws, "apps", "1").digest == first.digest
    assert [v.ref for v in list_datasets(ws, "apps", all_versions=True)] == ["apps@1", "apps@2"]
    assert [v.ref for v in list_datasets(ws)] == ["apps@2", "apps-copy@1"]


def test_tags_select_versions(any_workspace, credit) -> None:
    ws = any_workspace
    add_dataset(ws, credit.public_csv, "features")
    add_dataset(ws, credit.parquet, "features")
    tagged = tag_dataset(ws, "features@1", "gold")
    assert tagged.tags == ("gold",)
    assert get_dataset(ws, "features@gold").version == 1
    assert tag_dataset(ws, "features@1", "gold").tags == ("gold",)  # idempotent
    tag_dataset(ws, "features@1", "gold", remove=True)
    with pytest.raises(NotFound, match="no version tagged 'gold'"):
        get_dataset(ws, "features@gold")
    with pytest.raises(NotFound, match="has no tag"):
        tag_dataset(ws, "features@1", "gold", remove=True)
    for bad in ("7", "latest", "", "a b", "x" * 65):
        with pytest.raises(ConfigError, match="invalid tag"):
            tag_dataset(ws, "features@1", bad)
    assert [e.action for e in ws.audit.query(action="data.*")][-3:] == ["data.tag", "data.tag", "data.untag"]


def test_names_refs_and_missing_things(workspace, credit, tmp_path: Path) -> None:
    for bad in ("Credit", "../x", "", "-x", "a/b"):
        with pytest.raises(ConfigError, match="invalid dataset name"):
            add_dataset(workspace, credit.public_csv, bad)
    with pytest.raises(NotFound):
        get_dataset(workspace, "nothing")
    with pytest.raises(InputError, match="no such file"):
        add_dataset(workspace, tmp_path / "missing.csv", "missing")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("no data here")
    with pytest.raises(InputError, match="no CSV, Parquet or JSON Lines"):
        add_dataset(workspace, notes, "notes")
    with pytest.raises(NotFound, match="no run"):
        add_dataset(
            workspace, credit.public_csv, "features", producing_run="0" * 8 + "-0000-0000-0000-" + "0" * 12
        )
    assert list_datasets(workspace) == []
    assert set(workspace.objects.digests()) == set()


def test_lineage_inputs_job_and_producing_run(workspace, credit) -> None:
    source = ArtifactRef("dataset", "raw-apps", "3", "sha256:" + "ab" * 32)
    version = add_dataset(
        workspace, credit.public_csv, "features", lineage_inputs=[source], produced_by="pipeline:ingest"
    )
    run = workspace.lineage.run(version.lineage_run)
    assert run.job == "pipeline:ingest" and version.produced_by == "pipeline:ingest"
    assert "dataset:raw-apps@3" in {r.key for r in run.inputs}
    assert "dataset:raw-apps@3" in describe_dataset(workspace, "features").upstream

    producer = workspace.lineage.record_run("train-export", inputs=[ArtifactRef("model", "scorer", "1")])
    linked = add_dataset(workspace, credit.parquet, "scores", producing_run=producer.id)
    assert linked.producing_run == producer.id
    assert "dataset:scores@1" in {r.key for r in workspace.lineage.run(producer.id).outputs}
    assert "model:scorer@1" in describe_dataset(workspace, "scores").upstream


def test_jsonl_dataset(workspace, tmp_path: Path, credit) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        "".join(
            f'{{"user": "user{i}@example.org", "amount": {i * 1.5}, "kind": "{"a" if i % 2 else "b"}"}}\n'
            for i in range(200)
        )
    )
    version = add_dataset(workspace, lines, "events")
    assert (version.format, version.rows) == ("jsonl", 200)
    assert version.column("user").entities == ("EMAIL",)
    assert version.column("amount").type == "double"


def test_concurrent_adds_get_distinct_versions(any_workspace, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = []
    for i in range(4):
        path = tmp_path / f"batch{i}" / "scores.csv"
        path.parent.mkdir()
        path.write_text("id,score\n" + "".join(f"{j},{(i + 1) * j}\n" for j in range(50)))
        paths.append(path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        added = list(pool.map(lambda p: add_dataset(any_workspace, p, "scores"), paths))
    assert sorted(v.version for v in added) == [1, 2, 3, 4]
    assert len({v.digest for v in added}) == 4
    stored = list_datasets(any_workspace, "scores", all_versions=True)
    assert {v.digest for v in stored} == {v.digest for v in added}


class _Injected(RuntimeError):
    """The failure a test plants in one step of ``add_dataset``."""


@pytest.mark.parametrize("step", ["lineage", "audit"])
def test_add_commits_row_lineage_and_audit_together_or_not_at_all(
    any_workspace, credit, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    owner, method = (
        (any_workspace.lineage, "record_run") if step == "lineage" else (any_workspace.audit, "append")
    )
    original = getattr(owner, method)

    def write_then_fail(*args, **kwargs):
        original(*args, **kwargs)  # the step's own write happens, then the unit must undo it
        raise _Injected(step)

    events_before = len(any_workspace.audit.query())
    monkeypatch.setattr(owner, method, write_then_fail)
    with pytest.raises(_Injected):
        add_dataset(any_workspace, credit.public_csv, "features")
    monkeypatch.undo()
    with pytest.raises(NotFound):
        get_dataset(any_workspace, "features")
    assert any_workspace.lineage.runs("data.add") == []
    assert len(any_workspace.audit.query()) == events_before
    assert any_workspace.audit.verify().ok  # the anchor file did not run ahead of the database
    version = add_dataset(any_workspace, credit.public_csv, "features")
    assert version.version == 1
    assert [r.id for r in any_workspace.lineage.runs("data.add")] == [version.lineage_run]
    assert [e.target for e in any_workspace.audit.query(action="data.add")] == ["features@1"]
    assert any_workspace.audit.verify().ok
