"""X-Forwarded-* and Forwarded are not trusted: a client cannot pick its logged address or its
rate-limit identity (docs/serving.md: the gateway does not trust ``X-Forwarded-*`` headers).

The gateway has no trusted-proxy setting, so there is one side to test: in process (the app
itself) and through ``mlward serve`` (uvicorn, whose own proxy-header support must stay off:
it trusts 127.0.0.1 by default, which is where these tests connect from).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from serve_testlib import bearer, free_port, good_row

PREDICT = "/v1/models/credit-risk/predict"
SPOOFED = "203.0.113.7"
FORWARDED_HEADERS = {
    "X-Forwarded-For": SPOOFED,
    "X-Real-IP": SPOOFED,
    "Forwarded": f"for={SPOOFED};proto=https",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
}
# The CLI path (`mlward serve`), one worker so in-memory limits are counted in one place.
LAUNCH = (
    "import sys; from mlward.cli.context import STATE; from mlward.cli.serve import serve; "
    "STATE.workspace_dir = sys.argv[1]; serve(host=None, port=int(sys.argv[2]), workers=1, reload=False)"
)


def _spoofing(i: int) -> dict[str, str]:
    # A different claimed origin on every request: a new identity each time if it were believed.
    ip = f"198.51.100.{i + 1}"
    return {**FORWARDED_HEADERS, "X-Forwarded-For": ip, "X-Real-IP": ip, "Forwarded": f"for={ip}"}


def _denied_clients(ws, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        events = ws.audit.query(action="auth.denied")
        if events or time.monotonic() > deadline:
            return [c["client"] for e in events for c in e.details["clients"]]
        time.sleep(0.1)


def test_forwarded_headers_do_not_change_the_logged_client(make_client, ws_copy):
    client = make_client()
    response = client.post(PREDICT, json={"rows": [good_row()]}, headers=FORWARDED_HEADERS)
    assert response.status_code == 401
    # TestClient's transport reports its peer as "testclient": that, not the header, is logged.
    assert _denied_clients(ws_copy) == ["testclient"]


def test_forwarded_headers_do_not_change_the_rate_limit_identity(make_client, template):
    client = make_client(rate_limit="3/minute")
    auth = bearer(template.tokens["predictor"])
    statuses = [
        client.post(PREDICT, json={"rows": [good_row()]}, headers={**auth, **_spoofing(i)}).status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


@pytest.fixture
def cli_server(template, tmp_path):
    """``mlward serve`` (one worker, ``rate_limit: 3/minute``) on a copy of the template workspace.

    Failed authentications are summarized every 0.2 s, so the test need not wait a minute.
    """
    root = tmp_path / "ws"
    shutil.copytree(template.root, root)
    config = yaml.safe_load((root / "mlward.yaml").read_text())
    config.setdefault("serve", {}).update(rate_limit="3/minute", auth_denial_summary_interval=0.2)
    (root / "mlward.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(root), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MLWARD_PRINCIPAL": "tester"},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mlward serve exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError(log_path.read_text()[-3000:])
    yield url, root
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_mlward_serve_ignores_forwarded_headers(cli_server, template):
    from mlward.workspace import Workspace

    url, root = cli_server
    auth = bearer(template.tokens["predictor"])
    with httpx.Client(base_url=url, timeout=30) as http:
        statuses = [
            http.post(PREDICT, json={"rows": [good_row()]}, headers={**auth, **_spoofing(i)}).status_code
            for i in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]
        assert http.post(PREDICT, json={"rows": [good_row()]}, headers=FORWARDED_HEADERS).status_code == 401
    ws = Workspace.open(root)
    try:
        # The TCP peer (this test, on loopback) is logged, not the address the headers claim.
        assert _denied_clients(ws) == ["127.0.0.1"]
    finally:
        ws.close()
