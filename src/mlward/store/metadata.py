"""The metadata store: SQLite (WAL) by default, PostgreSQL by URL.

``MetadataStore.open`` connects, applies pending Alembic migrations under a lock (so
several processes starting at once do not race), and hands out sessions. SQLite
writers take the database lock at ``BEGIN`` (``BEGIN IMMEDIATE``) so concurrent
read-modify-write transactions serialize instead of failing half way.

A SQLite database locked by another writer for longer than the busy timeout (5 s by
default) is a ``StoreError`` saying so, not a traceback. ``read_only=True`` opens the
file with ``mode=ro``: nothing is migrated and no write lock is taken, so commands that
only look never change the database.

``unit_of_work()`` makes several writers one transaction: every ``session()`` opened
inside the block (by the catalogue, lineage and the audit log alike) joins it as a
savepoint, and nothing is committed unless the whole block succeeds.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mlward.core.errors import ConfigError, StoreError
from mlward.core.optional import require

_MIGRATIONS = str(Path(__file__).with_name("migrations"))
_VERSION_TABLE = "mlward_alembic_version"
_PG_MIGRATION_LOCK = 0x6D6C7761  # "mlwa": advisory lock key for schema upgrades


def redact_url(url: str) -> str:
    """Return ``url`` with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def _sqlite_pragmas(busy_timeout: float, read_only: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's pysqlite driver stop issuing its own BEGIN, so we can issue
        # BEGIN IMMEDIATE ourselves (see the "begin" listener below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def _sqlite_begin(read_only: bool) -> Any:
    statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"

    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(statement)

    return on_begin


def _note_write(connection: Any, _cursor: Any, _sql: Any, _params: Any, context: Any, _many: Any) -> None:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        connection.info["mlward_wrote"] = True


def _forget_write(connection: Any) -> None:
    connection.info.pop("mlward_wrote", None)


def _is_locked(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return "database is locked" in str(orig if orig is not None else exc)


def _locked_error(url: str, busy_timeout: float) -> StoreError:
    return StoreError(
        f"the metadata database {redact_url(url)} is locked by another mlward process "
        f"(waited {busy_timeout:g}s)",
        hint="retry when it has finished, or raise metadata_busy_timeout in mlward.yaml",
    )


@dataclass
class _Unit:
    """The transaction a ``unit_of_work`` block shares, and what waits for its commit."""

    store: MetadataStore
    session: Session
    after_commit: list[Callable[[], None]] = field(default_factory=list)


_UNIT: ContextVar[_Unit | None] = ContextVar("mlward_unit_of_work", default=None)


def _alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    config.attributes["connection"] = connection
    return config


class MetadataStore:
    """Connection to the metadata database, migrated to the current schema."""

    def __init__(self, engine: Engine, *, read_only: bool = False, busy_timeout: float = 30.0) -> None:
        self.engine = engine
        self.read_only = read_only
        self.busy_timeout = busy_timeout
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.committed_writes = 0
        """Transactions that changed rows and committed (the CLI reports them on Ctrl-C)."""
        event.listen(engine, "after_cursor_execute", _note_write)
        event.listen(engine, "commit", self._count_commit)
        event.listen(engine, "rollback", _forget_write)

    def _count_commit(self, connection: Any) -> None:
        if connection.info.pop("mlward_wrote", False):
            self.committed_writes += 1

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        lock_dir: Path | None = None,
        read_only: bool = False,
        busy_timeout: float = 30.0,
    ) -> MetadataStore:
        """Connect to ``url`` and bring its schema up to date (``read_only``: only check it is)."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(f"metadata_url is not a valid database URL: {redact_url(url)}") from exc
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": busy_timeout, "check_same_thread": False}
            if read_only and parsed.database:
                # mode=ro: SQLite itself refuses every write through this connection.
                parsed = parsed.set(database=f"file:{parsed.database}?mode=ro", query={"uri": "true"})
        elif parsed.get_backend_name() == "postgresql":
            if parsed.drivername == "postgresql":
                # SQLAlchemy's default driver is psycopg2; the postgres extra installs psycopg 3.
                parsed = parsed.set(drivername="postgresql+psycopg")
            if parsed.get_driver_name() == "psycopg":
                require("psycopg", feature="a PostgreSQL metadata_url")
            kwargs["pool_pre_ping"] = True
            kwargs["connect_args"] = {"connect_timeout": 10}
        else:
            raise ConfigError(
                f"unsupported metadata database {parsed.get_backend_name()!r}",
                hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
            )
        try:
            engine = create_engine(parsed, **kwargs)
        except (ArgumentError, ImportError) as exc:
            hint = None
            if isinstance(exc, ImportError) and parsed.get_backend_name() == "postgresql":
                hint = "mlward[postgres] installs psycopg 3: use postgresql+psycopg://"
            raise ConfigError(f"cannot use metadata_url {redact_url(url)}: {exc}", hint=hint) from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas(busy_timeout, read_only))
            event.listen(engine, "begin", _sqlite_begin(read_only))
        elif read_only:
            engine = engine.execution_options(postgresql_readonly=True)
        store = cls(engine, read_only=read_only, busy_timeout=busy_timeout)
        try:
            with engine.connect():
                pass
        except OperationalError as exc:
            engine.dispose()
            if _is_locked(exc):
                raise _locked_error(url, busy_timeout) from None
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(
                f"cannot connect to the metadata database {redact_url(url)}: {reason}",
                hint="check metadata_url in mlward.yaml or MLWARD_METADATA_URL",
            ) from None
        try:
            if read_only:
                if store.needs_migration():
                    engine.dispose()
                    raise StoreError(
                        f"the metadata database {redact_url(url)} needs a schema upgrade",
                        hint="run any command that writes (for example 'mlward status' on a writable copy)",
                    )
            elif migrate:
                store.migrate(lock_dir)
        except OperationalError as exc:
            engine.dispose()
            if _is_locked(exc):
                raise _locked_error(url, busy_timeout) from None
            raise StoreError(f"cannot open the metadata database {redact_url(url)}: {exc.orig}") from None
        return store

    def migrate(self, lock_dir: Path | None = None) -> None:
        """Apply pending migrations, holding a cross-process lock while doing so."""
        if not self.needs_migration():
            return
        with self._migration_lock(lock_dir), self.engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            # Each domain package adds migrations branching from the base: apply every head.
            command.upgrade(_alembic_config(connection), "heads")

    def needs_migration(self) -> bool:
        """Whether the database is behind the newest migration."""
        heads = set(ScriptDirectory(_MIGRATIONS).get_heads())
        with self.engine.connect() as connection:
            current = MigrationContext.configure(
                connection, opts={"version_table": _VERSION_TABLE}
            ).get_current_heads()
        return set(current) != heads

    @contextlib.contextmanager
    def _migration_lock(self, lock_dir: Path | None) -> Iterator[None]:
        if self.dialect != "sqlite" or lock_dir is None:
            yield
            return
        lock_path = lock_dir / "migrate.lock"
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _unit(self) -> _Unit | None:
        unit = _UNIT.get()
        return unit if unit is not None and unit.store is self else None

    def _raise_store_error(self, exc: SQLAlchemyError) -> NoReturn:
        if _is_locked(exc):
            raise _locked_error(str(self.engine.url), self.busy_timeout) from None
        raise StoreError(f"metadata store error: {exc.__class__.__name__}: {exc}") from exc

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on error.

        Inside ``unit_of_work()`` it is a savepoint of the unit's transaction instead: an
        error rolls back only this block's part (the caller may catch it and retry), and
        what it wrote commits only with the whole unit.
        """
        unit = self._unit()
        if unit is not None:
            try:
                with unit.session.begin_nested():
                    yield unit.session
            except SQLAlchemyError as exc:
                self._raise_store_error(exc)
            return
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            self._raise_store_error(exc)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction for every ``session()`` opened in the block: all commit, or none.

        For a row, its lineage and its audit event. Work registered with ``after_commit``
        runs once the unit has committed (never when it rolled back). A unit inside a unit
        is a savepoint of the outer one.
        """
        if self._unit() is not None:
            with self.session() as joined:
                yield joined
            return
        with self.session() as session:
            unit = _Unit(self, session)
            token = _UNIT.set(unit)
            try:
                yield session
            finally:
                _UNIT.reset(token)
        for callback in unit.after_commit:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current unit of work commits (at once outside one)."""
        unit = self._unit()
        if unit is None:
            callback()
        else:
            unit.after_commit.append(callback)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
