from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlward.access.rbac import roles_of
from mlward.core.errors import ConfigError, WorkspaceNotFound
from mlward.workspace import Workspace


def test_init_creates_config_state_keys_and_gitignore(workspace: Workspace):
    root = workspace.root
    assert (root / "mlward.yaml").is_file()
    assert (root / ".gitignore").read_text().count(".mlward/") == 1
    keys = root / ".mlward" / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    secret_files = list(keys.glob("*.pem")) + list(keys.glob("*.key"))
    private = [p for p in secret_files if not p.name.endswith(".pub.pem")]
    assert len(private) == 2
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    events = workspace.audit.query()
    assert [e.action for e in events] == ["workspace.init"]
    assert roles_of(workspace.config, "tester") == ["admin"]


def test_init_twice_is_refused(workspace: Workspace):
    with pytest.raises(ConfigError, match="already a mlward workspace"):
        Workspace.init(workspace.root)


def test_open_finds_workspace_from_a_subdirectory(workspace: Workspace):
    sub = workspace.root / "a" / "b"
    sub.mkdir(parents=True)
    opened = Workspace.open(sub)
    assert opened.root == workspace.root
    opened.close()


def test_open_outside_a_workspace(tmp_path: Path):
    with pytest.raises(WorkspaceNotFound, match="not inside a mlward workspace"):
        Workspace.open(tmp_path)


def test_corrupt_config_is_a_config_error(workspace: Workspace):
    workspace.config_path.write_text("serve:\n  port: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        Workspace.open(workspace.root)


def test_config_without_state_dir(tmp_path: Path):
    (tmp_path / "mlward.yaml").write_text("project: x\n")
    with pytest.raises(WorkspaceNotFound, match=r"no \.mlward/ directory"):
        Workspace.open(tmp_path)


def test_read_only_directory(tmp_path: Path):
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(0o500)
    try:
        if os.access(target, os.W_OK):  # root ignores mode bits: make the mount read-only instead
            target.chmod(0o700)
            (target / "mlward.yaml").mkdir()  # a directory where the config file must go
            with pytest.raises(ConfigError):
                Workspace.init(target)
            assert not (target / ".mlward").exists()
        else:
            with pytest.raises(ConfigError, match="cannot write"):
                Workspace.init(target)
    finally:
        target.chmod(0o700)


def test_unwritable_target_leaves_nothing(tmp_path: Path):
    # A path under a regular file cannot be created, whoever runs the test (root too).
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write"):
        Workspace.init(blocker / "ws")
    assert blocker.read_text() == "x"


def test_failed_init_removes_what_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLWARD_METADATA_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    from mlward.core.errors import StoreError

    with pytest.raises(StoreError, match="cannot connect to the metadata database"):
        Workspace.init(tmp_path / "ws")
    assert not (tmp_path / "ws" / ".mlward").exists()
    assert not (tmp_path / "ws" / "mlward.yaml").exists()


def test_postgres_workspace(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With MLWARD_METADATA_URL set, the workspace writes to PostgreSQL, not a local SQLite file."""
    import sqlalchemy as sa

    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    monkeypatch.setenv("MLWARD_METADATA_URL", pg_url)
    ws = Workspace.init(tmp_path / "ws", project="test-project")
    try:
        assert ws.metadata.dialect == "postgresql"
        assert ws.metadata.engine.dialect.name == "postgresql"
        ws.audit.append("tester", "test.event", "pg-canary-target")
        assert ws.audit.verify().ok
    finally:
        ws.close()
    assert not (tmp_path / "ws" / ".mlward" / "mlward.db").exists()
    # A connection of our own to the same PostgreSQL schema sees the event the workspace wrote.
    direct = sa.create_engine(pg_url)
    try:
        with direct.connect() as conn:
            actions = (
                conn.execute(
                    sa.text("SELECT action FROM audit_events WHERE target = :t"), {"t": "pg-canary-target"}
                )
                .scalars()
                .all()
            )
    finally:
        direct.dispose()
    assert actions == ["test.event"]
