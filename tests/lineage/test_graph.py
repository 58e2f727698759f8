from __future__ import annotations

import pytest

from mlward.core.errors import NotFound
from mlward.lineage.graph import ArtifactRef, Lineage
from mlward.store.metadata import MetadataStore


@pytest.fixture
def lineage(metadata_url: str):
    store = MetadataStore.open(metadata_url)
    yield Lineage(store, namespace="credit")
    store.close()


RAW = ArtifactRef("dataset", "applications", "1", "sha256:" + "a" * 64)
CLEAN = ArtifactRef("dataset", "applications-clean", "1")
MODEL = ArtifactRef("model", "credit-risk", "1")
PREDS = ArtifactRef("dataset", "predictions", "1")


def test_upstream_and_downstream(lineage: Lineage):
    lineage.record_run("protect", inputs=[RAW], outputs=[CLEAN])
    lineage.record_run("train", inputs=[CLEAN], outputs=[MODEL])
    assert {r.key for r in lineage.upstream(MODEL)} == {RAW.key, CLEAN.key}
    assert {r.key for r in lineage.downstream(RAW)} == {CLEAN.key, MODEL.key}
    assert lineage.cycles() == []
    with pytest.raises(NotFound):
        lineage.upstream(ArtifactRef("model", "unknown"))


def test_feedback_loop_is_a_cycle(lineage: Lineage):
    lineage.record_run("train", inputs=[CLEAN], outputs=[MODEL])
    lineage.record_run("serve", inputs=[MODEL], outputs=[PREDS])
    # Predictions flow back into the next version of the training data.
    lineage.record_run(
        "merge-feedback", inputs=[PREDS], outputs=[ArtifactRef("dataset", "applications-clean", "2")]
    )
    loops = lineage.cycles()
    assert len(loops) == 1
    assert {"dataset:applications-clean", "model:credit-risk", "dataset:predictions"} <= set(loops[0])


def test_openlineage_run_events(lineage: Lineage):
    run = lineage.record_run("train", inputs=[CLEAN], outputs=[MODEL], status="COMPLETE")
    failed = lineage.record_run("validate", inputs=[RAW], status="FAILED")
    events = {e["run"]["runId"]: e for e in lineage.openlineage_events()}
    event = events[run.id]
    assert event["eventType"] == "COMPLETE"
    assert event["job"] == {"namespace": "credit", "name": "train", "facets": {}}
    assert event["inputs"][0]["name"] == "dataset/applications-clean"
    assert event["outputs"][0]["facets"]["version"]["datasetVersion"] == "1"
    assert event["eventTime"].endswith("Z")
    assert event["schemaURL"].startswith("https://openlineage.io/spec/2-")
    assert events[failed.id]["eventType"] == "FAIL"
    import uuid

    uuid.UUID(event["run"]["runId"])
