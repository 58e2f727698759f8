"""The audit journal: durable before the answer, replayed exactly once after a crash (kill -9)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter

import pytest

from mlward.audit.journal import AuditJournal
from mlward.audit.log import EventInput
from mlward.audit.recovery import replay_orphans


def _record(journal: AuditJournal, count: int, start: int = 0) -> list[str]:
    ids = [f"req-{start + i}" for i in range(count)]

    async def go():
        await asyncio.gather(
            *(
                journal.record(
                    EventInput("token:x", "serve.predict", "m@1", "ok", {"request_id": i, "event_id": i})
                )
                for i in ids
            )
        )

    asyncio.run(go())
    return ids


def _crash(journal: AuditJournal) -> None:
    """What kill -9 leaves: threads gone, file descriptor (and its flock) released, file kept."""
    journal._stopping = True
    journal._wake.set()
    with journal._cond:
        journal._cond.notify_all()
    for thread in journal._threads:
        if thread.name != "journal-progress":  # it ends with the shipper process
            thread.join()
    os.close(journal._fd)
    journal._fd = -1


def _chained_ids(ws) -> Counter:
    return Counter(e.details.get("event_id") for e in ws.audit.query(action="serve.predict"))


@pytest.mark.parametrize("durability", ["process", "disk"])
def test_acknowledged_events_are_on_disk_before_the_answer(workspace, tmp_path, durability):
    journal = AuditJournal(tmp_path / "j", workspace.audit, flush_interval=3600, durability=durability)
    journal.start()
    ids = _record(journal, 50)
    _crash(journal)
    lines = [
        json.loads(line) for line in next((tmp_path / "j").glob("journal-*.log")).read_text().splitlines()
    ]
    assert {line["d"]["event_id"] for line in lines if "d" in line} == set(ids)
    assert not _chained_ids(workspace)  # nothing reached the chain yet
    result = replay_orphans(tmp_path / "j", workspace.audit)
    assert (result.files, result.replayed, result.already_present) == (1, 50, 0)
    assert _chained_ids(workspace) == Counter(ids)
    assert not list((tmp_path / "j").glob("journal-*.log"))
    assert workspace.audit.verify().ok


@pytest.mark.parametrize("durability", ["process", "disk"])
def test_replay_is_idempotent_after_a_crash_between_commit_and_checkpoint(workspace, tmp_path, durability):
    journal = AuditJournal(tmp_path / "j", workspace.audit, flush_interval=3600, durability=durability)
    journal.start()
    first = _record(journal, 20)
    assert journal._flush_once()  # chained, checkpoint written
    second = _record(journal, 30, start=20)
    # The flusher committed part of the next batch, then the process died before its checkpoint.
    with journal._durable_lock:
        committed = journal._durable[:12]
    workspace.audit.append_many([EventInput(e["a"], e["x"], e["g"], e["o"], e["d"]) for e in committed])
    _crash(journal)
    path = next((tmp_path / "j").glob("journal-*.log"))
    with path.open("ab") as handle:
        handle.write(b'{"t": 1, "a": "torn')  # a write cut short: never acknowledged
    result = replay_orphans(tmp_path / "j", workspace.audit)
    assert result.replayed == 18 and result.already_present == 12
    chained = _chained_ids(workspace)
    assert chained == Counter(first + second)  # every event exactly once
    assert workspace.audit.verify().ok


def test_process_durability_syncs_in_the_background_and_disk_durability_before_the_answer(
    workspace, tmp_path
):
    slow = AuditJournal(tmp_path / "p", workspace.audit, flush_interval=3600, sync_interval=3600)
    slow.start()
    _record(slow, 3)
    # Written (a kill -9 cannot lose it) but not yet synced: the sync thread has not run.
    assert slow._size > slow._synced
    slow.close()
    fast = AuditJournal(tmp_path / "q", workspace.audit, flush_interval=3600, sync_interval=0.01)
    fast.start()
    _record(fast, 3)
    deadline = time.monotonic() + 5
    while fast._synced != fast._size and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fast._synced == fast._size
    fast.close()
    disk = AuditJournal(tmp_path / "d", workspace.audit, flush_interval=3600, durability="disk")
    disk.start()
    _record(disk, 3)
    assert disk._synced == disk._size  # every acknowledged event was synced before the answer
    disk.close()
    assert sum(_chained_ids(workspace).values()) == 9 and workspace.audit.verify().ok


def test_a_live_journal_is_not_replayed_by_another_process(workspace, tmp_path):
    journal = AuditJournal(tmp_path / "j", workspace.audit, flush_interval=3600)
    journal.start()
    _record(journal, 5)
    assert replay_orphans(tmp_path / "j", workspace.audit).files == 0  # its flock is held
    journal.close()  # a clean stop drains into the chain and removes the file
    assert len(_chained_ids(workspace)) == 5
    assert not list((tmp_path / "j").glob("journal-*.log"))


def test_shipper_process_chains_and_finishes_a_crashed_writers_journal(workspace, tmp_path):
    journal = AuditJournal(
        tmp_path / "j",
        workspace.audit,
        flush_interval=0.05,
        shipper="process",
        workspace_root=workspace.root,
        shipper_module="mlward.serve.shipper_process",
    )
    journal.start()
    ids = _record(journal, 40)
    shipper = journal._process
    # The server dies: its pipe to the shipper closes and its journal lock is released.
    _crash(journal)
    shipper.stdin.close()
    assert shipper.wait(timeout=60) == 0
    assert _chained_ids(workspace) == Counter(ids)
    assert not list((tmp_path / "j").glob("journal-*.log*"))
    assert workspace.audit.verify().ok


def test_shipper_process_clean_close(workspace, tmp_path):
    journal = AuditJournal(
        tmp_path / "j",
        workspace.audit,
        flush_interval=0.05,
        shipper="process",
        workspace_root=workspace.root,
        shipper_module="mlward.serve.shipper_process",
    )
    journal.start()
    ids = _record(journal, 25)
    journal.close()
    assert _chained_ids(workspace) == Counter(ids)
    assert not list((tmp_path / "j").glob("journal-*.log"))


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_rotation_keeps_every_event_exactly_once(workspace, tmp_path, monkeypatch, mode):
    import mlward.audit.journal as journal_module

    monkeypatch.setattr(journal_module, "ROTATE_BYTES", 4000)
    journal = AuditJournal(
        tmp_path / "j",
        workspace.audit,
        flush_interval=0.05,
        shipper=mode,
        workspace_root=workspace.root,
        shipper_module="mlward.serve.shipper_process",
    )
    journal.start()
    ids = []
    for start in range(0, 120, 10):
        ids += _record(journal, 10, start=start)
        time.sleep(0.06)
    journal.close()
    assert _chained_ids(workspace) == Counter(ids)
    assert not list((tmp_path / "j").glob("journal-*.log"))
    assert workspace.audit.verify().ok
