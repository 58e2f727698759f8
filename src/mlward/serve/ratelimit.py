"""Rate limits and quotas per principal and per model, with the ``limits`` library.

``serve.rate_limit`` applies to each principal (several limits separated by ``;`` make a
quota, ``100/second;50000/day``); ``serve.model_rate_limit`` and
``serve.models.<name>.rate_limit`` cap a model's total traffic over every principal.
Requests are not the only cost: ``serve.rows_rate_limit`` and
``serve.models.<name>.rows_rate_limit`` count the rows of each batch per principal and
model (the ``limits`` cost parameter), so one request of 1000 rows spends 1000.
Storage is in memory (one process) or Redis (``redis://host:6379/0``), so every replica
and worker shares the same counters. The strategy is a sliding-window counter by default
(constant memory, close to a moving window), or a moving or fixed window. When Redis does
not answer (within ``STORE_TIMEOUT``) a check raises ``StoreUnavailable``: the gateway
then fails closed instead of serving without limits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, WindowStats, parse_many
from limits import strategies as sync_strategies
from limits.aio import strategies as async_strategies
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string

from mlward.core.errors import ConfigError
from mlward.serve.limit_store import STORE_TIMEOUT, StoreUnavailable, redis_storage

STRATEGIES = {
    "sliding-window": "SlidingWindowCounterRateLimiter",
    "moving-window": "MovingWindowRateLimiter",
    "fixed-window": "FixedWindowRateLimiter",
}


@dataclass(frozen=True)
class RateDecision:
    """A refusal: which limit was hit and when to retry."""

    scope: str
    """``principal``, ``model`` or ``rows``."""
    limit: str
    """The limit that was exceeded (``100 per 1 second``)."""
    retry_after: int
    """Seconds until a request may succeed."""


def parse_limits(text: str, where: str) -> list[RateLimitItem]:
    """Parse ``100/second;5000/hour``; an empty string means no limit."""
    if not text.strip():
        return []
    try:
        return list(parse_many(text))
    except ValueError as exc:
        raise ConfigError(
            f"{where}: invalid rate limit {text!r}", hint="use e.g. 100/second;5000/hour"
        ) from exc


class HousekeptMemoryStorage(MemoryStorage):
    """``limits``' memory storage without its per-burst cleanup thread.

    The stock storage starts a ``threading.Timer`` whenever the previous one has finished,
    so under steady traffic it creates a thread every 10 ms, on the request path. Expired
    counters are already ignored on read; the gateway sweeps them once a second instead.
    """

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private hook
        return None

    def sweep(self) -> None:
        """Drop expired counters and window entries."""
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimits:
    """Checks and counts one request against the principal's and the model's limits."""

    def __init__(
        self,
        storage_url: str,
        *,
        strategy: str = "sliding-window",
        principal_limit: str = "100/second",
        model_limit: str = "",
        model_limits: Mapping[str, str] | None = None,
        rows_limit: str = "",
        model_rows_limits: Mapping[str, str] | None = None,
        prefix: str = "mlward",
    ) -> None:
        url = storage_url.strip() or "memory://"
        redis = redis_storage(url)
        self.shared = redis
        try:
            if redis:
                self._storage: Any = storage_from_string(
                    "async+" + url.removeprefix("async+"),
                    implementation="redispy",
                    key_prefix=prefix,
                    wrap_exceptions=True,
                    socket_timeout=STORE_TIMEOUT,
                    socket_connect_timeout=STORE_TIMEOUT,
                )
                self._limiter: Any = getattr(async_strategies, STRATEGIES[strategy])(self._storage)
            elif url.startswith("memory://"):
                self._storage = HousekeptMemoryStorage()
                self._limiter = getattr(sync_strategies, STRATEGIES[strategy])(self._storage)
            else:
                raise ConfigError(f"serve.rate_limit_storage: unsupported {url!r}; use memory:// or redis://")
        except (ValueError, ImportError) as exc:
            raise ConfigError(f"serve.rate_limit_storage: cannot use {url!r}: {exc}") from exc
        self._principal = parse_limits(principal_limit, "serve.rate_limit")
        self._model_default = parse_limits(model_limit, "serve.model_rate_limit")
        self._model = {
            name: parse_limits(text, f"serve.models.{name}.rate_limit")
            for name, text in (model_limits or {}).items()
        }
        self._rows_default = parse_limits(rows_limit, "serve.rows_rate_limit")
        self._rows = {
            name: parse_limits(text, f"serve.models.{name}.rows_rate_limit")
            for name, text in (model_rows_limits or {}).items()
        }

    async def _hit(self, item: RateLimitItem, *keys: str, cost: int = 1) -> bool:
        if not self.shared:
            return bool(self._limiter.hit(item, *keys, cost=cost))
        try:
            return bool(await self._limiter.hit(item, *keys, cost=cost))
        except StorageError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def _retry_after(self, item: RateLimitItem, *keys: str) -> int:
        stats: WindowStats
        if self.shared:
            try:
                stats = await self._limiter.get_window_stats(item, *keys)
            except StorageError as exc:
                raise StoreUnavailable(str(exc)) from exc
        else:
            stats = self._limiter.get_window_stats(item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def healthy(self) -> bool:
        """Whether the storage answers (always, in memory)."""
        return not self.shared or bool(await self._storage.check())

    async def check(self, principal: str, model: str) -> RateDecision | None:
        """Count the request; None when it is allowed, else the limit it exceeded.

        Raises ``StoreUnavailable`` when the shared storage does not answer.
        """
        for item in self._principal:
            if not await self._hit(item, "principal", principal):
                return RateDecision(
                    "principal", str(item), await self._retry_after(item, "principal", principal)
                )
        for item in self._model.get(model, self._model_default):
            if not await self._hit(item, "model", model):
                return RateDecision("model", str(item), await self._retry_after(item, "model", model))
        return None

    async def check_rows(self, principal: str, model: str, rows: int) -> RateDecision | None:
        """Spend ``rows`` of the principal's row budget on ``model``; None when within it."""
        for item in self._rows.get(model, self._rows_default):
            if rows > item.amount:  # could never pass: say so instead of "retry later"
                return RateDecision("rows", f"{item} (a batch of {rows} rows is larger)", item.get_expiry())
            if not await self._hit(item, "rows", model, principal, cost=rows):
                return RateDecision(
                    "rows", str(item), await self._retry_after(item, "rows", model, principal)
                )
        return None

    def sweep(self) -> None:
        """Forget expired in-memory counters (Redis expires its keys itself)."""
        if isinstance(self._storage, HousekeptMemoryStorage):
            self._storage.sweep()

    async def close(self) -> None:
        """Release the storage's connections."""
        if self.shared:
            pool = getattr(self._storage, "storage", None)
            closer = getattr(pool, "aclose", None)
            if closer is not None:
                await closer()
