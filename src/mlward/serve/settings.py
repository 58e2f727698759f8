"""Settings of the inference gateway: the ``serve:`` section of ``mlward.yaml`` plus defaults.

``ServeSettings`` is built from ``ServeSection`` (the core schema) and reads the keys that
section may not declare yet with ``getattr`` and a default, so the gateway runs on any
version of the core config. ``create_app(..., overrides)`` replaces values for tests and
embedding. Per-model settings (``serve.models.<name>``) and the abuse / monitoring knobs
(``serve.guards``) are validated here, by this package, like other packages validate their
own free-form sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlward.core.config import ServeSection, format_validation_error
from mlward.core.errors import ConfigError
from mlward.core.optional import require

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
STORE_TIMEOUT = 1.0
"""Seconds a call to the shared limit store (Redis) may take before it counts as an outage."""


class StoreUnavailable(Exception):
    """The shared limit store (Redis) did not answer: requests that need it fail closed."""

Policy = Literal["log", "flag", "block"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelServeSpec(_Strict):
    """Serving options of one model (``serve.models.<name>``)."""

    contract: str | dict[str, Any] | None = None
    """Name of a contract under ``contracts:`` or an inline contract; default: by model name."""
    outliers: str | None = None
    """Path (relative to the workspace) of a fitted ``OutlierDetector`` file."""
    outliers_sha256: str | None = None
    """Expected SHA-256 of that file (pins it, like the model's own signature does)."""
    abuse_policy: Policy | None = None
    """Overrides ``serve.abuse_policy`` for this model."""
    rate_limit: str | None = None
    """Aggregate limit for this model over every principal (e.g. ``500/second``)."""
    rows_rate_limit: str | None = None
    """Rows each principal may send this model (e.g. ``1000/second``); overrides ``serve.rows_rate_limit``."""
    log_inputs: bool = False
    """Also store the inputs in the audit trail (honoured only when a contract marks no column as PII;
    the input digest is always stored)."""


class GuardSettings(_Strict):
    """Abuse-detection and output-monitoring thresholds (``serve.guards``)."""

    history: int = Field(default=512, ge=16, le=100_000)
    """Queries kept per principal and model for distance tests."""
    rows_per_request: int = Field(default=8, ge=1, le=1000)
    """At most this many rows of a batch enter the per-principal history (a spread sample)."""
    outlier_sample_rate: float = Field(default=0.25, gt=0, le=1)
    """Share of requests whose rows are scored by the outlier detector (chosen at random)."""
    outlier_rows_per_second: float = Field(default=50, ge=0)
    """Budget of scored rows per principal and second (0: none): above it the sampling chance
    falls with the principal's request rate, and scored rows are weighted to stay unbiased."""
    outlier_rows_per_request: int = Field(default=1, ge=1, le=1000)
    """Rows of each request scored by the outlier detector, chosen at random: an unbiased
    estimate of the principal's outlier share at a fixed cost per request."""
    prada_min_queries: int = Field(default=100, ge=20)
    """Distances collected before the Shapiro-Wilk test runs."""
    prada_threshold: float = Field(default=0.65, gt=0, lt=1)
    """Flag model extraction when the Shapiro-Wilk W falls below this (calibrate on benign traffic:
    nearest-neighbour distances of low-dimensional tabular data are skewed, W ~0.8 when benign)."""
    prada_every: int = Field(default=50, ge=1)
    """Run the normality test every this many new distances (on the last 1000)."""
    enumeration_run: int = Field(default=12, ge=3)
    """Consecutive single-feature, constant-step queries that count as enumeration."""
    duplicate_ratio: float = Field(default=0.5, gt=0, le=1)
    """Flag when this share of recent queries repeat an earlier query exactly."""
    outlier_ratio: float = Field(default=0.3, gt=0, le=1)
    """Flag when this share of a principal's recent rows are outliers."""
    outlier_min_rows: int = Field(default=30, ge=1)
    """Scored rows needed before the outlier share is judged."""
    block_seconds: int = Field(default=3600, ge=1)
    """How long a principal stays blocked under the ``block`` policy."""
    drift_window: int = Field(default=1000, ge=50)
    """Predictions per monitoring window (the first one is the reference)."""
    drift_threshold: float = Field(default=0.25, gt=0)
    """PSI at or above which prediction drift raises an alert."""


class ServeSettings(_Strict):
    """Every setting the gateway uses, with its default."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    rate_limit: str = "100/second"
    """Per principal (``;``-separated limits make quotas: ``100/second;100000/day``). A principal is
    an API key's owner (all its keys share the budget) or a JWT subject."""
    rows_rate_limit: str = "10000/second"
    """Rows per principal and model (a batch of n rows costs n), on top of the request limits, so
    batching buys no more predictions; empty: none."""
    unauthenticated_rate_limit: str = "30/minute"
    """Failed authentications per client address (in memory, per process); over it: 429."""
    auth_denial_summary_interval: float = Field(default=60, gt=0, le=3600)
    """Seconds between summary ``auth.denied`` events of failed authentications (never one each)."""
    rate_limit_storage: str = "memory://"
    rate_limit_strategy: Literal["sliding-window", "moving-window", "fixed-window"] = "sliding-window"
    rate_limit_prefix: str = "mlward"
    """Key prefix in the shared limit store (several gateways may share one Redis)."""
    model_rate_limit: str = "1000/second"
    """Aggregate per-model limit over every principal (``serve.models.<name>.rate_limit`` overrides
    it); empty: none."""
    refresh_interval: float = 0
    integrity_interval: float = 60
    registry_poll_interval: float = 5
    """Seconds between checks for production-stage changes in the registry."""
    max_body_bytes: int = 1 << 20
    max_batch: int = 1000
    require_signed_requests: bool = False
    signature_skew_seconds: int = 300
    api_docs: Literal["auth", "public", "off"] = "auth"
    """``/openapi.json`` and ``/docs``: for any authenticated caller, for anyone, or not served."""
    abuse_policy: Policy = "flag"
    jwt: dict[str, Any] = Field(default_factory=dict)
    token_cache_seconds: float = 2.0
    """How long a verified API key is trusted before the database is asked again."""
    journal_flush_interval: float = 0.25
    """Seconds between moves of journaled audit events into the audit chain."""
    audit_shipper: Literal["process", "thread"] = "process"
    """Where journaled events are appended to the chain: a separate process per journal (keeps
    the chain append off the serving process's GIL) or a thread of the server."""
    audit_durability: Literal["process", "disk"] = "process"
    """When a prediction is answered: once its audit event is written to the journal (survives
    any crash of the server; synced every ``journal_sync_interval``) or once it is synced to disk."""
    journal_sync_interval: float = Field(default=0.05, gt=0, le=10)
    """Seconds between ``fdatasync`` calls of the journal under ``audit_durability: process``."""
    models: dict[str, ModelServeSpec] = Field(default_factory=dict)
    guards: GuardSettings = Field(default_factory=GuardSettings)

    def for_model(self, name: str) -> ModelServeSpec:
        """The serving options of model ``name`` (defaults when not configured)."""
        return self.models.get(name) or ModelServeSpec()


def load_settings(section: ServeSection, overrides: Mapping[str, Any] | None = None) -> ServeSettings:
    """Build the gateway settings from the ``serve:`` section and ``overrides``."""
    values: dict[str, Any] = {}
    for name in ServeSettings.model_fields:
        if hasattr(section, name):
            values[name] = getattr(section, name)
    values.update(overrides or {})
    try:
        return ServeSettings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("mlward.yaml serve", exc)) from exc


def redis_storage(url: str) -> bool:
    """Whether ``serve.rate_limit_storage`` names Redis (then the redis extra must be installed)."""
    if not url.removeprefix("async+").startswith(REDIS_SCHEMES):
        return False
    redis_asyncio()
    return True


def redis_asyncio() -> ModuleType:
    """``redis.asyncio``, or a one-line error naming the redis extra."""
    return require("redis.asyncio", feature="redis:// rate-limit and nonce storage")
