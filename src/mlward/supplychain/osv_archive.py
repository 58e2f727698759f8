"""Offline vulnerability service over an OSV ``all.zip`` export (``PyPI/all.zip``).

The export is a zip with one OSV JSON record per advisory. Reading tens of thousands of
JSON members on every audit is slow, so the first audit indexes the zip into a small
SQLite file (compact records keyed by normalised package name) named after the zip's
SHA-256: a changed zip gets a new index, a repeated audit only reads the rows it needs.
Withdrawn advisories are dropped at indexing time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlward.supplychain.interface import (
    PackageVersion,
    QueryResult,
    ServiceError,
    Vulnerability,
    VulnerabilityService,
)
from mlward.supplychain.osv import affected_package_names, compact_record, vulnerability_for

INDEX_FORMAT = "1"
"""Bumped whenever the index layout or the compaction changes, so old caches are rebuilt."""

MAX_RECORD_BYTES = 8 * 1024 * 1024
"""Largest advisory member read from the zip; bigger members are reported, not inflated."""


@dataclass(frozen=True)
class IndexStats:
    """What indexing an archive found."""

    advisories: int
    """Records indexed (PyPI, not withdrawn)."""
    withdrawn: int
    """Records skipped because they are withdrawn."""
    rejected: tuple[str, ...]
    """Members that could not be used, each with the reason."""


def default_cache_dir() -> Path:
    """The per-user cache folder for OSV indexes (``$XDG_CACHE_HOME/mlward/osv``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlward" / "osv"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisory (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE affects (package TEXT NOT NULL, advisory_id TEXT NOT NULL);
CREATE INDEX affects_package ON affects (package);
"""


def build_index(archive: Path, connection: sqlite3.Connection, digest: str) -> IndexStats:
    """Read every advisory in ``archive`` into an empty index database."""
    connection.executescript(_SCHEMA)
    advisories = withdrawn = 0
    rejected: list[str] = []
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.endswith(".json"):
                    continue
                with zf.open(info) as member:
                    raw = member.read(MAX_RECORD_BYTES + 1)
                if len(raw) > MAX_RECORD_BYTES:
                    rejected.append(f"{info.filename}: larger than {MAX_RECORD_BYTES} bytes")
                    continue
                try:
                    record = json.loads(raw)
                except (ValueError, UnicodeDecodeError) as exc:
                    rejected.append(f"{info.filename}: not JSON ({exc})")
                    continue
                if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                    rejected.append(f"{info.filename}: not an OSV record (no id)")
                    continue
                if record.get("withdrawn"):
                    withdrawn += 1
                    continue
                names = affected_package_names(record)
                if not names:
                    continue
                advisories += 1
                connection.execute(
                    "INSERT OR REPLACE INTO advisory VALUES (?, ?)",
                    (record["id"], json.dumps(compact_record(record), separators=(",", ":"))),
                )
                connection.executemany(
                    "INSERT INTO affects VALUES (?, ?)", [(n, record["id"]) for n in names]
                )
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ServiceError(
            f"cannot read OSV archive {archive}: {exc}",
            hint="download PyPI/all.zip from the OSV data bucket again",
        ) from None
    meta = {
        "format": INDEX_FORMAT,
        "sha256": digest,
        "advisories": str(advisories),
        "withdrawn": str(withdrawn),
        "rejected": json.dumps(rejected),
    }
    connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    connection.commit()
    return IndexStats(advisories=advisories, withdrawn=withdrawn, rejected=tuple(rejected))


def _read_stats(connection: sqlite3.Connection) -> IndexStats:
    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    return IndexStats(
        advisories=int(meta["advisories"]),
        withdrawn=int(meta["withdrawn"]),
        rejected=tuple(json.loads(meta["rejected"])),
    )


def _open_cached(path: Path, digest: str) -> sqlite3.Connection | None:
    """Open an existing index if it is complete and was built from this digest and format."""
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error:
        return None
    if meta.get("format") != INDEX_FORMAT or meta.get("sha256") != digest:
        connection.close()
        return None
    return connection


class OsvArchiveService(VulnerabilityService):
    """Answers queries from a local OSV ``all.zip``, through a cached SQLite index."""

    name = "osv-archive"

    def __init__(self, archive: Path, cache_dir: Path | None = None) -> None:
        """Use ``archive``; cache its index under ``cache_dir`` (None: index in memory only)."""
        self.archive = Path(archive)
        self.cache_dir = cache_dir
        self._connection: sqlite3.Connection | None = None
        self.stats: IndexStats | None = None
        """Filled on first use: what the index holds."""
        self.index_path: Path | None = None
        """Where the cached index lives (None when kept in memory)."""
        self.digest: str | None = None
        """SHA-256 of the archive."""

    def describe(self) -> str:
        """Name the archive and its digest."""
        digest = self.digest[:12] if self.digest else "not read yet"
        return f"{self.name} {self.archive} (sha256 {digest})"

    def _index(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        if not self.archive.is_file():
            raise ServiceError(
                f"OSV archive {self.archive} does not exist",
                hint="pass --db with the path of a downloaded PyPI all.zip",
            )
        self.digest = sha256_file(self.archive)
        connection = None
        if self.cache_dir is not None:
            self.index_path = self.cache_dir / f"osv-{self.digest}.sqlite"
            connection = _open_cached(self.index_path, self.digest)
            if connection is None:
                connection = self._build_cached(self.index_path)
        if connection is None:
            self.index_path = None
            connection = sqlite3.connect(":memory:")
            self.stats = build_index(self.archive, connection, self.digest)
        if self.stats is None:
            self.stats = _read_stats(connection)
        self._connection = connection
        return connection

    def _build_cached(self, target: Path) -> sqlite3.Connection | None:
        """Build the index into a temp file and rename it into place (None: cache unusable)."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".osv-", suffix=".tmp", dir=target.parent)
            os.close(fd)
        except OSError:
            return None  # a read-only cache folder should not stop an audit
        try:
            with contextlib.closing(sqlite3.connect(temp)) as connection:
                self.stats = build_index(self.archive, connection, self.digest or "")
            os.replace(temp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        return _open_cached(target, self.digest or "")

    def records_for(self, package: str) -> list[dict[str, object]]:
        """Return the compact records that list the normalised ``package``."""
        rows = self._index().execute(
            "SELECT a.record FROM affects f JOIN advisory a ON a.id = f.advisory_id "
            "WHERE f.package = ? ORDER BY a.id",
            (package,),
        )
        return [json.loads(row[0]) for row in rows]

    def query(self, packages: Sequence[PackageVersion]) -> QueryResult:
        """Match every package version against the archive's advisories."""
        self._index()  # a missing or corrupt archive fails even an empty audit
        warnings: list[str] = []
        found: dict[PackageVersion, tuple[Vulnerability, ...]] = {}
        records_by_name: dict[str, list[dict[str, object]]] = {}
        for package in packages:
            if package.name not in records_by_name:
                records_by_name[package.name] = self.records_for(package.name)
            matches = []
            for record in records_by_name[package.name]:
                vuln = vulnerability_for(record, package.name, package.version, warnings)
                if vuln is not None:
                    matches.append(vuln)
            found[package] = tuple(matches)
        stats = self.stats
        if stats is not None and stats.rejected:
            warnings.append(
                f"{len(stats.rejected)} member(s) of {self.archive.name} could not be used, "
                f"first: {stats.rejected[0]}"
            )
        return QueryResult(vulnerabilities=found, warnings=tuple(dict.fromkeys(warnings)))

    def close(self) -> None:
        """Close the index database."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
