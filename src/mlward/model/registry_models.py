"""Metadata tables of the model registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mlward.store.models import Base

STAGES = ("none", "staging", "production", "archived")


class RegisteredModel(Base):
    """A model name; its versions live in ``model_versions``."""

    __tablename__ = "registered_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    description: Mapped[str] = mapped_column(Text, default="")


class ModelVersionRow(Base):
    """One registered, scanned and signed version of a model."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(20), default="none", index=True)
    framework: Mapped[str] = mapped_column(String(40))
    format: Mapped[str] = mapped_column(String(60))
    artifact_name: Mapped[str] = mapped_column(String(300))
    """File or directory name as registered (the signed subject name)."""
    is_directory: Mapped[bool] = mapped_column(default=False)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``{relative path: sha256}`` of every stored file."""
    root_digest: Mapped[str] = mapped_column(String(64), index=True)
    """Digest of the signed manifest subject."""
    signature_digest: Mapped[str] = mapped_column(String(64))
    """Object-store blob of the Sigstore bundle."""
    signing_key: Mapped[str] = mapped_column(String(32))
    scan: Mapped[dict[str, Any]] = mapped_column(JSON)
    scan_max_severity: Mapped[str | None] = mapped_column(String(10), nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    datasets: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``{"inputs": ["name@version", ...]}`` training datasets."""
    accepted_risk: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
