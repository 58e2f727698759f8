"""A deleted, emptied or replaced ``.mlward/mlward.db`` is refused, never silently recreated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def ws(mlward, tmp_path: Path) -> Path:
    assert mlward("init", "ws").code == 0
    root = tmp_path / "ws"
    assert mlward("keys", "rotate", cwd=root).code == 0
    return root


def _assert_refused(result, *, word: str) -> None:
    assert result.code == 1, result.err
    assert word in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [("status",), ("audit", "verify"), ("audit", "log"), ("keys", "rotate")])
def test_deleted_database_is_refused_and_not_recreated(mlward, ws: Path, command: tuple[str, ...]):
    database = ws / ".mlward" / "mlward.db"
    database.unlink()
    for side in ("-wal", "-shm"):
        Path(f"{database}{side}").unlink(missing_ok=True)
    _assert_refused(mlward(*command, cwd=ws), word="deleted, replaced or truncated")
    assert not database.exists()


def test_emptied_database_is_refused(mlward, ws: Path):
    database = ws / ".mlward" / "mlward.db"
    database.write_bytes(b"")
    _assert_refused(mlward("audit", "verify", cwd=ws), word="deleted, replaced or truncated")
    assert database.stat().st_size == 0


def test_database_put_back_from_an_older_copy_is_refused(mlward, ws: Path):
    state = ws / ".mlward"
    backup = ws.parent / "old.db"
    shutil.copy(state / "mlward.db", backup)  # WAL is checkpointed when the command exits
    assert mlward("keys", "rotate", cwd=ws).code == 0
    for side in ("-wal", "-shm"):
        Path(f"{state / 'mlward.db'}{side}").unlink(missing_ok=True)
    shutil.copy(backup, state / "mlward.db")
    verify = mlward("audit", "verify", cwd=ws)
    _assert_refused(verify, word="replaced or truncated")
    assert "records 2 audit events" in verify.err and "records 3" in verify.err
    _assert_refused(mlward("status", cwd=ws), word="replaced or truncated")
