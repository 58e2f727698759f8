"""Ctrl-C: exit 130 and an honest statement of what was left behind."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from mlward.store.metadata import MetadataStore


def _big_csv(path: Path, rows: int = 400_000) -> None:
    rng = random.Random(7)
    with path.open("w") as handle:
        handle.write("id,amount,city,note\n")
        for i in range(rows):
            handle.write(
                f"{i},{rng.random() * 1000:.2f},city{rng.randrange(100)},note {rng.randrange(10**6)}\n"
            )


def _holds_open(pid: int, name: str) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd).endswith(name) for fd in fd_dir.iterdir())
    except OSError:
        return False


def test_ctrl_c_during_data_add_exits_130_and_writes_nothing(mlward, tmp_path: Path):
    assert mlward("init", "ws").code == 0
    ws = tmp_path / "ws"
    _big_csv(ws / "big.csv")
    env = {**os.environ, "MLWARD_PRINCIPAL": "tester"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlward.cli.main", "data", "add", "big.csv", "--name", "big"],
        cwd=ws,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The command reads the catalogue before it analyses the file: once the database is
    # open, the slow part (profile, PII scan, hashing) is under way.
    deadline = time.monotonic() + 60
    while not _holds_open(proc.pid, "mlward.db") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "data add finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted; nothing was written"
    assert "Traceback" not in err and "added big" not in out
    # ... and that is true: no dataset, no event beyond init, the chain intact.
    assert json.loads(mlward("data", "ls", "--format", "json", cwd=ws).out) == []
    events = json.loads(mlward("audit", "log", "--format", "json", cwd=ws).out)
    assert [e["action"] for e in events] == ["workspace.init"]
    assert mlward("audit", "verify", cwd=ws).code == 0


def test_store_counts_only_committed_writes(tmp_path: Path):
    from sqlalchemy import func, select

    from mlward.store.models import AuditEvent, Run

    store = MetadataStore.open(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        before = store.committed_writes
        with store.session() as session:
            session.scalar(select(func.count()).select_from(AuditEvent))
        assert store.committed_writes == before

        def run(run_id: str) -> Run:
            return Run(id=run_id, job="j", status="ok", started=datetime.now(UTC), actor="a", facets={})

        with store.session() as session:
            session.add(run("r1"))
        assert store.committed_writes == before + 1
        try:
            with store.session() as session:
                session.add(run("r2"))
                session.flush()
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            pass
        assert store.committed_writes == before + 1
        with store.session() as session:
            assert session.scalars(select(Run.id)).all() == ["r1"]
    finally:
        store.close()
