from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlward.audit.log import AuditLog
from mlward.core.errors import ConfigError, StoreError
from mlward.store.metadata import MetadataStore, redact_url

_WRITER = r"""
import sys
from mlward.audit.log import AuditLog
from mlward.store.metadata import MetadataStore
from pathlib import Path
url = sys.argv[1]
store = MetadataStore.open(url, lock_dir=None if url.startswith("postgresql") else Path(sys.argv[3]))
log = AuditLog(store, b"k" * 32)
for i in range(int(sys.argv[2])):
    log.append(f"writer-{sys.argv[4]}", "test.write", f"item-{i}")
store.close()
"""


def test_migrations_create_schema(metadata_url: str):
    store = MetadataStore.open(metadata_url)
    assert not store.needs_migration()
    store.close()
    # Opening again is a no-op.
    MetadataStore.open(metadata_url).close()


def test_concurrent_writer_processes_lose_nothing(metadata_url: str, tmp_path: Path):
    MetadataStore.open(metadata_url, lock_dir=tmp_path).close()
    writers, per_writer = 4, 40
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, metadata_url, str(per_writer), str(tmp_path), str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    store = MetadataStore.open(metadata_url)
    log = AuditLog(store, b"k" * 32)
    events = log.query()
    assert len(events) == writers * per_writer
    assert [e.seq for e in events] == list(range(1, writers * per_writer + 1))
    for n in range(writers):
        mine = [e.target for e in events if e.actor == f"writer-{n}"]
        assert mine == [f"item-{i}" for i in range(per_writer)]  # each writer's order kept
    assert log.verify().ok
    store.close()


def test_unreachable_postgres_is_a_clear_error():
    with pytest.raises(StoreError) as info:
        MetadataStore.open("postgresql+psycopg://mlward:s3cret@127.0.0.1:1/nope")
    message = str(info.value)
    assert "cannot connect to the metadata database" in message
    assert "s3cret" not in message


def test_bad_urls():
    with pytest.raises(ConfigError, match="not a valid database URL"):
        MetadataStore.open("::::")
    with pytest.raises(ConfigError, match="unsupported metadata database"):
        MetadataStore.open("mysql://x@localhost/db")
    assert "s3cret" not in redact_url("postgresql://u:s3cret@h/db")


def test_unit_of_work_commits_every_joined_session_together_or_none(tmp_path: Path) -> None:
    from sqlalchemy import text

    store = MetadataStore.open(f"sqlite:///{tmp_path / 'unit.db'}")
    with store.session() as session:
        session.execute(text("CREATE TABLE t (v INTEGER UNIQUE)"))
    committed: list[str] = []

    def values() -> list[int]:
        with store.session() as session:
            return [row[0] for row in session.execute(text("SELECT v FROM t ORDER BY v"))]

    with pytest.raises(RuntimeError), store.unit_of_work():
        with store.session() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
        store.after_commit(lambda: committed.append("first"))
        raise RuntimeError("a later step failed")
    assert values() == [] and committed == []
    with store.unit_of_work():
        with store.session() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(StoreError), store.session() as session:  # a savepoint: only it rolls back
            session.execute(text("INSERT INTO t VALUES (1)"))
        with store.session() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
        store.after_commit(lambda: committed.append("second"))
        assert committed == []
    assert values() == [1, 2] and committed == ["second"]
    store.after_commit(lambda: committed.append("outside"))  # outside a unit: at once
    assert committed == ["second", "outside"]
    store.close()
