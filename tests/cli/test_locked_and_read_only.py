"""A locked database is one line and exit 3; read-only commands open SQLite with mode=ro."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest


@pytest.fixture
def ws(mlward, tmp_path: Path) -> Path:
    assert mlward("init", "ws").code == 0
    return tmp_path / "ws"


def test_locked_database_is_one_line_and_exit_3(mlward, ws: Path):
    holder = sqlite3.connect(ws / ".mlward" / "mlward.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        began = time.monotonic()
        result = mlward("keys", "rotate", cwd=ws, env={"MLWARD_METADATA_BUSY_TIMEOUT": "1"})
        waited = time.monotonic() - began
    finally:
        holder.rollback()
        holder.close()
    assert result.code == 3, result.err
    assert "is locked by another mlward process (waited 1s)" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert waited < 30  # the 1 s busy timeout, not the old 30 s
    assert mlward("audit", "verify", cwd=ws).code == 0


def test_read_only_commands_work_while_a_writer_holds_the_lock(mlward, ws: Path):
    holder = sqlite3.connect(ws / ".mlward" / "mlward.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        env = {"MLWARD_METADATA_BUSY_TIMEOUT": "1"}
        for command in (("status",), ("audit", "verify"), ("audit", "log"), ("data", "ls")):
            result = mlward(*command, cwd=ws, env=env)
            assert result.code == 0, (command, result.err)
    finally:
        holder.rollback()
        holder.close()


def _snapshot(state: Path) -> dict[str, tuple[int, int]]:
    return {
        p.name: (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(state.iterdir())
        # mlward.db-shm is SQLite's WAL index: every reader updates its read marks there.
        if p.name.startswith(("mlward.db", "audit.anchor")) and p.name != "mlward.db-shm"
    }


def test_read_only_commands_do_not_write(mlward, ws: Path):
    state = ws / ".mlward"
    assert mlward("status", cwd=ws).code == 0  # settle: first open after init
    before = _snapshot(state)
    time.sleep(0.05)  # so a write would show in mtime_ns
    for command in (("status",), ("audit", "verify"), ("audit", "log"), ("data", "ls")):
        assert mlward(*command, cwd=ws).code == 0, command
    assert _snapshot(state) == before


def test_read_only_open_refuses_writes_at_the_sqlite_level(tmp_path: Path):
    from sqlalchemy import text

    from mlward.core.errors import StoreError
    from mlward.store.metadata import MetadataStore

    url = f"sqlite:///{tmp_path / 'meta.db'}"
    MetadataStore.open(url).close()
    size = os.path.getsize(tmp_path / "meta.db")
    store = MetadataStore.open(url, read_only=True)
    try:
        with pytest.raises(StoreError, match="readonly"), store.session() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        with store.session() as session:
            assert session.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0
    finally:
        store.close()
    assert os.path.getsize(tmp_path / "meta.db") == size
