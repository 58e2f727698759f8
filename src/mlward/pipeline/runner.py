"""``mlward run``: execute the pipeline DAG with caching, gates and provenance.

Stages run in parallel as soon as their upstream stages finished (``pipeline.workers``
threads). A stage whose kind, options, parameters, code and input digests are unchanged
since its last success is skipped and its cached outcome reused (``force`` reruns).
After each stage the gates that read it are evaluated; a stage that errors or a gate
that fails stops the run (stages in flight finish, nothing new starts) unless
``keep_going``. Downstream stages of a failure never run. Every run is recorded with
its stage results and gate verdicts, lineage is written per stage, and each model a run
registers gets signed SLSA provenance.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import networkx as nx
from sqlalchemy import select

from mlward.core.errors import ConfigError, MlwardError, NotFound
from mlward.data.targets import declared_dataset
from mlward.lineage.graph import ArtifactRef
from mlward.pipeline import provenance
from mlward.pipeline.kinds import KINDS
from mlward.pipeline.kinds.base import StageContext, StageOutcome, file_digest
from mlward.pipeline.records import PipelineRun, StageCache
from mlward.pipeline.spec import PlannedStage, load_pipeline, plan
from mlward.pipeline.spec import select as select_stages
from mlward.policy.gates import GateResult, evaluate_gate, load_policy
from mlward.workspace import Workspace, current_principal

ProgressCallback = Callable[[str, str, "StageRecord | None"], None]
"""Called with (event, stage, record): events are ``start`` and ``end``."""


@dataclass
class StageRecord:
    """What happened to one stage in a run."""

    name: str
    kind: str
    status: str
    """``ok``, ``cached``, ``failed`` (error), ``gate-failed``, ``skipped`` (upstream failed), ``not-run``."""
    summary: str = ""
    duration_s: float = 0.0
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = dict(self.__dict__)
        data["gates"] = [g.to_dict() for g in self.gates]
        return data


@dataclass
class RunResult:
    """The result of one pipeline run."""

    run_id: str
    status: str
    """``passed`` or ``failed``."""
    stages: list[StageRecord]
    started: datetime
    ended: datetime
    provenance: dict[str, str] = field(default_factory=dict)
    """Model ref -> object-store digest of its signed provenance bundle."""
    retrained: list[str] = field(default_factory=list)

    @property
    def gates(self) -> list[GateResult]:
        """Every gate verdict, in stage order."""
        return [g for s in self.stages for g in s.gates]

    @property
    def failures(self) -> list[str]:
        """One line per failed stage or gate: which gate, which rule, which observed value."""
        lines = []
        for stage in self.stages:
            if stage.status == "failed":
                lines.append(f"stage {stage.name} failed: {stage.error}")
            for gate in stage.gates:
                if gate.blocking:
                    why = gate.error or ", ".join(f"{k} = {_short(v)}" for k, v in gate.observed.items())
                    lines.append(
                        f"gate {gate.gate} failed on stage {stage.name}: {gate.rule} (observed {why})"
                    )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "stages": [s.to_dict() for s in self.stages],
            "failures": self.failures,
            "provenance": self.provenance,
            "retrained": self.retrained,
        }


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


class PipelineRunner:
    """Runs the pipeline declared in a workspace's mlward.yaml."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        force: bool = False,
        keep_going: bool = False,
        only: str | None = None,
        principal: str | None = None,
        progress: ProgressCallback | None = None,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.force = force
        self.keep_going = keep_going
        self.only = only
        self.principal = principal or current_principal()
        self.progress = progress or (lambda event, stage, record: None)
        self.log = log or (lambda stage, line: None)
        source = str(workspace.config_path)
        self.spec = load_pipeline(workspace.config.pipeline, source)
        self.policy = load_policy(workspace.config.policy, source)
        self.stages, self.graph = plan(self.spec, KINDS, source)
        for index, gate in enumerate(self.policy.gates):
            if gate.stage not in self.stages and gate.stage not in {
                s.spec.kind for s in self.stages.values()
            }:
                raise ConfigError(
                    f"{source}: policy.gates[{index}].stage: no stage or stage kind {gate.stage!r}"
                )
            if gate.on_fail == "retrain" and gate.retrain not in self.stages:
                raise ConfigError(
                    f"{source}: policy.gates[{index}].retrain: name the stage to rerun on failure"
                )
        config = workspace.config
        sections = {
            "contracts": config.contracts,
            "pii": config.pii,
            "model": config.model.model_dump(),
            "datasets": {k: v.model_dump() for k, v in config.datasets.items()},
        }
        self._config_digest = hashlib.sha256(
            json.dumps(sections, sort_keys=True, default=str).encode()
        ).hexdigest()
        if only not in (None, "security"):
            raise ConfigError(f"--only {only!r}: the only group is 'security'")

    def order(self, wanted: Sequence[str] = ()) -> list[str]:
        """Stages that a run of ``wanted`` executes, in order."""
        if self.only == "security":
            chosen = [n for n in self.stages if KINDS[self.stages[n].spec.kind].security]
            if wanted:
                chosen = [n for n in chosen if n in wanted]
            return chosen
        return select_stages(self.graph, wanted)

    def run(self, wanted: Sequence[str] = ()) -> RunResult:
        """Execute the selected stages; never raises for a stage failure (see ``status``)."""
        run_id = str(uuid.uuid4())
        started = datetime.now(UTC)
        order = self.order(wanted)
        records: dict[str, StageRecord] = {}
        outcomes: dict[str, StageOutcome] = {}
        retrain: list[str] = []
        self._execute(order, run_id, records, outcomes, retrain, force=self.force)
        if self.only == "security":
            records["registry"] = self._rescan_registry()
        retrained = []
        if retrain and all(r.status in ("ok", "cached") for r in records.values()):
            again = [
                n
                for n in select_stages(self.graph, [])
                if any(n == target or n in nx.descendants(self.graph, target) for target in retrain)
            ]
            rerun: dict[str, StageRecord] = {}
            self._execute(again, run_id, rerun, outcomes, [], force=True)
            for name, record in rerun.items():
                record.name = f"{name} (retrain)"
                records[record.name] = record
            retrained = again
        ended = datetime.now(UTC)
        failed = any(r.status not in ("ok", "cached") for r in records.values())
        result = RunResult(
            run_id,
            "failed" if failed else "passed",
            list(records.values()),
            started,
            ended,
            retrained=retrained,
        )
        result.provenance = self._provenance(result, outcomes, order)
        self._record(result)
        return result

    def _rescan_registry(self) -> StageRecord:
        """Continuous security: re-verify and re-scan every staged or production model.

        A model that no longer passes (tampered bytes, a signature that fails, a finding
        under today's rules) fails the run and is audited as an alert by the registry.
        """
        from mlward.model.registry import list_models, verify_version

        began = time.monotonic()
        checked, problems = 0, []
        for version in list_models(self.workspace):
            if version.stage not in ("staging", "production"):
                continue
            checked += 1
            try:
                verify_version(self.workspace, version.name, str(version.version))
            except MlwardError as exc:
                problems.append(f"{version.ref} ({version.stage}): {exc}")
        record = StageRecord(
            "registry",
            "rescan-registry",
            "failed" if problems else "ok",
            summary=f"{checked} deployed model(s) re-verified and re-scanned",
            duration_s=time.monotonic() - began,
            error="; ".join(problems) or None,
            metrics={"registry": {"checked": checked, "failing": len(problems)}},
        )
        self.progress("end", "registry", record)
        return record

    def _execute(
        self,
        order: list[str],
        run_id: str,
        records: dict[str, StageRecord],
        outcomes: dict[str, StageOutcome],
        retrain: list[str],
        *,
        force: bool,
    ) -> None:
        pending = list(order)
        stop = False
        in_run = set(order)
        with ThreadPoolExecutor(max_workers=self.spec.workers, thread_name_prefix="mlward-stage") as pool:
            running: dict[Future[tuple[StageRecord, StageOutcome | None]], str] = {}
            while pending or running:
                if not stop:
                    for name in list(pending):
                        if len(running) >= self.spec.workers:
                            break  # submit no more than can run: a failure then stops the rest
                        preds = [p for p in self.graph.predecessors(name) if p in in_run]
                        if any(records.get(p) and records[p].status not in ("ok", "cached") for p in preds):
                            pending.remove(name)
                            records[name] = StageRecord(
                                name,
                                self.stages[name].spec.kind,
                                "skipped",
                                summary="an upstream stage failed",
                            )
                            continue
                        if all(p in records for p in preds):
                            pending.remove(name)
                            upstream = {
                                a: outcomes[a] for a in nx.ancestors(self.graph, name) if a in outcomes
                            }
                            self.progress("start", name, None)
                            running[pool.submit(self._stage, name, run_id, upstream, force)] = name
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    record, outcome = future.result()
                    if outcome is not None:
                        outcomes[name] = outcome
                        self._gates(record, outcome, retrain)
                    records[name] = record
                    self.progress("end", name, record)
                    if record.status not in ("ok", "cached") and not self.keep_going:
                        stop = True
            for name in pending:
                upstream_failed = any(
                    records.get(p) and records[p].status not in ("ok", "cached")
                    for p in nx.ancestors(self.graph, name)
                )
                status, why = (
                    ("skipped", "an upstream stage failed")
                    if upstream_failed
                    else ("not-run", "the run stopped at an earlier failure")
                )
                records[name] = StageRecord(name, self.stages[name].spec.kind, status, summary=why)

    def _gates(self, record: StageRecord, outcome: StageOutcome, retrain: list[str]) -> None:
        kind = self.stages[record.name].spec.kind
        for gate in self.policy.gates:
            if gate.stage not in (record.name, kind):
                continue
            result = evaluate_gate(gate, outcome.metrics, self.policy.waivers)
            record.gates.append(result)
            if result.waived_by:
                self.workspace.audit.append(
                    self.principal, "policy.waiver", gate.name, outcome="waived", details=result.waived_by
                )
            if not result.passed and gate.on_fail == "retrain" and gate.retrain:
                result = replace(result, action="retrain")
                retrain.append(gate.retrain)
                self.workspace.audit.append(
                    self.principal,
                    "pipeline.retrain",
                    gate.retrain,
                    details={"gate": gate.name, "observed": result.observed},
                )
            elif not result.passed:
                record.status = "gate-failed"
            record.gates[-1] = result

    def _cache_key(self, stage: PlannedStage, upstream: dict[str, StageOutcome]) -> str:
        produced = {k: v for outcome in upstream.values() for k, v in outcome.produced.items()}
        inputs = {}
        for item in stage.inputs:
            if item in produced:
                inputs[item] = produced[item]
            elif item.startswith("dataset:") and (declared := declared_dataset(self.workspace, item[8:])):
                # A declared dataset nobody produced upstream: its file is the input.
                path = declared.path
                inputs[item] = file_digest(path) if path.exists() else "missing"
            elif ":" in item.split("/")[0]:
                inputs[item] = "external"
            else:
                path = self.workspace.root / item
                inputs[item] = file_digest(path) if path.exists() else "missing"
        code = {
            c: file_digest(self.workspace.root / c)
            for c in stage.spec.code
            if (self.workspace.root / c).exists()
        }
        material = {
            "kind": stage.spec.kind,
            "options": stage.options.model_dump(mode="json"),
            "params": stage.spec.params,
            "outputs": list(stage.outputs),
            "inputs": inputs,
            "code": code,
            # Stages read these sections of mlward.yaml (contracts, the PII policy, dataset
            # paths, the model allowlist): a change there must rerun them.
            "config": self._config_digest,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()

    def _cached(self, name: str, key: str) -> StageOutcome | None:
        with self.workspace.metadata.session() as session:
            row = session.get(StageCache, name)
            if row is None or row.key != key:
                return None
            outcome = StageOutcome.from_dict(row.outcome)
        for item, digest in outcome.produced.items():
            if ":" in item.split("/")[0]:
                continue
            path = self.workspace.root / item
            if not path.exists() or file_digest(path) != digest:
                return None  # an output was changed or removed since: rebuild it
        return outcome

    def _stage(
        self, name: str, run_id: str, upstream: dict[str, StageOutcome], force: bool
    ) -> tuple[StageRecord, StageOutcome | None]:
        stage = self.stages[name]
        kind = KINDS[stage.spec.kind]
        began = time.monotonic()
        try:
            key = self._cache_key(stage, upstream)
            cacheable = not kind.security
            outcome = None if (force or not cacheable) else self._cached(name, key)
            if outcome is not None:
                return StageRecord(
                    name,
                    stage.spec.kind,
                    "cached",
                    outcome.summary,
                    time.monotonic() - began,
                    metrics=outcome.metrics,
                ), outcome
            ctx = StageContext(
                self.workspace,
                name,
                run_id,
                self.principal,
                dict(stage.spec.params),
                upstream,
                log=lambda line: self.log(name, line),
            )
            outcome = kind.run(ctx, stage.options)
            produced = dict(outcome.produced)
            for item in stage.outputs:
                path = self.workspace.root / item
                if ":" not in item.split("/")[0] and item not in produced and path.exists():
                    produced[item] = file_digest(path)
            outcome = StageOutcome(
                outcome.metrics,
                produced,
                outcome.summary,
                outcome.inputs,
                outcome.outputs,
                outcome.models,
                outcome.report,
            )
            self._remember(name, key, outcome, run_id)
            self._lineage(stage, outcome, upstream)
            return StageRecord(
                name,
                stage.spec.kind,
                "ok",
                outcome.summary,
                time.monotonic() - began,
                metrics=outcome.metrics,
            ), outcome
        except MlwardError as exc:
            return StageRecord(
                name, stage.spec.kind, "failed", duration_s=time.monotonic() - began, error=str(exc)
            ), None
        except Exception as exc:  # fail closed: an unexpected error fails the stage, not the runner
            return StageRecord(
                name,
                stage.spec.kind,
                "failed",
                duration_s=time.monotonic() - began,
                error=f"internal error: {type(exc).__name__}: {exc}",
            ), None

    def _remember(self, name: str, key: str, outcome: StageOutcome, run_id: str) -> None:
        with self.workspace.metadata.session() as session:
            row = session.get(StageCache, name)
            data = json.loads(json.dumps(outcome.to_dict(), default=str))
            if row is None:
                session.add(
                    StageCache(stage=name, key=key, outcome=data, run_id=run_id, updated=datetime.now(UTC))
                )
            else:
                row.key, row.outcome, row.run_id, row.updated = key, data, run_id, datetime.now(UTC)

    def _lineage(self, stage: PlannedStage, outcome: StageOutcome, upstream: dict[str, StageOutcome]) -> None:
        def refs(items: Sequence[str]) -> list[ArtifactRef]:
            out = []
            for item in items:
                if ":" in item.split("/")[0]:
                    continue  # refs are recorded by the domain service (datasets, models)
                digest = outcome.produced.get(item) or next(
                    (o.produced[item] for o in upstream.values() if item in o.produced), None
                )
                out.append(
                    ArtifactRef(
                        "file", item, (digest or "unknown")[:12], f"sha256:{digest}" if digest else None
                    )
                )
            return out

        inputs = [*refs(stage.inputs), *outcome.inputs]
        outputs = [*refs([o for o in stage.outputs if o in outcome.produced]), *outcome.outputs]
        self.workspace.lineage.record_run(
            f"pipeline:{stage.name}", inputs=inputs, outputs=outputs, actor=self.principal
        )

    def _provenance(
        self, result: RunResult, outcomes: dict[str, StageOutcome], order: list[str]
    ) -> dict[str, str]:
        issued = {}
        config_dep = provenance.path_dependency(self.workspace.root, self.workspace.config_path.name)
        for name, outcome in outcomes.items():
            for model in outcome.models:
                deps = [config_dep]
                for stage_name in [*nx.ancestors(self.graph, name), name]:
                    stage = self.stages[stage_name]
                    for item in [*stage.inputs, *stage.spec.code]:
                        if ":" not in item.split("/")[0] and (self.workspace.root / item).exists():
                            dep = provenance.path_dependency(self.workspace.root, item)
                            if dep not in deps:
                                deps.append(dep)
                for ref in model.get("datasets", []):
                    digest = provenance._current_digest(self.workspace, f"dataset:{ref}")
                    if digest:
                        deps.append({"uri": f"dataset:{ref}", "digest": {"sha256": digest}})
                statement = provenance.build_statement(
                    model,
                    run_id=result.run_id,
                    stage=name,
                    dependencies=deps,
                    parameters={"params": self.stages[name].spec.params},
                    started=result.started,
                    finished=result.ended,
                )
                issued[f"{model['name']}@{model['version']}"] = provenance.issue(self.workspace, statement)
        return issued

    def _record(self, result: RunResult) -> None:
        config_digest = file_digest(self.workspace.config_path)
        with self.workspace.metadata.session() as session:
            session.add(
                PipelineRun(
                    id=result.run_id,
                    started=result.started,
                    ended=result.ended,
                    status=result.status,
                    principal=self.principal,
                    config_digest=config_digest,
                    stages={s.name: json.loads(json.dumps(s.to_dict(), default=str)) for s in result.stages},
                    gates={
                        "results": [json.loads(json.dumps(g.to_dict(), default=str)) for g in result.gates]
                    },
                    provenance=result.provenance,
                )
            )
        self.workspace.audit.append(
            self.principal,
            "pipeline.run",
            result.run_id,
            outcome="ok" if result.status == "passed" else "failed",
            details={"failures": result.failures[:10], "stages": len(result.stages)},
        )


def get_run(workspace: Workspace, run_id: str | None = None) -> dict[str, Any]:
    """A recorded run (the latest when ``run_id`` is None); ids may be abbreviated."""
    with workspace.metadata.session() as session:
        statement = select(PipelineRun).order_by(PipelineRun.started.desc())
        if run_id:
            statement = select(PipelineRun).where(PipelineRun.id.startswith(run_id))
        rows = session.scalars(statement.limit(2)).all()
        if not rows or (run_id and len(rows) > 1):
            raise NotFound(f"no single run matches {run_id!r}" if run_id else "no pipeline run recorded yet")
        row = rows[0]
        return {
            "run_id": row.id,
            "status": row.status,
            "started": row.started.isoformat(),
            "ended": row.ended.isoformat() if row.ended else None,
            "principal": row.principal,
            "config_digest": row.config_digest,
            "stages": row.stages,
            "gates": row.gates["results"],
            "provenance": row.provenance,
        }


def list_runs(workspace: Workspace, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs, newest first."""
    with workspace.metadata.session() as session:
        rows = session.scalars(select(PipelineRun).order_by(PipelineRun.started.desc()).limit(limit)).all()
        return [
            {
                "run_id": r.id,
                "status": r.status,
                "started": r.started.isoformat(),
                "principal": r.principal,
                "stages": len(r.stages),
            }
            for r in rows
        ]
