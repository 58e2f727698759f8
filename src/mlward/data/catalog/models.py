"""Metadata tables of the dataset catalogue.

A ``datasets`` row is a name; each ``add`` with new content appends a
``dataset_versions`` row with its manifest (``dataset_files``), its columns and their PII
classification (``dataset_columns``, one row per column so search runs in SQL), and its
tags (``dataset_tags``). Migration: ``store/migrations/versions/datasets_0001_catalog.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mlward.store.models import Base


class DatasetRow(Base):
    """A dataset name; its versions live in ``dataset_versions``."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DatasetVersionRow(Base):
    """One content-addressed version of a dataset."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version", name="uq_dataset_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    """SHA-256 of the canonical (relative path, file digest) manifest."""
    layout: Mapped[str] = mapped_column(String(10))
    """``file`` or ``directory``."""
    format: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    sensitivity: Mapped[str] = mapped_column(String(20), index=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Workspace data key that wrapped the blobs' envelope keys (encrypted versions)."""
    profile_blob: Mapped[str] = mapped_column(String(64))
    """Object-store blob of the profile JSON (envelope-encrypted when ``encrypted``)."""
    pii: Mapped[dict[str, Any]] = mapped_column(JSON)
    """PII scan summary: settings, rows scanned, sampled columns."""
    owner: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lineage_run: Mapped[str | None] = mapped_column(String(36), nullable=True)
    produced_by: Mapped[str | None] = mapped_column(String(300), nullable=True)
    """Job that recorded this version (``data.add`` or a pipeline stage)."""
    producing_run: Mapped[str | None] = mapped_column(String(36), nullable=True)
    """An existing run linked as the producer (``--produced-by RUN_ID``)."""


class DatasetFileRow(Base):
    """One file of a version's manifest."""

    __tablename__ = "dataset_files"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    """POSIX path relative to the dataset root (the file name for a single file)."""
    digest: Mapped[str] = mapped_column(String(64), index=True)
    """SHA-256 of the plaintext bytes."""
    size: Mapped[int] = mapped_column(BigInteger)
    blob: Mapped[str] = mapped_column(String(64))
    """Object-store blob holding the bytes (equal to ``digest`` unless encrypted)."""
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)


class DatasetColumnRow(Base):
    """One column of a version with its PII classification (searchable)."""

    __tablename__ = "dataset_columns"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(500), index=True)
    type: Mapped[str] = mapped_column(String(200))
    entities: Mapped[str] = mapped_column(String(1000))
    """Entity types as ``|EMAIL|PHONE|`` (delimited so ``LIKE '%|EMAIL|%'`` is exact)."""
    sensitivity: Mapped[str] = mapped_column(String(20))


class DatasetTagRow(Base):
    """A tag on a version."""

    __tablename__ = "dataset_tags"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
