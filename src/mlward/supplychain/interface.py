"""The vulnerability-service family: what is audited, what comes back, and the ABC.

A ``VulnerabilityService`` answers one question — which known advisories affect these
package versions — from some source of OSV records (the OSV API, an offline ``all.zip``
export). Everything else (where the versions came from, merging aliases, severity gates,
output formats) lives outside the services, so a new source is one new module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from mlward.core.errors import ScanError
from mlward.core.findings import Severity

ECOSYSTEM = "PyPI"
"""The OSV ecosystem string for Python packages (and the only one mlward audits)."""


@dataclass(frozen=True)
class Dependency:
    """One Python distribution to audit, with the version that was resolved for it."""

    name: str
    """Project name as declared (display spelling); compare with ``key``."""
    version: str | None
    """The version to audit; None when no version could be resolved."""
    path: str
    """Where it was declared: a requirements file, a pyproject.toml, or an environment."""
    line: int | None = None
    """1-based line of the declaration in ``path`` (None when not known)."""
    requirement: str | None = None
    """The declared requirement text; None for packages listed from an environment."""
    note: str | None = None
    """How the version was chosen (``pinned``, ``installed``) or why it was not."""

    @property
    def key(self) -> str:
        """The PEP 503 normalised name used for matching."""
        return str(canonicalize_name(self.name))


@dataclass(frozen=True, order=True)
class PackageVersion:
    """A (normalised name, version) pair as sent to a service."""

    name: str
    """PEP 503 normalised project name."""
    version: str
    """Version string exactly as resolved (it may be an invalid PEP 440 version)."""


@dataclass(frozen=True)
class Rating:
    """One severity rating attached to an advisory."""

    source: str
    """The advisory that carries the rating (``GHSA-…``)."""
    method: str
    """``CVSS_V2``, ``CVSS_V3``, ``CVSS_V4`` or ``DATABASE`` (database_specific.severity)."""
    severity: Severity
    """Qualitative severity on mlward's scale."""
    score: float | None = None
    """CVSS base score computed from ``vector``; None for database ratings."""
    vector: str | None = None
    """The CVSS vector string; None for database ratings."""


@dataclass(frozen=True)
class Vulnerability:
    """A known advisory that affects one audited package version."""

    id: str
    """Primary advisory id (``GHSA-…``, ``PYSEC-…``)."""
    aliases: tuple[str, ...]
    """Other ids of the same vulnerability (CVE ids, merged advisories), sorted."""
    summary: str
    """One-line description."""
    severity: Severity
    """Highest rating; HIGH when the advisory carries no rating (fail closed)."""
    rated: bool
    """False when no rating was published and ``severity`` is the fail-closed default."""
    ratings: tuple[Rating, ...] = ()
    """Every rating found (CVSS vectors first)."""
    fix_versions: tuple[str, ...] = ()
    """Fixed versions above the audited version, ascending; the first is the nearest fix."""
    references: tuple[str, ...] = ()
    """Reference URLs, advisory links first."""
    published: str | None = None
    """RFC 3339 publication time, as in the advisory."""
    modified: str | None = None
    """RFC 3339 time of the advisory's last change."""

    @property
    def ids(self) -> frozenset[str]:
        """The primary id with every alias."""
        return frozenset((self.id, *self.aliases))


@dataclass(frozen=True)
class QueryResult:
    """What a service returns for a batch of package versions."""

    vulnerabilities: Mapping[PackageVersion, tuple[Vulnerability, ...]]
    """Advisories affecting each queried package version (empty tuple: none known)."""
    warnings: tuple[str, ...] = field(default=())
    """Problems that did not stop the query (an advisory with an unparseable version)."""


class ServiceError(ScanError):
    """A vulnerability source could not answer (network down, corrupt database)."""


class VulnerabilityService(ABC):
    """A source of OSV advisories that can be asked about many package versions at once."""

    name: str = "abstract"
    """Short name shown in reports (``osv-api``, ``osv-archive``)."""

    @abstractmethod
    def query(self, packages: Sequence[PackageVersion]) -> QueryResult:
        """Return the advisories affecting each of ``packages``; raise ``ServiceError``."""

    def describe(self) -> str:
        """One line naming the source (the API URL, the archive path and digest)."""
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook, most services hold nothing
        """Release connections and files."""
