"""Pipeline run records and the stage cache, in the metadata store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from mlward.store.models import Base


class PipelineRun(Base):
    """One ``mlward run``."""

    __tablename__ = "pipeline_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    principal: Mapped[str] = mapped_column(String(200))
    config_digest: Mapped[str] = mapped_column(String(64))
    stages: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``{stage: {status, summary, cached, metrics, duration_s, error}}``."""
    gates: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``{"results": [GateResult...]}``."""
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``{model ref: signature blob digest}``."""


class StageCache(Base):
    """The last successful outcome of a stage and the key it was computed under."""

    __tablename__ = "pipeline_cache"

    stage: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[str] = mapped_column(String(36))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
