"""Who is calling: API keys and JWT bearer tokens resolved to a ``Principal`` with permissions.

There are no default credentials. A principal's permissions are the union of its roles'
permissions in ``mlward.yaml`` (roles unknown to the workspace grant nothing), checked
with ``rbac.permits``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mlward.access.rbac import permits
from mlward.access.tokens import TOKEN_PREFIX, TokenInfo, TokenVerifier
from mlward.core.config import RoleSpec
from mlward.serve.jwt_auth import JwtVerifier
from mlward.workspace import Workspace

MAX_CACHED = 10_000
MAX_CREDENTIAL = 8192
"""The longest bearer credential accepted (a JWT with a few KiB of claims fits)."""
# RFC 6750 ``Bearer`` and one space, then a b64token; ASCII only (re.ASCII keeps IGNORECASE
# from matching non-ASCII look-alikes of the scheme's letters).
_BEARER_RE = re.compile(r"bearer ([A-Za-z0-9._~+/-]+=*)", re.ASCII | re.IGNORECASE)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    """Audit name: ``token:<id>`` or ``jwt:<sub>``."""
    kind: str
    """``api-key`` or ``jwt``."""
    label: str
    """Token name or JWT subject, for people reading the audit trail."""
    roles: tuple[str, ...]
    """Role names it holds."""
    permissions: frozenset[str]
    """Permissions granted by those roles."""
    limit_key: str = ""
    """What its requests count against in the rate limits: ``owner:<owner>`` for an API key (every
    key of one owner shares one budget), ``jwt:<sub>`` for a JWT; empty: ``name``."""

    @property
    def quota(self) -> str:
        """The rate-limit identity (``limit_key``, else ``name``)."""
        return self.limit_key or self.name

    def can(self, permission: str) -> bool:
        """Whether the principal holds ``permission``."""
        return permits(self.permissions, permission)


class AuthFailure(Exception):
    """Authentication failed; ``reason`` is safe to show and to audit (never the token)."""

    def __init__(self, reason: str, subject: str = "anonymous") -> None:
        super().__init__(reason)
        self.reason = reason
        self.subject = subject


def parse_bearer(authorization: str | None) -> str:
    """The credential of an ``Authorization: Bearer <token>`` header, or ``AuthFailure``.

    Strict: exactly the scheme, one space and an ASCII token of at most ``MAX_CREDENTIAL``
    characters. Anything else (another scheme, extra spaces, non-ASCII bytes) is refused
    before any credential parser sees it.
    """
    if not authorization:
        raise AuthFailure("missing bearer token")
    if len(authorization) > MAX_CREDENTIAL + 7:
        raise AuthFailure("bearer token too long")
    match = _BEARER_RE.fullmatch(authorization)
    if match is None:
        raise AuthFailure("expected 'Authorization: Bearer <token>'")
    return match.group(1)


class Authenticator:
    """Turns an ``Authorization`` header into a ``Principal``."""

    def __init__(
        self, workspace: Workspace, *, jwt: Mapping[str, object] | None = None, cache_seconds: float = 2.0
    ) -> None:
        self._roles: Mapping[str, RoleSpec] = workspace.config.roles
        self.tokens = TokenVerifier(workspace, cache_seconds)
        self._ttl = cache_seconds
        # Verified API keys -> principal, for as long as the token rows are cached. Keyed by
        # the SHA-256 of the key, so no key is kept in memory past its request.
        self._principals: dict[bytes, tuple[float, Principal, TokenInfo]] = {}
        self.jwt = JwtVerifier.from_config(jwt or {}, workspace.root)

    def permissions(self, roles: Iterable[str]) -> tuple[tuple[str, ...], frozenset[str]]:
        """The known roles among ``roles`` and the permissions they grant."""
        known = tuple(r for r in dict.fromkeys(roles) if r in self._roles)
        granted: set[str] = set()
        for role in known:
            granted.update(self._roles[role].permissions)
        return known, frozenset(granted)

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller, or ``AuthFailure``."""
        credential = parse_bearer(authorization)
        if credential.startswith(TOKEN_PREFIX):
            return self._api_key(credential)
        if self.jwt is None:
            raise AuthFailure("JWT bearer tokens are not configured (serve.jwt)")
        claims, reason = self.jwt.verify(credential)
        if claims is None:
            raise AuthFailure(reason)
        subject = str(claims["sub"])
        # JWTs are verified every time: their signature check is the point, and it is cheap.
        roles, granted = self.permissions(self.jwt.roles(claims))
        return Principal(f"jwt:{subject}", "jwt", subject, roles, granted, f"jwt:{subject}")

    def _api_key(self, credential: str) -> Principal:
        key = hashlib.sha256(credential.encode()).digest()
        now = time.monotonic()
        cached = self._principals.get(key)
        if cached is not None and cached[0] > now and cached[2].active():
            return cached[1]
        info, reason = self.tokens.verify(credential)
        if info is None:
            self._principals.pop(key, None)
            subject = f"token:{credential[4:16]}" if len(credential) > 16 else "anonymous"
            raise AuthFailure(reason, subject)
        roles, granted = self.permissions(info.roles)
        principal = Principal(info.principal, "api-key", info.name, roles, granted, info.limit_key)
        if self._ttl > 0:
            if len(self._principals) >= MAX_CACHED:
                self._principals = {k: v for k, v in self._principals.items() if v[0] > now}
                if len(self._principals) >= MAX_CACHED:
                    self._principals.clear()
            self._principals[key] = (now + self._ttl, principal, info)
        return principal

    def forget(self, token_id: str) -> None:
        """Drop what is cached about a token (after a revocation in this process)."""
        self.tokens.forget(token_id)
        self._principals = {k: v for k, v in self._principals.items() if v[2].id != token_id}
