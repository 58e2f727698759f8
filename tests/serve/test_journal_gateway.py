"""The audit journal under a real gateway: kill -9 under load loses no acknowledged prediction."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
from serve_testlib import base_overrides, bearer, good_row, start_server, wait_chained

PREDICT = "/v1/models/credit-risk/predict"


def test_kill_9_under_load_loses_no_acknowledged_prediction(template, tmp_path, servers):
    root = tmp_path / "ws"
    shutil.copytree(template.root, root)
    overrides = base_overrides(template, journal_flush_interval=0.5, audit_shipper="process")
    server = start_server(root, overrides, tmp_path / "first.log")
    servers.append(server)
    acknowledged: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()
    auth = bearer(template.tokens["predictor"])

    def client_loop():
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                try:
                    response = http.post(f"{server.url}{PREDICT}", json={"rows": [good_row()]}, headers=auth)
                except httpx.HTTPError:
                    continue  # the server died mid-request: not acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(response.headers["x-request-id"])

    threads = [threading.Thread(target=client_loop) for _ in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) >= 150

    restarted = start_server(root, overrides, tmp_path / "second.log")
    servers.append(restarted)
    from mlward.workspace import Workspace

    ws = Workspace.open(root)
    try:
        found = wait_chained(ws, set(acknowledged))
        missing = set(acknowledged) - set(found)
        assert not missing, f"{len(missing)} acknowledged predictions missing from the audit chain"
        counts = Counter(e.details.get("request_id") for e in ws.audit.query(action="serve.predict"))
        assert max(counts.values()) == 1  # replay never duplicates
    finally:
        ws.close()
    # The killed server's shipper process drained its journal, or the restart replayed it.
    assert not list((root / ".mlward" / "serve" / "journal").glob("journal-*.log")) or (
        "recovered 1 audit journal" in (tmp_path / "second.log").read_text()
    )
    verify = subprocess.run(
        [sys.executable, "-m", "mlward.cli.main", "--workspace", str(root), "audit", "verify"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MLWARD_PRINCIPAL": "tester"},
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "verified" in verify.stdout
