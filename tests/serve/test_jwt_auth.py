"""``JwtVerifier`` on its own: the algorithm allowlist, with a real RSA key and real tokens."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mlward.serve.jwt_auth import JwtVerifier

ISSUER = "https://login.example.com/"
AUDIENCE = "mlward-gateway"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _verifier(tmp_path: Path, key: rsa.RSAPrivateKey, algorithms: list[str]) -> JwtVerifier:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "idp.pem").write_bytes(pem)
    raw = {"issuer": ISSUER, "audience": AUDIENCE, "algorithms": algorithms, "public_key_file": "idp.pem"}
    verifier = JwtVerifier.from_config(raw, tmp_path)
    assert verifier is not None
    return verifier


def _token(key: rsa.RSAPrivateKey, alg: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
    return jwt.encode(claims, key, algorithm=alg)


def test_an_algorithm_outside_the_allowlist_is_refused_though_the_key_would_verify_it(tmp_path, rsa_key):
    # RS256, PS256 and RS512 all verify with this one RSA public key: only the allowlist
    # (serve.jwt.algorithms) keeps the gateway to the algorithm the identity provider uses.
    verifier = _verifier(tmp_path, rsa_key, ["RS256"])
    claims, reason = verifier.verify(_token(rsa_key, "RS256"))
    assert claims is not None and claims["sub"] == "alice", reason
    for alg in ("PS256", "RS512"):
        claims, reason = verifier.verify(_token(rsa_key, alg))
        assert claims is None
        assert reason == f"JWT algorithm {alg!r} is not allowed"
