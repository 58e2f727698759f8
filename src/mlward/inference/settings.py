"""Serving settings: the ``serve:`` section of ``mlward.yaml``, one schema with its bounds.

``ServeSettings`` is the core ``ServeSection`` (every key and bound declared once, there)
with ``serve.models.<name>`` (``ModelServeSpec``) and ``serve.guards`` (``GuardSettings``)
typed by this package, like other packages validate their own free-form sections.
``load_settings`` applies overrides (``create_app(..., overrides)``, tests, embedding) and
validates the result with that same schema, so an override cannot skip a bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlward.core.config import ServeSection, format_validation_error
from mlward.core.errors import ConfigError

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


class ServeSettings(ServeSection):
    """Every setting the gateway and the hosting slots use: the core ``serve:`` schema (its
    bounds included), with the per-model options and the guards validated by their schemas."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, ModelServeSpec] = Field(default_factory=dict)  # type: ignore[assignment]
    guards: GuardSettings = Field(default_factory=GuardSettings)  # type: ignore[assignment]

    def for_model(self, name: str) -> ModelServeSpec:
        """The serving options of model ``name`` (defaults when not configured)."""
        return self.models.get(name) or ModelServeSpec()


def load_settings(section: ServeSection, overrides: Mapping[str, Any] | None = None) -> ServeSettings:
    """Build the settings from the ``serve:`` section and ``overrides``, both checked by one schema.

    An override outside a bound (``port: 0``, ``journal_sync_interval: 60``) is refused with
    the same ``ConfigError`` as the same value in ``mlward.yaml``.
    """
    values: dict[str, Any] = section.model_dump()
    values.update(overrides or {})
    try:
        return ServeSettings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("mlward.yaml serve", exc)) from exc
