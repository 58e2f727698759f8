"""Helpers shared by the gateway tests (imported by conftest and test modules)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

FEATURES = ["age", "income", "loan_amount", "term_months"]
CONTRACT = {
    "columns": {
        "age": {"type": "int", "min": 18, "max": 100},
        "income": {"type": "float", "min": 0, "max": 1_000_000},
        "loan_amount": {"type": "float", "min": 0, "max": 1_000_000},
        "term_months": {"type": "int", "allowed": [12, 24, 36, 60]},
    }
}
JWT_ISSUER = "https://idp.example.test"
JWT_AUDIENCE = "mlward-gateway"
HS_SECRET = "a-shared-hmac-secret-of-at-least-32-bytes!!"
SERVER_SCRIPT = Path(__file__).with_name("server_main.py")


def training_data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Credit applications: age, income, loan amount, term; label = risky."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.integers(18, 80, n),
            rng.normal(50_000, 15_000, n).clip(5_000, None),
            rng.uniform(1_000, 50_000, n),
            rng.choice([12, 24, 36, 60], n),
        ]
    ).astype(float)
    y = (X[:, 2] / X[:, 1] + rng.normal(0, 0.1, n) > 0.5).astype(int)
    return X, y


def good_row(rng: np.random.Generator | None = None) -> dict[str, Any]:
    """A valid, typical request row."""
    rng = rng or np.random.default_rng()
    return {
        "age": int(rng.integers(25, 60)),
        "income": float(round(rng.normal(50_000, 10_000), 2)),
        "loan_amount": float(round(rng.uniform(2_000, 40_000), 2)),
        "term_months": int(rng.choice([12, 24, 36, 60])),
    }


@dataclass
class Template:
    """The session's template workspace."""

    root: Path
    tokens: dict[str, str]
    """Role -> bearer token."""
    secrets: dict[str, str]
    """Role -> request-signing secret."""
    token_ids: dict[str, str]
    jwt: dict[str, Any]
    """serve.jwt settings (paths relative to the workspace)."""
    keys: dict[str, Any]
    """Private keys for minting JWTs."""


def write_jwt_material(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {
                **json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key())),
                "kid": "rsa-1",
                "alg": "RS256",
                "use": "sig",
            },
            {
                **json.loads(ECAlgorithm.to_jwk(ec_key.public_key())),
                "kid": "ec-1",
                "alg": "ES256",
                "use": "sig",
            },
        ]
    }
    (root / "jwks.json").write_text(json.dumps(jwks))
    (root / "jwt.secret").write_text(HS_SECRET)
    settings = {
        "issuer": JWT_ISSUER,
        "audience": JWT_AUDIENCE,
        "algorithms": ["RS256", "ES256", "HS256"],
        "jwks_file": "jwks.json",
        "secret_file": "jwt.secret",
    }
    rsa_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return settings, {"rsa": rsa_key, "ec": ec_key, "rsa_public_pem": rsa_pem}


def base_overrides(template: Template, **extra: Any) -> dict[str, Any]:
    """Gateway settings for tests: generous limits, JWT on, background loops slow."""
    values: dict[str, Any] = {
        "rate_limit": "100000/second",
        "model_rate_limit": "1000000/second",
        "rows_rate_limit": "100000000/second",
        "unauthenticated_rate_limit": "100000/second",
        "auth_denial_summary_interval": 0.1,
        "jwt": template.jwt,
        "integrity_interval": 0,
        "registry_poll_interval": 0,
        "token_cache_seconds": 0,
        "journal_flush_interval": 0.05,
        "audit_shipper": "thread",  # in-process tests: no shipper process per app
    }
    values.update(extra)
    return values


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def wait_chained(ws, request_ids: set[str], timeout: float = 10.0) -> dict[str, Any]:
    """Wait until every request id has its serve.predict event in the chain; return them by id."""
    deadline = time.monotonic() + timeout
    while True:
        found = {e.details.get("request_id"): e for e in ws.audit.query(action="serve.predict") if e.details}
        if request_ids <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A gateway running in its own process (uvicorn)."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(root: Path, overrides: dict[str, Any], log: Path, port: int | None = None) -> ServerProcess:
    """Start ``server_main.py`` for the workspace at ``root`` and wait until it is ready."""
    port = port or free_port()
    env = {**os.environ, "MLWARD_PRINCIPAL": "tester"}
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), str(root), str(port), json.dumps(overrides)],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return ServerProcess(process, url, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server did not become ready: {log.read_text()[-3000:]}")
