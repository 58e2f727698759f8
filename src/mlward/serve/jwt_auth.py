"""JWT bearer tokens: an explicit algorithm allowlist and one key family per algorithm.

``serve.jwt`` in ``mlward.yaml`` names the issuer, the audience, the allowed algorithms
and where the keys are (a shared-secret file for HS*, a PEM public key or a JWKS file for
RS*/PS*/ES*/EdDSA). ``alg: none`` cannot be configured. Algorithm confusion (an RS256
public key used as an HS256 secret) is impossible because the key is chosen by the
algorithm's family: HMAC algorithms only ever get the shared secret, asymmetric ones only
ever get public keys whose type matches. ``exp``, ``iss``, ``aud`` and ``sub`` are required
and type-checked: dates are finite numbers in range (never strings or booleans), the
subject a non-empty string; a header with a ``crit`` extension or a non-string ``kid`` is
refused. Any malformed token is a reason for refusal, never an exception.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import jwt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlward.core.config import format_validation_error
from mlward.core.errors import ConfigError

Algorithm = Literal[
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
]
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _default_algorithms() -> list[Algorithm]:
    return ["RS256", "ES256"]


class JwtSettings(BaseModel):
    """The ``serve.jwt`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str
    """Required ``iss``."""
    audience: str | list[str]
    """Accepted ``aud`` value(s)."""
    algorithms: list[Algorithm] = Field(default_factory=_default_algorithms, min_length=1)
    """Allowlist; ``none`` is not an option."""
    secret_file: str | None = None
    """File holding the HS* shared secret (relative to the workspace)."""
    secret_env: str | None = None
    """Environment variable holding the HS* shared secret."""
    public_key_file: str | None = None
    """PEM public key for asymmetric algorithms."""
    jwks_file: str | None = None
    """JSON Web Key Set file for asymmetric algorithms (keys chosen by ``kid``)."""
    roles_claim: str = "roles"
    """Claim listing mlward role names (a list or a space-separated string)."""
    leeway: int = Field(default=30, ge=0, le=600)
    """Clock skew tolerated on ``exp``/``nbf``/``iat``, seconds."""

    @model_validator(mode="after")
    def _keys_for_algorithms(self) -> JwtSettings:
        hmac_algs = [a for a in self.algorithms if a.startswith("HS")]
        other = [a for a in self.algorithms if not a.startswith("HS")]
        if hmac_algs and not (self.secret_file or self.secret_env):
            raise ValueError(f"{', '.join(hmac_algs)} need secret_file or secret_env")
        if other and not (self.public_key_file or self.jwks_file):
            raise ValueError(f"{', '.join(other)} need public_key_file or jwks_file")
        return self


class JwtVerifier:
    """Verifies bearer JWTs against ``JwtSettings``."""

    def __init__(self, settings: JwtSettings, base: Path) -> None:
        self.settings = settings
        self._secret: bytes | None = None
        if settings.secret_file:
            self._secret = (base / settings.secret_file).read_bytes().strip()
        elif settings.secret_env:
            value = os.environ.get(settings.secret_env)
            if not value:
                raise ConfigError(
                    f"serve.jwt.secret_env: environment variable {settings.secret_env} is not set"
                )
            self._secret = value.encode()
        if self._secret is not None and len(self._secret) < 32:
            raise ConfigError("serve.jwt: the HMAC secret must be at least 32 bytes")
        self._pem: Any = None
        if settings.public_key_file:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            self._pem = load_pem_public_key((base / settings.public_key_file).read_bytes())
        # (declared alg or None, key) pairs; the declared alg is checked against the token's.
        self._jwks: list[tuple[str | None, jwt.PyJWK]] = []
        if settings.jwks_file:
            data = json.loads((base / settings.jwks_file).read_text())
            declared = {k.get("kid"): k.get("alg") for k in data.get("keys", []) if isinstance(k, dict)}
            self._jwks = [(declared.get(k.key_id), k) for k in jwt.PyJWKSet.from_dict(data).keys]

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], base: Path) -> JwtVerifier | None:
        """A verifier for the ``serve.jwt`` mapping, or None when JWT is not configured."""
        if not raw:
            return None
        try:
            settings = JwtSettings.model_validate(dict(raw))
        except ValidationError as exc:
            raise ConfigError(format_validation_error("mlward.yaml serve.jwt", exc)) from exc
        try:
            return cls(settings, base)
        except (OSError, ValueError, jwt.PyJWKError, jwt.PyJWKSetError) as exc:
            raise ConfigError(f"serve.jwt: cannot load the keys: {exc}") from exc

    def _key_for(self, alg: str, kid: Any) -> Any:
        if alg.startswith("HS"):
            return self._secret
        wanted = _KEY_TYPES[alg[:2]]
        for declared, jwk in self._jwks:
            if (kid is None or jwk.key_id == kid) and jwk.key_type == wanted and declared in (alg, None):
                return jwk.key
        if self._pem is not None and kid is None:
            return self._pem
        return None

    def verify(self, token: str) -> tuple[dict[str, Any] | None, str]:
        """``(claims, "ok")`` for a valid token, else ``(None, reason)``.

        Never raises for any ``token``: every way a token can be malformed (structure,
        encoding, JSON, types of header fields and claims) is a reason.
        """
        if not _COMPACT_JWS.fullmatch(token):
            return None, "malformed JWT"
        try:
            header = jwt.get_unverified_header(token)
        except _PARSE_ERRORS:
            return None, "malformed JWT"
        reason = _header_problem(header)
        if reason is not None:
            return None, reason
        alg = header["alg"]
        if alg not in self.settings.algorithms:
            return None, f"JWT algorithm {alg!r} is not allowed"
        key = self._key_for(alg, header.get("kid"))
        if key is None:
            return None, "no key for this JWT's algorithm and kid"
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            return None, "JWT expired"
        except jwt.InvalidAudienceError:
            return None, "JWT audience not accepted"
        except jwt.InvalidIssuerError:
            return None, "JWT issuer not accepted"
        except jwt.InvalidSignatureError:
            return None, "JWT signature does not verify"
        except jwt.PyJWTError as exc:
            return None, f"invalid JWT: {type(exc).__name__}"
        except _PARSE_ERRORS:
            return None, "malformed JWT"
        reason = _claims_problem(claims)
        if reason is not None:
            return None, reason
        return claims, "ok"

    def roles(self, claims: Mapping[str, Any]) -> list[str]:
        """Role names asserted by the token (entries that are not strings name no role)."""
        value = claims.get(self.settings.roles_claim, [])
        if isinstance(value, str):
            value = value.split()
        return [r for r in value if isinstance(r, str)] if isinstance(value, list) else []


# Compact JWS: three base64url segments, no padding (RFC 7515 §7.1); the signature is never
# empty because ``none`` is never allowed.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", re.ASCII)
# What PyJWT and the JSON decoder raise on garbage besides their own error classes.
_PARSE_ERRORS = (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError)
_HEADER_STRINGS = ("alg", "kid", "typ", "cty")
NUMERIC_DATE_MAX = 253_402_300_799
"""9999-12-31T23:59:59Z: the latest ``exp``/``nbf``/``iat`` accepted."""
MAX_SUBJECT = 200 - len("jwt:")
"""The longest ``sub`` accepted: it becomes the principal ``jwt:<sub>``, which the registry
and token tables store in 200-character columns (``approved_by``, ``created_by``,
``revoked_by``; a longer one was a 500 on PostgreSQL)."""


def _header_problem(header: Mapping[str, Any]) -> str | None:
    """Why a JOSE header is unacceptable, or None."""
    for name in _HEADER_STRINGS:
        if name in header and not isinstance(header[name], str):
            return f"JWT header {name!r} must be a string"
    if "alg" not in header:
        return "JWT header has no 'alg'"
    if "crit" in header:
        # RFC 7515 §4.1.11: a critical extension the recipient does not understand makes the
        # token invalid; this gateway understands none.
        return "JWT header lists critical extensions this gateway does not support"
    return None


def _is_numeric_date(value: Any) -> bool:
    # bool is an int subclass, and PyJWT's int() check takes "123" and True: be strict here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and 0 <= value <= NUMERIC_DATE_MAX


def _claims_problem(claims: Mapping[str, Any]) -> str | None:
    """Why verified claims are unacceptable (types, ranges), or None."""
    for name in ("exp", "nbf", "iat"):
        if name in claims and not _is_numeric_date(claims[name]):
            return f"JWT claim {name!r} must be a NumericDate (seconds since 1970)"
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or subject != subject.strip():
        return "JWT claim 'sub' must be a non-empty string without surrounding spaces"
    if len(subject) > MAX_SUBJECT:
        return f"JWT claim 'sub' is longer than {MAX_SUBJECT} characters"
    if any(unicodedata.category(c).startswith("C") for c in subject):
        return "JWT claim 'sub' contains control or format characters"
    return None
