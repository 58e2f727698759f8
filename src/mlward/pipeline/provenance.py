"""SLSA provenance v1 for models produced by a pipeline run.

Each model registered by a run gets an in-toto Statement whose subject is the model's
signed digest and whose ``resolvedDependencies`` are the stage inputs that produced it
(datasets, base models, code, configuration) with their digests. The statement is
signed with the workspace key (DSSE in a Sigstore bundle) and stored in the object
store. ``verify_provenance`` checks the signature and re-resolves every dependency:
it fails when any input changed since the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlward.core.errors import IntegrityError, NotFound
from mlward.crypto.signing import Statement, Subject, parse_bundle, sign_statement, verify_bundle
from mlward.pipeline.kinds.base import file_digest
from mlward.workspace import Workspace

SLSA_PREDICATE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://mlward.dev/pipeline/v1"
BUILDER_ID = "https://mlward.dev/builder/local/v1"


def build_statement(
    model: Mapping[str, Any],
    *,
    run_id: str,
    stage: str,
    dependencies: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any],
    started: datetime,
    finished: datetime,
) -> Statement:
    """The SLSA v1 statement for one produced model."""
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {"stage": stage, **parameters},
            "internalParameters": {},
            "resolvedDependencies": [dict(d) for d in dependencies],
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID},
            "metadata": {
                "invocationId": run_id,
                "startedOn": started.isoformat().replace("+00:00", "Z"),
                "finishedOn": finished.isoformat().replace("+00:00", "Z"),
            },
        },
    }
    subject = Subject(f"{model['name']}@{model['version']}", {"sha256": model["root_digest"]})
    return Statement(subjects=(subject,), predicate_type=SLSA_PREDICATE, predicate=predicate)


def issue(workspace: Workspace, statement: Statement) -> str:
    """Sign and store a statement; return the blob digest of its bundle."""
    bundle = sign_statement(statement, workspace.keys.signing_key())
    return workspace.objects.put_bytes(bundle.to_json().encode()).digest


def path_dependency(root: Path, relative: str) -> dict[str, Any]:
    """A resolved dependency for a file or directory of the workspace."""
    return {"uri": f"file:{relative}", "digest": {"sha256": file_digest(root / relative)}}


@dataclass(frozen=True)
class ProvenanceCheck:
    """The result of ``verify_provenance``."""

    subject: str
    digest: str
    ok: bool
    problems: tuple[str, ...] = ()
    dependencies: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


def _current_digest(workspace: Workspace, uri: str) -> str | None:
    kind, _, rest = uri.partition(":")
    if kind == "file":
        path = workspace.root / rest
        return file_digest(path) if path.exists() else None
    if kind == "dataset":
        name, _, version = rest.partition("@")
        try:
            from mlward.data.catalog import get_dataset

            return str(get_dataset(workspace, name, version or None).digest).removeprefix("sha256:")
        except (ImportError, NotFound):
            return None
    if kind == "model":
        from mlward.model.registry import get_model

        name, _, version = rest.partition("@")
        try:
            return get_model(workspace, name, version or None).root_digest
        except NotFound:
            return None
    return None


def verify_provenance(workspace: Workspace, bundle_text: str | bytes) -> ProvenanceCheck:
    """Verify a provenance bundle's signature and that every dependency is unchanged."""
    statement = verify_bundle(parse_bundle(bundle_text), list(workspace.keys.public_keys().values()))
    if statement.predicate_type != SLSA_PREDICATE:
        raise IntegrityError(f"not SLSA provenance: predicate type {statement.predicate_type}")
    subject = statement.subjects[0]
    problems = []
    deps = statement.predicate.get("buildDefinition", {}).get("resolvedDependencies", [])
    for dep in deps:
        expected = dep.get("digest", {}).get("sha256")
        current = _current_digest(workspace, dep.get("uri", ""))
        if current is None:
            problems.append(f"{dep.get('uri')}: no longer available")
        elif current != expected:
            problems.append(
                f"{dep.get('uri')}: changed (was sha256:{expected[:12]}, now sha256:{current[:12]})"
            )
    from mlward.model.registry import get_model

    name, _, version = subject.name.partition("@")
    try:
        registered = get_model(workspace, name, version).root_digest
        if registered != subject.digest.get("sha256"):
            problems.append(f"model {subject.name}: registry digest differs from the provenance subject")
    except NotFound:
        problems.append(f"model {subject.name}: not in the registry")
    return ProvenanceCheck(
        subject=subject.name,
        digest=subject.digest.get("sha256", ""),
        ok=not problems,
        problems=tuple(problems),
        dependencies=tuple(deps),
    )
