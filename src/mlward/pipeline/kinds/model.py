"""Model supply-chain stages: ``scan-model``, ``sign``, ``register``, ``promote``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from mlward.core.errors import ConfigError
from mlward.lineage.graph import ArtifactRef
from mlward.pipeline.kinds.base import KindOptions, StageContext, StageKind, StageOutcome, file_digest


class PathOptions(KindOptions):
    """A model file or directory."""

    path: str


class ScanModelKind(StageKind):
    """Scan model files for code execution; metrics under ``scan``."""

    name = "scan-model"
    Options = PathOptions
    security = True

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        return [options.path], []

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.model.scan import scan_path

        report = scan_path(ctx.path(options.path), allowlist_extra=ctx.workspace.config.model.allowlist)
        worst = report.max_severity
        findings = [
            {"rule": f.rule_id, "severity": f.severity.name, "message": f.message} for f in report.findings
        ]
        return StageOutcome(
            metrics={
                "scan": {
                    "max_severity": worst.name if worst else None,
                    "verdict": report.verdict.value,
                    "findings": findings,
                    "files": len(report.files),
                }
            },
            summary=(
                f"{len(report.files)} file(s), {report.verdict.value}, max {worst.name if worst else 'none'}"
            ),
            report=report.to_dict(),
        )


class SignOptions(PathOptions):
    """Where to write the signature (default beside the model)."""

    signature: str | None = None
    method: str = Field(default="files", pattern="^(files|shards)$")


class SignKind(StageKind):
    """Sign a model with the workspace key (OpenSSF model signing)."""

    name = "sign"
    Options = SignOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        return [options.path], [options.signature or _default_signature(options.path)]

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.model.signing import sign_model

        signature = ctx.path(options.signature or _default_signature(options.path))
        result = sign_model(
            ctx.path(options.path), ctx.workspace.keys.signing_key(), method=options.method, output=signature
        )
        return StageOutcome(
            metrics={"model": {"signed": True, "root_digest": result.root_digest}},
            produced={options.signature or _default_signature(options.path): file_digest(signature)},
            summary=f"signed {options.path} (sha256:{result.root_digest[:12]})",
        )


def _default_signature(path: str) -> str:
    return path.rstrip("/") + ".sig"


class RegisterOptions(PathOptions):
    """Register a model file or directory under ``name``."""

    name: str
    datasets: list[str] = Field(default_factory=list)
    """Training datasets as ``name@version`` or ``name`` (latest version)."""
    metrics_file: str | None = None
    framework: str | None = None
    description: str = ""


class RegisterKind(StageKind):
    """Scan, sign and store a model in the registry (refused on blocking findings)."""

    name = "register"
    Options = RegisterOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        inputs = [options.path, *(f"dataset:{d.split('@')[0]}" for d in options.datasets)]
        if options.metrics_file:
            inputs.append(options.metrics_file)
        return inputs, [f"model:{options.name}"]

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.model.registry import register_model

        metrics: dict[str, Any] = {}
        if options.metrics_file:
            metrics = json.loads(ctx.path(options.metrics_file).read_text())
        datasets = [_resolve_dataset(ctx, ref) for ref in options.datasets]
        version = register_model(
            ctx.workspace,
            ctx.path(options.path),
            options.name,
            framework=options.framework,
            metrics={k: v for k, v in metrics.items() if isinstance(v, int | float | str)},
            datasets=datasets,
            description=options.description,
            principal=ctx.principal,
        )
        model = {
            "name": version.name,
            "version": version.version,
            "root_digest": version.root_digest,
            "datasets": datasets,
            "path": options.path,
        }
        return StageOutcome(
            metrics={
                "model": {
                    "signed": True,
                    "registered": True,
                    "version": version.version,
                    "scan_max_severity": version.scan_max_severity,
                }
            },
            produced={f"model:{options.name}": version.root_digest},
            summary=f"registered {version.ref} (sha256:{version.root_digest[:12]})",
            models=(model,),
            outputs=(
                ArtifactRef("model", version.name, str(version.version), f"sha256:{version.root_digest}"),
            ),
        )


def _resolve_dataset(ctx: StageContext, ref: str) -> str:
    """``name`` → ``name@<version produced upstream or latest registered>``."""
    if "@" in ref:
        return ref
    for outcome in ctx.upstream.values():
        for item in outcome.outputs:
            if item.kind == "dataset" and item.name == ref:
                return f"{ref}@{item.version}"
    try:
        from mlward.data.catalog import get_dataset

        return f"{ref}@{get_dataset(ctx.workspace, ref).version}"
    except ImportError:
        return ref


class PromoteOptions(KindOptions):
    """Promote the model registered upstream (or ``model@version``) to ``stage``."""

    model: str
    to: str = Field(default="production", pattern="^(staging|production|archived)$")


class PromoteKind(StageKind):
    """Re-verify and promote a model version (needs the approver role)."""

    name = "promote"
    Options = PromoteOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        name = options.model.split("@")[0]
        return [f"model:{name}"], [f"deployment:{name}"]

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.model.registry import get_model, promote_model

        name, _, selector = options.model.partition("@")
        if not selector:
            produced = [m for m in ctx.upstream_models() if m["name"] == name]
            selector = (
                str(produced[-1]["version"]) if produced else str(get_model(ctx.workspace, name).version)
            )
        if not selector.isdigit():
            raise ConfigError(f"stage {ctx.stage}: model must be NAME or NAME@VERSION")
        version = promote_model(ctx.workspace, name, int(selector), options.to, principal=ctx.principal)
        return StageOutcome(
            metrics={
                "deploy": {
                    "stage": version.stage,
                    "version": version.version,
                    "approved_by": version.approved_by,
                }
            },
            produced={f"deployment:{name}": version.root_digest},
            summary=f"{version.ref} -> {version.stage}",
        )
