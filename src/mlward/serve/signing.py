"""HMAC request signing: integrity of each request and protection against replay.

The client sends ``X-Mlward-Timestamp`` (Unix seconds, 1-12 ASCII digits),
``X-Mlward-Nonce`` (random, used once; 1-128 characters of ``A-Z a-z 0-9 . _ ~ + / = -``)
and ``X-Mlward-Signature`` = 64 hex digits of HMAC-SHA256, under the principal's signing
secret, of the canonical request::

    MLWARD-HMAC-SHA256\\n<METHOD>\\n<path?query>\\n<timestamp>\\n<nonce>\\n<sha256(body) hex>

The server accepts a timestamp within ``skew`` seconds and each (principal, nonce) once
during that window (in memory, or in Redis so replicas share the record). The same
``canonical_request`` is used by the client helper and by the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from typing import Protocol

from mlward.serve.limit_store import STORE_TIMEOUT, StoreUnavailable, redis_asyncio, redis_storage

SCHEME = "MLWARD-HMAC-SHA256"
SIGNATURE_HEADER = "x-mlward-signature"
TIMESTAMP_HEADER = "x-mlward-timestamp"
NONCE_HEADER = "x-mlward-nonce"
# Parsed strictly, as ASCII: ``str.isdigit`` takes Unicode digits ('١٢٣', '²'), and an
# unbounded timestamp or a non-ASCII signature made ``int`` and ``compare_digest`` raise.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_NONCE_RE = re.compile(r"[A-Za-z0-9._~+/=-]{1,128}")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")


def canonical_request(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The bytes that are signed: method, path with query, timestamp, nonce, body digest."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((SCHEME, method.upper(), target, timestamp, nonce, digest)).encode()


def sign_request(
    secret: str,
    method: str,
    target: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The three signature headers for a request."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    once = nonce or secrets.token_urlsafe(16)
    mac = hmac.new(secret.encode(), canonical_request(method, target, stamp, once, body), hashlib.sha256)
    return {
        "X-Mlward-Timestamp": stamp,
        "X-Mlward-Nonce": once,
        "X-Mlward-Signature": mac.hexdigest(),
    }


class NonceStore(Protocol):
    """Remembers nonces for a while; ``first_use`` is atomic."""

    async def first_use(self, key: str, ttl: int) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds, False on a replay."""
        ...


class MemoryNonceStore:
    """Nonces of this process, forgotten after their window (bounded by the skew)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._next_prune = 0.0

    async def first_use(self, key: str, ttl: int) -> bool:
        """Record ``key``; False when it was already recorded and not yet expired."""
        now = time.monotonic()
        if now >= self._next_prune:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            self._next_prune = now + 10
        expiry = self._seen.get(key)
        if expiry is not None and expiry > now:
            return False
        self._seen[key] = now + ttl
        return True


class RedisNonceStore:
    """Nonces shared by every replica through Redis (``SET key 1 NX EX ttl``)."""

    def __init__(self, url: str, prefix: str) -> None:
        self._client = redis_asyncio().Redis.from_url(
            url, socket_timeout=STORE_TIMEOUT, socket_connect_timeout=STORE_TIMEOUT
        )
        self._prefix = prefix
        self._loop: asyncio.AbstractEventLoop | None = None

    async def first_use(self, key: str, ttl: int) -> bool:
        """Record ``key`` in Redis; False when it already exists. ``StoreUnavailable`` if Redis is away."""
        from redis.exceptions import RedisError

        try:
            return bool(await self._client.set(f"{self._prefix}:nonce:{key}", b"1", nx=True, ex=ttl))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def nonce_store_for(storage_url: str, prefix: str) -> NonceStore:
    """Redis when the rate-limit storage is Redis (shared by replicas), else memory."""
    url = storage_url.removeprefix("async+")
    if redis_storage(url):
        return RedisNonceStore(url, prefix)
    return MemoryNonceStore()


async def verify_signature(
    secret: str,
    method: str,
    target: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    nonces: NonceStore,
    scope: str,
    skew: int = 300,
    now: float | None = None,
) -> str | None:
    """None when the request is signed correctly and fresh, else the reason it is not."""
    stamp = headers.get(TIMESTAMP_HEADER, "")
    nonce = headers.get(NONCE_HEADER, "")
    presented = headers.get(SIGNATURE_HEADER, "")
    if not (stamp and nonce and presented):
        return "request signature headers are missing"
    if not (
        _TIMESTAMP_RE.fullmatch(stamp) and _NONCE_RE.fullmatch(nonce) and _SIGNATURE_RE.fullmatch(presented)
    ):
        return "malformed signature headers"
    moment = time.time() if now is None else now
    if abs(moment - int(stamp)) > skew:
        return f"request timestamp is more than {skew} s away from the server clock"
    expected = hmac.new(
        secret.encode(), canonical_request(method, target, stamp, nonce, body), hashlib.sha256
    )
    if not hmac.compare_digest(expected.hexdigest(), presented.lower()):
        return "request signature does not verify"
    # Remember the nonce only for a genuine request, so forgeries cannot burn nonces.
    if not await nonces.first_use(f"{scope}:{nonce}", 2 * skew + 1):
        return "nonce already used (replayed request)"
    return None
