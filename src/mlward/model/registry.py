"""The model registry: only scanned and signed artifacts get in, only verified ones out.

``register_model`` scans the artifact (refusing findings at or above
``model.block_on`` unless an approver accepts the risk), signs it with the workspace key
in the OpenSSF model-signing format, copies every file into the object store and
records the version with its metrics, training datasets (lineage) and scan report.
``promote_model`` re-verifies and needs the ``model:promote`` permission.
``load_model`` copies the files out (digests checked), verifies the signature, re-scans,
and only then deserializes with the restricted loader; a tampered artifact raises
``IntegrityError``, is audited, and is never deserialized.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mlward.access.authorize import Caller, authorize
from mlward.core.errors import (
    ConfigError,
    InputError,
    IntegrityError,
    MlwardError,
    NotFound,
    PolicyViolation,
)
from mlward.core.findings import Severity
from mlward.lineage.graph import ArtifactRef
from mlward.model.registry_models import STAGES, ModelVersionRow, RegisteredModel
from mlward.workspace import Workspace, current_principal

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
SIGNATURE_FILE = "model.sig"


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version (what ``show`` prints)."""

    name: str
    version: int
    stage: str
    framework: str
    format: str
    artifact_name: str
    is_directory: bool
    files: dict[str, str]
    root_digest: str
    signature_digest: str
    signing_key: str
    scan: dict[str, Any]
    scan_max_severity: str | None
    metrics: dict[str, Any]
    params: dict[str, Any]
    datasets: list[str]
    accepted_risk: dict[str, Any] | None
    description: str
    registered_by: str
    registered_at: datetime
    approved_by: str | None
    promoted_at: datetime | None

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = dict(self.__dict__)
        for key in ("registered_at", "promoted_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        return data


@dataclass(frozen=True)
class LoadedModel:
    """A verified model: its record, a verified local copy, and the object if loadable."""

    version: ModelVersion
    path: Path
    """Verified copy of the artifact (valid while the owning context is open)."""
    model: Any = None
    """The deserialized object (None for formats loaded by their framework)."""
    checks: dict[str, Any] = field(default_factory=dict)
    """What was verified: digests, signature, scan."""


def check_model_name(name: str) -> str:
    """Validate a model name (lowercase letters, digits, ``.``, ``_``, ``-``)."""
    if not _NAME_RE.match(name or ""):
        raise ConfigError(
            f"invalid model name {name!r}",
            hint="use 1-100 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def parse_model_ref(text: str) -> tuple[str, str | None]:
    """Split ``name@version`` / ``name@stage`` / ``name``."""
    name, _, selector = text.partition("@")
    return check_model_name(name), (selector or None)


def _to_version(row: ModelVersionRow, name: str) -> ModelVersion:
    return ModelVersion(
        name=name,
        version=row.version,
        stage=row.stage,
        framework=row.framework,
        format=row.format,
        artifact_name=row.artifact_name,
        is_directory=row.is_directory,
        files=dict(row.files),
        root_digest=row.root_digest,
        signature_digest=row.signature_digest,
        signing_key=row.signing_key,
        scan=dict(row.scan),
        scan_max_severity=row.scan_max_severity,
        metrics=dict(row.metrics),
        params=dict(row.params),
        datasets=list(row.datasets.get("inputs", [])),
        accepted_risk=row.accepted_risk,
        description=row.description,
        registered_by=row.registered_by,
        registered_at=row.registered_at,
        approved_by=row.approved_by,
        promoted_at=row.promoted_at,
    )


def _allowlist(workspace: Workspace) -> Any:
    from mlward.model.scan.allowlist import default_allowlist

    return default_allowlist().extended(workspace.config.model.allowlist)


def _scan(workspace: Workspace, path: Path) -> Any:
    from mlward.model.scan import scan_path

    return scan_path(path, allowlist_extra=workspace.config.model.allowlist)


def _framework(scan: Mapping[str, Any], path: Path) -> str:
    text = repr(scan).lower()
    formats = {f.get("format", "") for f in scan.get("files", [])}
    for needle, framework in (
        ("xgboost", "xgboost"),
        ("lightgbm", "lightgbm"),
        ("sklearn", "sklearn"),
    ):
        if needle in text:
            return framework
    for fmt in formats:
        for prefix, framework in (
            ("pytorch", "pytorch"),
            ("keras", "keras"),
            ("hdf5", "keras"),
            ("onnx", "onnx"),
            ("safetensors", "safetensors"),
            ("savedmodel", "tensorflow"),
            ("tensorflow", "tensorflow"),
            ("gguf", "gguf"),
            ("numpy", "numpy"),
        ):
            if fmt.startswith(prefix):
                return framework
    return {".joblib": "sklearn", ".pt": "pytorch", ".pth": "pytorch", ".onnx": "onnx"}.get(
        path.suffix.lower(), "unknown"
    )


def _version_row(session: Any, name: str, selector: str | None) -> tuple[ModelVersionRow, RegisteredModel]:
    model = session.scalars(select(RegisteredModel).where(RegisteredModel.name == name)).first()
    if model is None:
        raise NotFound(f"no model named {name!r} in the registry", hint="see 'mlward model ls'")
    statement = select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
    if selector is None or selector == "latest":
        statement = statement.order_by(ModelVersionRow.version.desc())
    elif selector.isdigit():
        statement = statement.where(ModelVersionRow.version == int(selector))
    elif selector in STAGES:
        statement = statement.where(ModelVersionRow.stage == selector).order_by(
            ModelVersionRow.version.desc()
        )
    else:
        raise ConfigError(f"{selector!r} is neither a version number nor a stage ({', '.join(STAGES)})")
    row = session.scalars(statement.limit(1)).first()
    if row is None:
        raise NotFound(f"model {name!r} has no version {selector}")
    return row, model


def register_model(
    workspace: Workspace,
    path: Path | str,
    name: str,
    *,
    framework: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    datasets: Sequence[str] = (),
    description: str = "",
    accept_risk: str | None = None,
    principal: str | None = None,
) -> ModelVersion:
    """Scan, sign, store and record a model artifact (file or directory)."""
    from mlward.model.signing import sign_model

    check_model_name(name)
    who = principal or current_principal()
    source = Path(path)
    if not source.exists():
        raise InputError(f"{source}: no such file or directory")
    report = _scan(workspace, source)
    scan = report.to_dict()
    worst = report.max_severity
    block_on = Severity.parse(workspace.config.model.block_on)
    blocked = report.verdict.value == "ERROR" or (worst is not None and worst >= block_on)
    accepted = None
    if blocked:
        top = sorted(report.findings, key=lambda f: -f.severity)[:3]
        summary = "; ".join(f"{f.severity.name} {f.rule_id}: {f.message}" for f in top) or "scan error"
        if accept_risk is None:
            workspace.audit.append(
                who,
                "model.register",
                f"{name}",
                outcome="denied",
                details={"reason": "scan findings", "max_severity": worst.name if worst else None},
            )
            raise PolicyViolation(
                f"refusing to register {source.name}: scan found {summary}",
                hint="fix the artifact, or an approver may pass --accept-risk REASON",
            )
        authorize(workspace, "model:accept-risk", who, target=name)
        accepted = {"by": who, "reason": accept_risk, "max_severity": worst.name if worst else "ERROR"}
    with tempfile.TemporaryDirectory(prefix="mlward-sign-") as tmp:
        signature = Path(tmp) / SIGNATURE_FILE
        signed = sign_model(source, workspace.keys.signing_key(), output=signature)
        files = _store_files(workspace, source, {r.name: r.digest for r in signed.resources})
        signature_blob = workspace.objects.put_file(signature).digest
    fmt = ",".join(sorted({f["format"] for f in scan.get("files", [])})) or "unknown"
    now = datetime.now(UTC)
    with workspace.metadata.session() as session:
        model = session.scalars(select(RegisteredModel).where(RegisteredModel.name == name)).first()
        if model is None:
            model = RegisteredModel(name=name, created=now, description=description)
            session.add(model)
            session.flush()
        number = (
            session.scalar(
                select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model.id)
            )
            or 0
        ) + 1
        row = ModelVersionRow(
            model_id=model.id,
            version=number,
            stage="none",
            framework=framework or _framework(scan, source),
            format=fmt,
            artifact_name=source.name,
            is_directory=source.is_dir(),
            files=files,
            root_digest=signed.root_digest,
            signature_digest=signature_blob,
            signing_key=workspace.keys.signing_kid(),
            scan=scan,
            scan_max_severity=worst.name if worst else None,
            metrics=dict(metrics or {}),
            params=dict(params or {}),
            datasets={"inputs": list(datasets)},
            accepted_risk=accepted,
            description=description,
            registered_by=who,
            registered_at=now,
        )
        session.add(row)
        session.flush()
        version = _to_version(row, name)
    inputs = []
    for ref in datasets:
        dataset, _, dataset_version = ref.partition("@")
        inputs.append(ArtifactRef("dataset", dataset, dataset_version or "latest"))
    workspace.lineage.record_run(
        "model.register",
        inputs=inputs,
        outputs=[ArtifactRef("model", name, str(version.version), f"sha256:{version.root_digest}")],
        actor=who,
        facets={"scan_max_severity": version.scan_max_severity},
    )
    workspace.audit.append(
        who,
        "model.register",
        version.ref,
        outcome="accepted-risk" if accepted else "ok",
        details={
            "root_digest": version.root_digest,
            "scan": version.scan_max_severity,
            "accepted_risk": accepted,
        },
    )
    return version


def _store_files(workspace: Workspace, source: Path, signed: Mapping[str, str]) -> dict[str, str]:
    """Copy the signed files into the object store; their bytes must still match."""
    stored: dict[str, str] = {}
    base = source if source.is_dir() else source.parent
    for rel, digest in signed.items():
        # A single-file signature names its one resource "."; store it under the file name.
        name = rel if source.is_dir() else source.name
        info = workspace.objects.put_file(base / rel if source.is_dir() else source)
        if info.digest != digest:
            raise IntegrityError(f"{name} changed while it was being registered; try again")
        stored[name] = info.digest
    return stored


def list_models(workspace: Workspace) -> list[ModelVersion]:
    """Every version of every model, by name then version."""
    with workspace.metadata.session() as session:
        rows = session.execute(
            select(ModelVersionRow, RegisteredModel.name)
            .join(RegisteredModel, RegisteredModel.id == ModelVersionRow.model_id)
            .order_by(RegisteredModel.name, ModelVersionRow.version)
        ).all()
        return [_to_version(row, name) for row, name in rows]


def get_model(workspace: Workspace, name: str, selector: str | None = None) -> ModelVersion:
    """One version (number), the newest in a stage, or the latest."""
    with workspace.metadata.session() as session:
        row, model = _version_row(session, check_model_name(name), selector)
        return _to_version(row, model.name)


@contextmanager
def verified_copy(workspace: Workspace, version: ModelVersion) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Copy a version out of the object store into a private temp dir and verify it.

    Checks every file digest, the signature against the workspace's public keys, and
    re-scans with the current rules. Yields the local path and what was checked.
    """
    from mlward.model.signing import verify_model

    with tempfile.TemporaryDirectory(prefix="mlward-model-") as tmp:
        root = Path(tmp)
        target = root / version.artifact_name
        for rel, digest in version.files.items():
            destination = target / rel if version.is_directory else target
            if version.is_directory and not destination.resolve().is_relative_to(target.resolve()):
                raise IntegrityError(f"{version.ref}: file path {rel!r} escapes the model directory")
            workspace.objects.get_file(digest, destination)
        signature = root / SIGNATURE_FILE
        workspace.objects.get_file(version.signature_digest, signature)
        verified = verify_model(target, signature, list(workspace.keys.public_keys().values()))
        if verified.root_digest != version.root_digest:
            raise IntegrityError(
                f"{version.ref}: the signature covers a different artifact than the registry records"
            )
        report = _scan(workspace, target)
        worst = report.max_severity
        block_on = Severity.parse(workspace.config.model.block_on)
        if (
            report.verdict.value == "ERROR" or (worst is not None and worst >= block_on)
        ) and not version.accepted_risk:
            raise PolicyViolation(
                f"{version.ref} now fails the scan ({worst.name if worst else 'ERROR'}) "
                "under the current rules"
            )
        checks = {
            "digests": len(version.files),
            "signature": {"key": version.signing_key, "verified": True},
            "scan": worst.name if worst else "clean",
        }
        yield target, checks


def _audited_failure(workspace: Workspace, who: str, action: str, target: str, exc: MlwardError) -> None:
    workspace.audit.append(who, action, target, outcome="alert", details={"error": exc.message})


def verify_version(workspace: Workspace, name: str, selector: str | None = None) -> dict[str, Any]:
    """Re-verify a stored version (digests, signature, scan) without loading it."""
    version = get_model(workspace, name, selector)
    who = current_principal()
    try:
        with verified_copy(workspace, version) as (_, checks):
            return {"model": version.ref, **checks}
    except (IntegrityError, PolicyViolation) as exc:
        _audited_failure(workspace, who, "model.verify", version.ref, exc)
        raise


def promote_model(
    workspace: Workspace, name: str, version: int | str, stage: str, *, principal: Caller | str | None = None
) -> ModelVersion:
    """Move a version to ``stage`` after re-verifying it; needs ``model:promote``."""
    if stage not in STAGES or stage == "none":
        raise ConfigError(f"unknown stage {stage!r}; choose staging, production or archived")
    who = authorize(workspace, "model:promote", principal, target=f"{name}@{version}")
    current = get_model(workspace, name, str(version))
    if stage != "archived":
        try:
            with verified_copy(workspace, current):
                pass
        except (IntegrityError, PolicyViolation) as exc:
            _audited_failure(workspace, who, "model.promote", current.ref, exc)
            raise
    now = datetime.now(UTC)
    with workspace.metadata.session() as session:
        row, model = _version_row(session, name, str(current.version))
        if stage == "production":
            for other in session.scalars(
                select(ModelVersionRow).where(
                    ModelVersionRow.model_id == model.id,
                    ModelVersionRow.stage == "production",
                    ModelVersionRow.id != row.id,
                )
            ):
                other.stage = "archived"
        previous = row.stage
        row.stage = stage
        row.approved_by = who
        row.promoted_at = now
        session.flush()
        result = _to_version(row, model.name)
    workspace.audit.append(
        who,
        "model.promote",
        result.ref,
        details={"from": previous, "to": stage, "root_digest": result.root_digest},
    )
    return result


@contextmanager
def open_model(
    workspace: Workspace, name: str, selector: str | None = None, *, deserialize: bool = True
) -> Iterator[LoadedModel]:
    """Verify then load a registered model; the verified copy lives while the context is open."""
    from mlward.model.loader import deserialize as safe_deserialize

    version = get_model(workspace, name, selector)
    who = current_principal()
    try:
        with verified_copy(workspace, version) as (path, checks):
            obj = safe_deserialize(path, _allowlist(workspace)) if deserialize else None
            workspace.audit.append(
                who, "model.load", version.ref, details={"root_digest": version.root_digest}
            )
            yield LoadedModel(version, path, obj, checks)
    except (IntegrityError, PolicyViolation) as exc:
        _audited_failure(workspace, who, "model.load", version.ref, exc)
        raise


def load_model(workspace: Workspace, name: str, selector: str | None = None) -> Any:
    """Verify then deserialize a registered model and return the object.

    For formats without a safe in-process loader use ``open_model`` and hand the
    verified path to the framework.
    """
    with open_model(workspace, name, selector) as loaded:
        if loaded.model is None:
            raise InputError(
                f"{loaded.version.ref} ({loaded.version.format}) has no safe in-process loader",
                hint="use mlward.model.open_model(...) and load loaded.path with the framework",
            )
        return loaded.model


def export_model(workspace: Workspace, name: str, selector: str | None, output: Path) -> ModelVersion:
    """Write a verified copy of a version to ``output``."""
    version = get_model(workspace, name, selector)
    with verified_copy(workspace, version) as (path, _):
        if output.exists():
            raise InputError(f"{output} already exists")
        if path.is_dir():
            shutil.copytree(path, output)
        else:
            shutil.copy2(path, output)
    return version
