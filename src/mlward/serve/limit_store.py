"""The shared limit store (Redis) of rate limits and request nonces: its URL and its outage."""

from __future__ import annotations

from types import ModuleType

from mlward.core.optional import require

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
STORE_TIMEOUT = 1.0
"""Seconds a call to the shared limit store (Redis) may take before it counts as an outage."""


class StoreUnavailable(Exception):
    """The shared limit store (Redis) did not answer: requests that need it fail closed."""


def redis_storage(url: str) -> bool:
    """Whether ``serve.rate_limit_storage`` names Redis (then the redis extra must be installed)."""
    if not url.removeprefix("async+").startswith(REDIS_SCHEMES):
        return False
    redis_asyncio()
    return True


def redis_asyncio() -> ModuleType:
    """``redis.asyncio``, or a one-line error naming the redis extra."""
    return require("redis.asyncio", feature="redis:// rate-limit and nonce storage")
