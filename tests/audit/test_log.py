from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from mlward.audit.log import REDACTED, AuditLog
from mlward.store.metadata import MetadataStore
from mlward.store.models import AuditAnchor, AuditEvent


@pytest.fixture
def log(metadata_url: str):
    store = MetadataStore.open(metadata_url)
    audit = AuditLog(store, b"seal-key".ljust(32, b"\0"))
    for i in range(1, 6):
        audit.append("alice", "model.register", f"model-{i}", details={"version": i})
    yield audit
    store.close()


def _execute(log: AuditLog, statement) -> None:
    with log.store.session() as session:
        session.execute(statement)


def test_intact_chain_verifies(log: AuditLog):
    result = log.verify()
    assert result.ok and result.events == 5


def test_edited_event_is_detected(log: AuditLog):
    _execute(log, update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))
    result = log.verify()
    assert not result.ok
    assert result.first_bad_seq == 3
    assert "edited" in result.reason


def test_edit_with_recomputed_hashes_fails_the_seal(log: AuditLog):
    from mlward.audit.log import event_hash

    with log.store.session() as session:
        rows = session.query(AuditEvent).order_by(AuditEvent.seq).all()
        prev = rows[1].hash
        for row in rows[2:]:
            if row.seq == 3:
                row.outcome = "denied"
            row.prev_hash = prev
            row.hash = event_hash(
                row.seq, row.time, row.actor, row.action, row.target, row.outcome, row.details, prev
            )
            prev = row.hash
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 3
    assert "seal" in result.reason


def test_deleted_event_is_detected(log: AuditLog):
    _execute(log, delete(AuditEvent).where(AuditEvent.seq == 2))
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 2
    assert "missing" in result.reason


def test_deleted_tail_is_detected(log: AuditLog):
    _execute(log, delete(AuditEvent).where(AuditEvent.seq == 5))
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 5
    assert "deleted" in result.reason


def test_reordered_events_are_detected(log: AuditLog):
    with log.store.session() as session:
        a = session.get(AuditEvent, 2)
        b = session.get(AuditEvent, 4)
        fields = ("time", "actor", "action", "target", "outcome", "details", "prev_hash", "hash", "seal")
        values_a = {f: getattr(a, f) for f in fields}
        values_b = {f: getattr(b, f) for f in fields}
        # Swap the contents of two rows (the sequence numbers stay put).
        for f in fields:
            setattr(a, f, f"tmp-{f}" if f in ("hash",) else values_b[f])
        session.flush()
        for f in fields:
            setattr(b, f, values_a[f])
        session.flush()
        a.hash = values_b["hash"]
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 2
    assert "reordered" in result.reason


def test_forged_anchor_is_detected(log: AuditLog):
    _execute(log, update(AuditAnchor).values(seq=4))
    result = log.verify()
    assert not result.ok and "anchor" in result.reason


def test_secrets_are_scrubbed(log: AuditLog):
    record = log.append(
        "alice",
        "tokens.create",
        "token-1",
        details={"api_key": "abc", "nested": {"password": "p"}, "role": "x"},
    )
    assert record.details == {"api_key": REDACTED, "nested": {"password": REDACTED}, "role": "x"}


def test_query_filters(log: AuditLog):
    log.append("bob", "auth.denied", "predict/x", outcome="denied")
    assert [e.actor for e in log.query(outcome="denied")] == ["bob"]
    assert len(log.query(action="model.*")) == 5
    assert [e.seq for e in log.query(limit=2)] == [5, 6]
