"""Shared fixtures: workspaces on SQLite and on the real PostgreSQL server.

PostgreSQL (127.0.0.1:5432, database ``test``) is required: when it is unreachable
the tests that need it fail with a clear message, they are never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BASE_URL = os.environ.get("MLWARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MLWARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _pg_admin():
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(PG_BASE_URL)
    try:
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            dbname=url.database,
            password=url.password,
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for this test but {url.render_as_string(hide_password=True)} "
            f"is unreachable: {exc}. Start it (see README, 'Running the tests').",
            pytrace=False,
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A SQLAlchemy URL pointing at a fresh, private schema in the test database."""
    schema = f"mlward_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_BASE_URL else "?"
    yield f"{PG_BASE_URL}{sep}options=-csearch_path%3D{schema}"
    with _pg_admin() as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against SQLite and against PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh workspace (SQLite) whose creator is the principal ``tester``."""
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    ws = Workspace.init(tmp_path / "ws", project="test-project")
    yield ws
    ws.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_workspace(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh workspace on each metadata backend."""
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    if request.param == "postgresql":
        monkeypatch.setenv("MLWARD_METADATA_URL", request.getfixturevalue("pg_url"))
    ws = Workspace.init(tmp_path / "ws", project="test-project")
    yield ws
    ws.close()
