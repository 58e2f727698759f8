"""API keys: issue once, store only a keyed hash, look up by id, compare in constant time.

A token reads ``mlw_<id>_<secret>``: the public id (12 hex digits) finds the row, the
secret (32 random bytes, URL-safe base64) is checked against
``HMAC-SHA256(hash key, id:secret)`` with ``hmac.compare_digest``. The hash key is derived
from the workspace data key, so a copy of the database alone does not allow checking
guesses offline. The ``mlw_`` prefix lets secret scanners recognize leaked tokens.

Each token also has a request-signing secret, derived from the server's key and the token
id (so it is never stored) and shown once, with the token, at creation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from mlward.access.authorize import Caller, authorize
from mlward.access.tokens_models import ApiToken
from mlward.core.errors import ConfigError, NotFound
from mlward.workspace import Workspace

TOKEN_PREFIX = "mlw_"  # noqa: S105 - a public prefix, not a secret
_TOKEN_RE = re.compile(r"^mlw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
# ASCII digits only (``\d`` would take Arabic-Indic or fullwidth digits), at most 9 of them.
_DURATION_RE = re.compile(r"^([0-9]{1,9})\s*([smhdw])$", re.ASCII)
MAX_LIFETIME = timedelta(days=3660)
"""The longest token lifetime accepted (about ten years)."""
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
HASH_PURPOSE = "mlward api token hash v1"
SIGNING_PURPOSE = "mlward request signing v1"


@dataclass(frozen=True)
class TokenInfo:
    """An API key as stored (never the secret)."""

    id: str
    """Public id, the part after ``mlw_``."""
    name: str
    """Label given at creation."""
    roles: tuple[str, ...]
    """Role names from ``mlward.yaml`` whose permissions the token carries."""
    created: datetime
    """When it was issued."""
    created_by: str
    """Who issued it."""
    expires: datetime | None
    """When it stops working (None: never)."""
    revoked: datetime | None
    """When it was revoked (None: active)."""
    owner: str = ""
    """The principal the token belongs to (a person or service); its tokens share its rate limits.
    Empty (tokens issued before owners existed): the token's name."""

    @property
    def principal(self) -> str:
        """The principal name recorded in audit events: ``token:<id>``."""
        return f"token:{self.id}"

    @property
    def limit_key(self) -> str:
        """What the token's requests count against in the rate limits: its owner."""
        return f"owner:{self.owner or self.name}"

    def active(self, now: datetime | None = None) -> bool:
        """Not revoked and not expired."""
        moment = now or datetime.now(UTC)
        return self.revoked is None and (self.expires is None or _aware(self.expires) > moment)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "name": self.name,
            "roles": list(self.roles),
            "created": self.created.isoformat(),
            "created_by": self.created_by,
            "owner": self.owner or self.name,
            "expires": self.expires.isoformat() if self.expires else None,
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: the only time its secrets are available."""

    info: TokenInfo
    """The stored record."""
    token: str
    """The bearer token (``mlw_<id>_<secret>``)."""
    signing_secret: str
    """Secret for HMAC request signing (``X-Mlward-Signature``)."""


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``15m``, ``12h``, ``30d`` or ``2w``."""
    match = _DURATION_RE.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ConfigError(
            f"invalid duration {text!r}", hint="use a number and a unit: 90s, 15m, 12h, 30d, 2w"
        )
    duration = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if duration > MAX_LIFETIME:
        raise ConfigError(f"duration {text!r} is too long", hint=f"at most {MAX_LIFETIME.days}d")
    return duration


def parse_token(text: str) -> tuple[str, str] | None:
    """Split a token into (id, secret); None when it is not an mlward API key."""
    match = _TOKEN_RE.match(text)
    return (match.group(1), match.group(2)) if match else None


def _stable_key(workspace: Workspace, purpose: str) -> bytes:
    # Derived from the first data key (like the audit seal) so key rotation keeps
    # existing tokens and signing secrets valid.
    first = next(info.kid for info in workspace.keys.list() if info.kind == "data")
    return workspace.keys.derive(purpose, kid=first)


# Compared against when an id is unknown, so that path does the same work as a wrong secret.
_UNKNOWN_HASH = "0" * 64
MAX_CACHED_KEYS = 10_000


def _secret_hash(key: bytes, token_id: str, secret: str) -> str:
    return hmac.new(key, f"{token_id}:{secret}".encode(), hashlib.sha256).hexdigest()


def signing_key(workspace: Workspace) -> bytes:
    """The server key request-signing secrets are derived from."""
    return _stable_key(workspace, SIGNING_PURPOSE)


def derive_signing_secret(key: bytes, subject: str) -> str:
    """The request-signing secret of ``subject`` (``token:<id>`` or ``jwt:<sub>``) under ``key``."""
    digest = hmac.new(key, subject.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signing_secret(workspace: Workspace, subject: str) -> str:
    """The request-signing secret of ``subject`` in this workspace."""
    return derive_signing_secret(signing_key(workspace), subject)


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        roles=tuple(row.roles),
        created=_aware(row.created),
        created_by=row.created_by,
        expires=_aware(row.expires) if row.expires else None,
        revoked=_aware(row.revoked) if row.revoked else None,
        owner=str((row.meta or {}).get("owner") or row.name),
    )


def create_token(
    workspace: Workspace,
    roles: Sequence[str],
    *,
    name: str = "",
    expires_in: timedelta | None = None,
    owner: str = "",
    principal: Caller | str | None = None,
) -> IssuedToken:
    """Issue an API key carrying ``roles``; needs ``admin``. The token is returned only here.

    ``owner`` names the principal the key belongs to (default: ``name``, else the token
    itself): every key of one owner counts against the same rate limits.
    """
    who = authorize(workspace, "admin", principal, target="api-tokens")
    if not roles:
        raise ConfigError("a token needs at least one role", hint="pass --role ROLE")
    unknown = [r for r in roles if r not in workspace.config.roles]
    if unknown:
        known = ", ".join(sorted(workspace.config.roles)) or "none"
        raise ConfigError(f"unknown role(s) {', '.join(unknown)}", hint=f"roles in mlward.yaml: {known}")
    if len(owner) > 200 or len(name) > 200:
        raise ConfigError("a token's name and owner are at most 200 characters")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    label = name or f"token-{token_id}"
    row = ApiToken(
        id=token_id,
        name=label,
        roles=list(dict.fromkeys(roles)),
        secret_hash=_secret_hash(_stable_key(workspace, HASH_PURPOSE), token_id, secret),
        created=now,
        created_by=who,
        expires=now + expires_in if expires_in else None,
        meta={"owner": owner.strip() or label},
    )
    with workspace.metadata.session() as session:
        session.add(row)
        session.flush()
        info = _info(row)
    workspace.audit.append(
        who,
        "token.create",
        info.principal,
        details={"name": info.name, "owner": info.owner, "roles": list(info.roles), "expires": row.expires},
    )
    return IssuedToken(info, f"{TOKEN_PREFIX}{token_id}_{secret}", signing_secret(workspace, info.principal))


def list_tokens(workspace: Workspace, *, principal: Caller | str | None = None) -> list[TokenInfo]:
    """Every token, oldest first (needs ``admin``)."""
    authorize(workspace, "admin", principal, target="api-tokens")
    with workspace.metadata.session() as session:
        return [_info(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.created))]


def revoke_token(
    workspace: Workspace,
    token_id: str,
    *,
    principal: Caller | str | None = None,
) -> TokenInfo:
    """Revoke a token by id (needs ``admin``); revoking twice is harmless."""
    who = authorize(workspace, "admin", principal, target=f"token:{token_id}")
    token_id = token_id.removeprefix("token:").removeprefix(TOKEN_PREFIX)
    with workspace.metadata.session() as session:
        # Ids are 12 hex digits; anything else is not looked up at all.
        row = session.get(ApiToken, token_id) if token_id.isalnum() and len(token_id) <= 32 else None
        if row is None:
            raise NotFound(f"no API token with id {token_id!r}", hint="see 'mlward tokens ls'")
        if row.revoked is None:
            row.revoked = datetime.now(UTC)
            row.revoked_by = who
        session.flush()
        info = _info(row)
    workspace.audit.append(who, "token.revoke", info.principal, details={"name": info.name})
    return info


class TokenVerifier:
    """Checks presented API keys against the table, caching verified keys for a few seconds.

    Every presented key costs the same work whether its id exists or not: one HMAC of the
    secret, one look-up of verified keys by that HMAC (so a wrong secret never finds a
    cached row), and on a miss one database read and one constant-time comparison, against
    a dummy hash when the id is unknown. Timing thus tells neither which ids exist nor which
    were used recently.
    """

    def __init__(self, workspace: Workspace, cache_seconds: float = 2.0) -> None:
        self._workspace = workspace
        self._key = _stable_key(workspace, HASH_PURPOSE)
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[float, TokenInfo]] = {}
        self._lock = threading.Lock()

    def forget(self, token_id: str) -> None:
        """Drop a cached key (after a revocation in this process)."""
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[1].id != token_id}

    def _lookup(self, token_id: str, presented: str) -> TokenInfo | None:
        """The row of ``token_id`` if ``presented`` is its secret hash (one read, one compare)."""
        with self._workspace.metadata.session() as session:
            row = session.get(ApiToken, token_id)
            expected = row.secret_hash if row is not None else _UNKNOWN_HASH
            if not hmac.compare_digest(presented, expected) or row is None:
                return None
            return _info(row)

    def verify(self, token: str) -> tuple[TokenInfo | None, str]:
        """``(record, "ok")`` when the token is genuine and active, else ``(None, reason)``."""
        parts = parse_token(token)
        if parts is None:
            return None, "malformed token"
        token_id, secret = parts
        presented = _secret_hash(self._key, token_id, secret)
        now = time.monotonic()
        cached = self._cache.get(presented)
        if cached is not None and cached[0] > now and cached[1].id == token_id:
            info: TokenInfo | None = cached[1]
        else:
            info = self._lookup(token_id, presented)
            if info is not None and self._ttl > 0:
                with self._lock:
                    if len(self._cache) >= MAX_CACHED_KEYS:
                        self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    self._cache[presented] = (now + self._ttl, info)
        if info is None:
            return None, "unknown token or wrong secret"
        if info.revoked is not None:
            return None, "token revoked"
        if not info.active():
            return None, "token expired"
        return info, "ok"
