"""Dependency vulnerability audit (OSV) and SBOM (CycloneDX 1.6) for Python environments.

Typical use::

    env = current_environment()
    deps = collect_dependencies(requirements=[Path("requirements.txt")], environment=env)
    report = audit_dependencies(deps, OsvArchiveService(Path("PyPI-all.zip")))
    report.count(Severity.HIGH), report.findings()
    bom = build_sbom(env.packages)
"""

from mlward.supplychain.audit import AuditedDependency, AuditReport, audit_dependencies
from mlward.supplychain.environment import (
    Environment,
    InstalledPackage,
    current_environment,
    interpreter_environment,
)
from mlward.supplychain.interface import (
    Dependency,
    PackageVersion,
    QueryResult,
    Rating,
    ServiceError,
    Vulnerability,
    VulnerabilityService,
)
from mlward.supplychain.osv_api import OsvApiService
from mlward.supplychain.osv_archive import OsvArchiveService
from mlward.supplychain.resolve import collect_dependencies
from mlward.supplychain.sbom import build_sbom

__all__ = [
    "AuditReport",
    "AuditedDependency",
    "Dependency",
    "Environment",
    "InstalledPackage",
    "OsvApiService",
    "OsvArchiveService",
    "PackageVersion",
    "QueryResult",
    "Rating",
    "ServiceError",
    "Vulnerability",
    "VulnerabilityService",
    "audit_dependencies",
    "build_sbom",
    "collect_dependencies",
    "current_environment",
    "interpreter_environment",
]
