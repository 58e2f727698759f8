"""Lineage: runs with their input and output artifacts, as a queryable graph.

Runs and artifacts live in the metadata store. Queries build a directed graph with
networkx: artifact -> run for inputs, run -> artifact for outputs. Upstream and
downstream are graph ancestors and descendants. Feedback loops (a model's outputs
flowing back into its own training data) are cycles in the graph where artifacts are
identified by kind and name, ignoring versions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import networkx as nx
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlward.core.errors import NotFound
from mlward.store.metadata import MetadataStore
from mlward.store.models import Artifact, Run, RunIO

OPENLINEAGE_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/mlward/mlward"


@dataclass(frozen=True)
class ArtifactRef:
    """A versioned artifact named by kind, name and version."""

    kind: str
    """``dataset``, ``model``, ``report``, ``file``..."""
    name: str
    """Logical name (``credit-apps``)."""
    version: str = "latest"
    """Version label or digest prefix."""
    digest: str | None = None
    """Content digest (``sha256:...``) when known."""
    uri: str | None = None
    """Where the bytes live."""

    @property
    def key(self) -> str:
        """``kind:name@version``."""
        return f"{self.kind}:{self.name}@{self.version}"


@dataclass(frozen=True)
class RunRecord:
    """A recorded run."""

    id: str
    job: str
    status: str
    started: datetime
    ended: datetime | None
    actor: str
    inputs: tuple[ArtifactRef, ...]
    outputs: tuple[ArtifactRef, ...]
    facets: dict[str, Any] = field(default_factory=dict)


class Lineage:
    """Lineage records of one workspace."""

    def __init__(self, store: MetadataStore, namespace: str = "mlward") -> None:
        self.store = store
        self.namespace = namespace

    def record_run(
        self,
        job: str,
        *,
        inputs: Sequence[ArtifactRef] = (),
        outputs: Sequence[ArtifactRef] = (),
        actor: str = "mlward",
        status: str = "COMPLETE",
        facets: dict[str, Any] | None = None,
        run_id: str | None = None,
        started: datetime | None = None,
        ended: datetime | None = None,
    ) -> RunRecord:
        """Store a run with its inputs and outputs; artifacts are created as needed."""
        run_id = run_id or str(uuid.uuid4())
        started = started or datetime.now(UTC)
        ended = ended or datetime.now(UTC)
        with self.store.session() as session:
            session.add(
                Run(
                    id=run_id,
                    job=job,
                    status=status,
                    started=started,
                    ended=ended,
                    actor=actor,
                    facets=facets or {},
                )
            )
            seen: set[tuple[int, str]] = set()
            for direction, refs in (("input", inputs), ("output", outputs)):
                for ref in refs:
                    artifact = _get_or_create(session, ref)
                    if (artifact.id, direction) not in seen:
                        seen.add((artifact.id, direction))
                        session.add(RunIO(run_id=run_id, artifact_id=artifact.id, direction=direction))
        return RunRecord(
            run_id, job, status, started, ended, actor, tuple(inputs), tuple(outputs), facets or {}
        )

    def add_outputs(self, run_id: str, outputs: Sequence[ArtifactRef]) -> None:
        """Add ``outputs`` to an existing run (data it produced, recorded later); idempotent."""
        with self.store.session() as session:
            if session.get(Run, run_id) is None:
                raise NotFound(f"no run {run_id}")
            for ref in outputs:
                artifact = _get_or_create(session, ref)
                if session.get(RunIO, (run_id, artifact.id, "output")) is None:
                    session.add(RunIO(run_id=run_id, artifact_id=artifact.id, direction="output"))
                    session.flush()

    def runs(self, job: str | None = None) -> list[RunRecord]:
        """Every run (of ``job``), oldest first."""
        with self.store.session() as session:
            statement = select(Run).order_by(Run.started)
            if job:
                statement = statement.where(Run.job == job)
            return [self._load(session, run) for run in session.scalars(statement).all()]

    def run(self, run_id: str) -> RunRecord:
        """One run by id."""
        with self.store.session() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise NotFound(f"no run {run_id}")
            return self._load(session, run)

    def _load(self, session: Any, run: Run) -> RunRecord:
        rows = session.execute(
            select(RunIO.direction, Artifact)
            .join(Artifact, Artifact.id == RunIO.artifact_id)
            .where(RunIO.run_id == run.id)
        ).all()
        inputs = tuple(_ref(a) for d, a in rows if d == "input")
        outputs = tuple(_ref(a) for d, a in rows if d == "output")
        return RunRecord(
            run.id, run.job, run.status, run.started, run.ended, run.actor, inputs, outputs, run.facets
        )

    def graph(self, *, by_name: bool = False) -> nx.DiGraph:
        """The lineage graph; with ``by_name`` artifacts ignore versions."""
        graph = nx.DiGraph()
        with self.store.session() as session:
            rows = session.execute(
                select(RunIO.run_id, RunIO.direction, Run.job, Artifact)
                .join(Artifact, Artifact.id == RunIO.artifact_id)
                .join(Run, Run.id == RunIO.run_id)
            ).all()
        for run_id, direction, job, artifact in rows:
            ref = _ref(artifact)
            node = f"{ref.kind}:{ref.name}" if by_name else ref.key
            run_node = f"job:{job}" if by_name else f"run:{run_id}"
            graph.add_node(node, kind="artifact", ref=ref)
            graph.add_node(run_node, kind="run", job=job)
            if direction == "input":
                graph.add_edge(node, run_node)
            else:
                graph.add_edge(run_node, node)
        return graph

    def upstream(self, ref: ArtifactRef) -> list[ArtifactRef]:
        """Every artifact that ``ref`` was derived from, transitively."""
        return self._related(ref, nx.ancestors)

    def downstream(self, ref: ArtifactRef) -> list[ArtifactRef]:
        """Every artifact derived from ``ref``, transitively."""
        return self._related(ref, nx.descendants)

    def _related(self, ref: ArtifactRef, walk: Any) -> list[ArtifactRef]:
        graph = self.graph()
        if ref.key not in graph:
            raise NotFound(f"no lineage recorded for {ref.key}")
        nodes = walk(graph, ref.key)
        refs = [graph.nodes[n]["ref"] for n in nodes if graph.nodes[n]["kind"] == "artifact"]
        return sorted(refs, key=lambda r: r.key)

    def cycles(self) -> list[list[str]]:
        """Feedback loops: cycles among artifacts identified by kind and name."""
        graph = self.graph(by_name=True)
        loops = []
        for cycle in nx.simple_cycles(graph):
            names = [n for n in cycle if not n.startswith("job:")]
            start = min(range(len(cycle)), key=lambda i: cycle[i])
            loops.append(cycle[start:] + cycle[:start] if names else cycle)
        return sorted(loops)

    def openlineage_events(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """OpenLineage 2 RunEvents (COMPLETE/FAIL) for one run or every run."""
        runs = [self.run(run_id)] if run_id else self.runs()
        return [self._openlineage(run) for run in runs]

    def _openlineage(self, run: RunRecord) -> dict[str, Any]:
        def dataset(ref: ArtifactRef) -> dict[str, Any]:
            facets: dict[str, Any] = {}
            if ref.version:
                facets["version"] = {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json",
                    "datasetVersion": ref.version,
                }
            return {"namespace": self.namespace, "name": f"{ref.kind}/{ref.name}", "facets": facets}

        event_type = {"COMPLETE": "COMPLETE", "FAILED": "FAIL", "FAIL": "FAIL", "RUNNING": "RUNNING"}.get(
            run.status.upper(), "OTHER"
        )
        moment = run.ended or run.started
        return {
            "eventType": event_type,
            "eventTime": moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if moment.tzinfo
            else moment.isoformat() + "Z",
            "producer": PRODUCER,
            "schemaURL": OPENLINEAGE_SCHEMA,
            "run": {"runId": run.id, "facets": {}},
            "job": {"namespace": self.namespace, "name": run.job, "facets": {}},
            "inputs": [dataset(r) for r in run.inputs],
            "outputs": [dataset(r) for r in run.outputs],
        }


def _get_or_create(session: Session, ref: ArtifactRef) -> Artifact:
    artifact: Artifact | None = session.scalars(
        select(Artifact).where(
            Artifact.kind == ref.kind, Artifact.name == ref.name, Artifact.version == ref.version
        )
    ).first()
    if artifact is None:
        artifact = Artifact(
            kind=ref.kind,
            name=ref.name,
            version=ref.version,
            digest=ref.digest,
            uri=ref.uri,
            created=datetime.now(UTC),
        )
        session.add(artifact)
        session.flush()
    return artifact


def _ref(artifact: Artifact) -> ArtifactRef:
    return ArtifactRef(artifact.kind, artifact.name, artifact.version, artifact.digest, artifact.uri)
