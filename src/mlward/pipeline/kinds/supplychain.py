"""Supply-chain stages: ``audit-deps`` (OSV) and ``sbom`` (CycloneDX)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from mlward.core.errors import ConfigError
from mlward.pipeline.kinds.base import KindOptions, StageContext, StageKind, StageOutcome, file_digest


class AuditDepsOptions(KindOptions):
    """Which dependencies to audit and against which advisories."""

    requirements: list[str] = Field(default_factory=list)
    pyproject: str | None = None
    environment: bool = False
    """Audit every installed distribution (the default when no file is named)."""
    db: str | None = None
    """Offline OSV export (``PyPI all.zip``); the OSV API is used when absent."""
    offline: bool = False


class AuditDepsKind(StageKind):
    """Match dependencies against OSV advisories; metrics under ``deps``."""

    name = "audit-deps"
    Options = AuditDepsOptions
    security = True

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        inputs = [*options.requirements, *([options.pyproject] if options.pyproject else [])]
        return inputs, []

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.supplychain.audit import audit_dependencies
        from mlward.supplychain.environment import current_environment
        from mlward.supplychain.format.json import report_dict
        from mlward.supplychain.interface import VulnerabilityService
        from mlward.supplychain.osv_api import OsvApiService
        from mlward.supplychain.osv_archive import OsvArchiveService, default_cache_dir
        from mlward.supplychain.resolve import collect_dependencies

        if options.offline and not options.db:
            raise ConfigError(f"stage {ctx.stage}: offline needs db (an OSV all.zip)")
        files = [ctx.path(r) for r in options.requirements]
        pyproject = ctx.path(options.pyproject) if options.pyproject else None
        dependencies = collect_dependencies(
            requirements=files,
            pyproject=pyproject,
            environment=current_environment(),
            include_environment=options.environment or (not files and pyproject is None),
        )
        service: VulnerabilityService = (
            OsvArchiveService(ctx.path(options.db), cache_dir=default_cache_dir())
            if options.db
            else OsvApiService()
        )
        try:
            report = audit_dependencies(dependencies, service)
        finally:
            service.close()
        vulnerabilities = [
            {
                "id": vuln.id,
                "package": dep.name,
                "version": dep.version,
                "severity": vuln.severity.name,
                "fix_versions": list(vuln.fix_versions),
                "aliases": list(vuln.aliases),
            }
            for dep, vuln in report.vulnerabilities
        ]
        worst = max(
            (vuln.severity.name for _, vuln in report.vulnerabilities),
            key=lambda s: ["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"].index(s),
            default=None,
        )
        return StageOutcome(
            metrics={
                "deps": {
                    "vulnerabilities": vulnerabilities,
                    "audited": len(report.results),
                    "unresolved": len(report.unresolved),
                    "max_severity": worst,
                }
            },
            summary=f"{len(report.results)} dependencies, {len(vulnerabilities)} known vulnerabilities"
            + (f" (worst {worst})" if worst else ""),
            report=json.loads(json.dumps(report_dict(report), default=str)),
        )


class SbomOptions(KindOptions):
    """Where to write the CycloneDX SBOM."""

    output: str = "sbom.cdx.json"
    include_models: bool = True
    """Add the registry's production models (ML-BOM components)."""


class SbomKind(StageKind):
    """Write a CycloneDX 1.6 SBOM of the environment plus registered models."""

    name = "sbom"
    Options = SbomOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        return [], [options.output]

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.report.cyclonedx import validate_bom
        from mlward.supplychain.sbom import workspace_sbom

        bom = workspace_sbom(ctx.workspace, include_models=options.include_models)
        errors = validate_bom(bom)
        if errors:
            raise ConfigError(f"stage {ctx.stage}: generated SBOM is not valid CycloneDX: {errors[0]}")
        path = ctx.path(options.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(bom, indent=2))
        models = sum(1 for c in bom["components"] if c["type"] == "machine-learning-model")
        return StageOutcome(
            metrics={"sbom": {"components": len(bom["components"]), "models": models}},
            produced={options.output: file_digest(path)},
            summary=f"{len(bom['components'])} components ({models} models) -> {options.output}",
        )
