"""The sealed chain head kept in a file beside the database (issue 17 §3, §6)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from mlward.audit.anchor import AnchorFile
from mlward.audit.log import AuditLog, EventInput
from mlward.core.errors import IntegrityError
from mlward.store.metadata import MetadataStore
from mlward.store.models import AuditAnchor, AuditEvent
from mlward.workspace import Workspace

KEY = b"seal-key".ljust(32, b"\0")


@pytest.fixture
def log(metadata_url: str, tmp_path: Path):
    store = MetadataStore.open(metadata_url)
    audit = AuditLog(store, KEY, anchor_path=tmp_path / "audit.anchor")
    yield audit
    store.close()


def _append(log: AuditLog, count: int) -> None:
    for i in range(count):
        log.append("alice", "model.register", f"model-{i}")


def _anchor_row(log: AuditLog) -> tuple[int, str, str]:
    with log.store.session() as session:
        row = session.get(AuditAnchor, 1)
        assert row is not None
        return row.seq, row.hash, row.seal


def test_delete_newest_events_and_restore_an_earlier_sealed_anchor_row(log: AuditLog):
    # The attacker can write the database but has no key: they keep the anchor row
    # from when the chain had 3 events, later delete events 4 and 5 and put it back.
    _append(log, 3)
    earlier = _anchor_row(log)
    _append(log, 2)
    with log.store.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
        row = session.get(AuditAnchor, 1)
        assert row is not None
        row.seq, row.hash, row.seal = earlier
    result = log.verify()
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "anchor file records event 5" in result.reason
    assert "replaced or truncated" in result.reason
    # Without the file the database alone looks intact: that is what the file adds.
    assert AuditLog(log.store, KEY).verify().ok


def test_anchor_file_is_sealed_private_and_follows_the_head(log: AuditLog):
    _append(log, 2)
    assert log.anchor_file is not None
    path = log.anchor_file.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    recorded = json.loads(path.read_text())
    seq, digest, _seal = _anchor_row(log)
    assert (recorded["seq"], recorded["hash"]) == (seq, digest) == (2, digest)
    assert log.verify().ok and log.verify().events == 2


def test_anchor_file_is_written_once_per_batch(log: AuditLog, monkeypatch: pytest.MonkeyPatch):
    calls: list[int] = []
    original = AnchorFile.advance

    def counting(self: AnchorFile, seq: int, digest: str) -> None:
        calls.append(seq)
        original(self, seq, digest)

    monkeypatch.setattr(AnchorFile, "advance", counting)
    log.append_many([EventInput("gw", "serve.predict", f"m{i}") for i in range(500)])
    assert calls == [500]


def test_a_stale_writer_never_moves_the_file_back(log: AuditLog):
    _append(log, 4)
    assert log.anchor_file is not None
    with log.store.session() as session:
        second = session.scalars(select(AuditEvent.hash).where(AuditEvent.seq == 2)).one()
    log.anchor_file.advance(2, second)  # a concurrent appender arriving late
    anchor = log.anchor_file.read()
    assert anchor is not None and anchor.seq == 4


def test_forged_anchor_file_is_detected(log: AuditLog):
    _append(log, 3)
    assert log.anchor_file is not None
    path = log.anchor_file.path
    recorded = json.loads(path.read_text())
    path.write_text(json.dumps({**recorded, "seq": 2}))
    result = log.verify()
    assert not result.ok and "was altered" in result.reason


def test_missing_anchor_file_fails_verification(log: AuditLog):
    _append(log, 2)
    assert log.anchor_file is not None
    log.anchor_file.path.unlink()
    result = log.verify()
    assert not result.ok and "missing" in result.reason


def test_workspace_refuses_a_database_behind_its_anchor(any_workspace: Workspace):
    # Both backends: the anchor file lives in .mlward/ either way.
    workspace = any_workspace
    for _ in range(3):
        workspace.audit.append("tester", "keys.rotate", "k")
    assert workspace.anchor_path.is_file()
    assert workspace.audit.verify().ok
    with workspace.metadata.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq > 2))
        row = session.get(AuditAnchor, 1)
        assert row is not None
        row.seq = 2  # unsealed: the database check names it, the open check refuses it
    assert not workspace.audit.verify().ok
    reopened = Workspace.open(workspace.root)
    try:
        with pytest.raises(IntegrityError, match="replaced or truncated"):
            reopened.metadata  # noqa: B018
    finally:
        reopened.close()
