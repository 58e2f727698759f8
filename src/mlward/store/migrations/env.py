"""Alembic environment: always run with a connection handed in by ``store.metadata``."""

from __future__ import annotations

from alembic import context

from mlward.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="mlward_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
