"""The stage-kind family: options model, implicit inputs/outputs, and ``run``.

A kind adapts one domain service (scan a model, validate a dataset, ...) to the
pipeline: it validates its options, declares what it reads and writes so the runner
can infer the DAG and the cache key, runs the service, and returns metrics for the
policy gates. Kinds never print; they return a ``StageOutcome``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from mlward.core.errors import InputError
from mlward.lineage.graph import ArtifactRef
from mlward.workspace import Workspace


class KindOptions(BaseModel):
    """Base of every kind's options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class StageOutcome:
    """What a stage produced."""

    metrics: dict[str, Any] = field(default_factory=dict)
    """Nested values the gates read (``{"drift": {"share": 0.4}}``)."""
    produced: dict[str, str] = field(default_factory=dict)
    """Outputs (paths or refs) and their digests."""
    summary: str = ""
    """One line for the run summary."""
    inputs: tuple[ArtifactRef, ...] = ()
    """Lineage inputs beyond the declared paths."""
    outputs: tuple[ArtifactRef, ...] = ()
    """Lineage outputs beyond the declared paths."""
    models: tuple[dict[str, Any], ...] = ()
    """Models produced (name, version, root_digest): provenance is issued for each."""
    report: dict[str, Any] | None = None
    """The full domain result as JSON, kept with the run."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "metrics": self.metrics,
            "produced": self.produced,
            "summary": self.summary,
            "inputs": [r.__dict__ for r in self.inputs],
            "outputs": [r.__dict__ for r in self.outputs],
            "models": list(self.models),
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageOutcome:
        """Rebuild from ``to_dict`` (cache hits)."""
        return cls(
            metrics=dict(data.get("metrics", {})),
            produced=dict(data.get("produced", {})),
            summary=str(data.get("summary", "")),
            inputs=tuple(ArtifactRef(**r) for r in data.get("inputs", [])),
            outputs=tuple(ArtifactRef(**r) for r in data.get("outputs", [])),
            models=tuple(data.get("models", [])),
            report=data.get("report"),
        )


@dataclass
class StageContext:
    """What a running stage may use."""

    workspace: Workspace
    stage: str
    run_id: str
    principal: str
    params: dict[str, Any]
    upstream: dict[str, StageOutcome]
    """Outcomes of the stages this one depends on (transitively)."""
    log: Callable[[str], None] = lambda message: None

    def path(self, relative: str) -> Path:
        """Resolve a path relative to the workspace root."""
        path = Path(relative)
        return path if path.is_absolute() else self.workspace.root / path

    def upstream_models(self) -> list[dict[str, Any]]:
        """Models produced upstream in this run, oldest first."""
        return [m for outcome in self.upstream.values() for m in outcome.models]


class StageKind(ABC):
    """One built-in stage type."""

    name: ClassVar[str]
    """The ``kind:`` value."""
    Options: ClassVar[type[KindOptions]] = KindOptions
    """Its options model."""
    security: ClassVar[bool] = False
    """Part of ``mlward run --only security`` (continuous security)."""

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        """Inputs and outputs implied by the options (paths relative to the root, or refs)."""
        return [], []

    @abstractmethod
    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        """Do the work; raise ``MlwardError`` on failure."""


def file_digest(path: Path) -> str:
    """SHA-256 of a file, or of the sorted (relative path, digest) list of a directory."""
    if path.is_dir():
        entries = sorted(p for p in path.rglob("*") if p.is_file())
        manifest = "\n".join(f"{p.relative_to(path).as_posix()}\t{file_digest(p)}" for p in entries)
        return hashlib.sha256(manifest.encode()).hexdigest()
    hasher = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(8 << 20):
                hasher.update(chunk)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (declared as a stage input or output)") from None
    return hasher.hexdigest()
