"""`mlward serve` end to end: two uvicorn workers, a signed round trip with the client, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest
import typer
from serve_testlib import bearer, free_port, good_row, wait_chained
from typer.testing import CliRunner

from mlward.core.errors import AccessDenied
from mlward.serve.client import predict

LAUNCH = (
    "import sys; from mlward.cli.context import STATE; from mlward.cli.serve import serve; "
    "STATE.workspace_dir = sys.argv[1]; serve(host=None, port=int(sys.argv[2]), workers=2, reload=False)"
)


@pytest.fixture
def served(template, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(template.root, root)
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(root), str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLWARD_PRINCIPAL": "tester"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError((tmp_path / "serve.log").read_text()[-3000:])
    yield url, root, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_signed_authenticated_round_trip_on_two_workers(served, template, monkeypatch):
    url, root, process = served
    token, secret = template.tokens["predictor"], template.secrets["predictor"]
    rows = [good_row() for _ in range(3)]
    request_ids = set()
    with httpx.Client() as http:
        for _ in range(8):  # several connections: both workers answer
            result = predict(url, "credit-risk", rows, token, secret, client=http)
            assert result.version == 1 and len(result.predictions) == 3
            assert result.model_digest.startswith("sha256:")
            request_ids.add(result.request_id)
    with pytest.raises(AccessDenied):
        predict(url, "credit-risk", rows, template.tokens["nothing"])
    with pytest.raises(AccessDenied):
        predict(url, "credit-risk", rows, token, "a-wrong-signing-secret")
    metrics = httpx.get(f"{url}/metrics", headers=bearer(template.tokens["monitor"])).text
    line = next(
        s
        for s in metrics.splitlines()
        if s.startswith('mlward_requests_total{model="credit-risk",status="200"}')
    )
    assert float(line.split()[-1]) == 8.0  # summed over both workers (multiprocess mode)
    request_ids.add(_predict_command(url, root, template, monkeypatch))
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    from mlward.workspace import Workspace

    ws = Workspace.open(root)
    try:
        assert request_ids <= set(wait_chained(ws, request_ids, timeout=2))
        assert ws.audit.verify().ok
    finally:
        ws.close()
    assert not list((root / ".mlward" / "serve" / "journal").glob("journal-*.log"))  # drained on shutdown


def _predict_command(url, root, template, monkeypatch):
    """``mlward predict MODEL --data ... --sign`` against the running gateway."""
    from mlward.cli.context import STATE
    from mlward.cli.serve import predict as predict_command

    app = typer.Typer()
    app.command()(predict_command)
    monkeypatch.setenv("MLWARD_TOKEN", template.tokens["predictor"])
    monkeypatch.setenv("MLWARD_SIGNING_SECRET", template.secrets["predictor"])
    STATE.workspace_dir = root
    try:
        result = CliRunner().invoke(
            app,
            ["credit-risk", "--data", json.dumps([good_row()]), "--url", url, "--sign", "--format", "json"],
        )
    finally:
        STATE.close()
        STATE.workspace_dir = None
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["model"] == "credit-risk" and answer["model_digest"].startswith("sha256:")
    return answer["request_id"]
