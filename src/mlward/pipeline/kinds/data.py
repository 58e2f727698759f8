"""DataOps stages: ``ingest``, ``validate``, ``scan-pii``, ``protect``, ``outliers``,
``fairness`` and ``drift``.

A stage names its data either as ``dataset: NAME`` (a dataset declared under
``datasets:`` in mlward.yaml, whose ``path`` is used) or as ``path: FILE``. Results
become metrics for the gates (``contract.failed_rules``, ``pii.unprotected_columns``,
``outliers.share``, ``fairness.disparate_impact``, ``drift.share`` …).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from mlward.core.errors import ConfigError
from mlward.lineage.graph import ArtifactRef
from mlward.pipeline.kinds.base import KindOptions, StageContext, StageKind, StageOutcome, file_digest


class DataOptions(KindOptions):
    """Data named by a declared dataset or a path."""

    dataset: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataOptions:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of 'dataset' (a name under datasets:) or 'path'")
        return self


def data_path(ctx: StageContext, options: DataOptions) -> str:
    """The file or directory a stage reads (``path`` as given, relative to the workspace root)."""
    from mlward.data.targets import declared_dataset

    if options.path:
        return options.path
    declared = declared_dataset(ctx.workspace, options.dataset or "")
    if declared is None:
        raise ConfigError(f"stage {ctx.stage}: no dataset {options.dataset!r} under datasets: in mlward.yaml")
    path, root = declared.path, ctx.workspace.root
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _declared_path(options: Any, datasets: dict[str, str] | None = None) -> list[str]:
    # io() runs before a workspace context exists; paths of declared datasets are
    # resolved by the runner's caller through the ``dataset:`` ref instead.
    if getattr(options, "path", None):
        return [options.path]
    if getattr(options, "dataset", None):
        return [f"dataset:{options.dataset}"]
    return []


class IngestOptions(DataOptions):
    """Version a dataset into the catalogue."""

    name: str | None = None
    """Catalogue name (default: the dataset name)."""
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)


class IngestKind(StageKind):
    """``data add``: content-address the data with its schema, profile and PII labels."""

    name = "ingest"
    Options = IngestOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        target = options.name or options.dataset
        inputs = [options.path] if options.path else []
        return inputs, [f"dataset:{target}"] if target else []

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.data.catalog import add_dataset

        name = options.name or options.dataset
        if not name:
            raise ConfigError(f"stage {ctx.stage}: give 'name' when ingesting a path")
        spec = ctx.workspace.config.datasets.get(options.dataset or "")
        version = add_dataset(
            ctx.workspace,
            ctx.path(data_path(ctx, options)),
            name,
            owner=options.owner or (spec.owner if spec else None) or None,
            tags=options.tags or (spec.tags if spec else []),
            description=spec.description if spec else None,
            principal=ctx.principal,
        )
        return StageOutcome(
            metrics={
                "ingest": {
                    "rows": version.rows,
                    "version": version.version,
                    "sensitivity": version.sensitivity,
                    "encrypted": version.encrypted,
                }
            },
            produced={f"dataset:{name}": version.digest},
            summary=f"{name}@{version.version}: {version.rows} rows, {version.sensitivity}",
            outputs=(ArtifactRef("dataset", name, str(version.version), version.digest),),
        )


class ValidateOptions(DataOptions):
    """Check data against a contract (a name under ``contracts:`` or a YAML file)."""

    contract: str


class ValidateKind(StageKind):
    """Data contract and quality checks; metrics under ``contract``."""

    name = "validate"
    Options = ValidateOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        return _declared_path(options), []

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.data.contract import validate

        contract: Any = options.contract
        if contract not in ctx.workspace.config.contracts:
            contract = ctx.path(contract)
        result = validate(
            ctx.path(data_path(ctx, options)),
            contract,
            workspace=ctx.workspace,
            keys=_workspace_data_keys(ctx),
        )
        failed = [r for r in result.to_dict().get("rules", []) if not r.get("passed", True)]
        return StageOutcome(
            metrics={
                "contract": {
                    "failed_rules": result.failed_rules,
                    "passed": result.passed,
                    "failures": [r.get("rule") or r.get("name") for r in failed][:20],
                }
            },
            summary=f"{result.failed_rules} failed rule(s)",
            report=result.to_dict(),
        )


class ScanPiiKind(StageKind):
    """PII discovery; metrics under ``pii``."""

    name = "scan-pii"
    Options = DataOptions
    security = True

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        return _declared_path(options), []

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.data.pii import scan

        result = scan(str(ctx.path(data_path(ctx, options))), keys=_workspace_data_keys(ctx))
        return _pii_outcome(result, "scanned")


def _workspace_data_keys(ctx: StageContext) -> list[bytes]:
    """Every workspace data key: recorded protection counts only where its seal verifies."""
    return list(ctx.workspace.keys.data_keys().values())


def _pii_outcome(
    result: Any,
    verb: str,
    produced: dict[str, str] | None = None,
    outputs: tuple[ArtifactRef, ...] = (),
    extra: dict[str, Any] | None = None,
) -> StageOutcome:
    entities = {name: [str(e) for e in types] for name, types in result.entities_by_column().items()}
    unprotected = [c.name for c in result.unprotected_columns()]
    return StageOutcome(
        metrics={
            "pii": {
                "columns": len(entities),
                "unprotected_columns": len(unprotected),
                "unprotected": unprotected,
                "sensitivity": result.sensitivity.label,
                "entities": entities,
                **(extra or {}),
            }
        },
        produced=produced or {},
        summary=f"{verb}: {len(entities)} PII column(s), {len(unprotected)} unprotected, "
        f"label {result.sensitivity.label}",
        outputs=outputs,
    )


class ProtectOptions(DataOptions):
    """Anonymize with the workspace ``pii:`` policy and register the result."""

    output: str
    register_as: str | None = None
    """Catalogue name of the protected dataset (default: no registration)."""


class ProtectKind(StageKind):
    """Apply the PII policy; the output is re-scanned so gates see what is left unprotected."""

    name = "protect"
    Options = ProtectOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        outputs = [options.output] + ([f"dataset:{options.register_as}"] if options.register_as else [])
        return _declared_path(options), outputs

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.data.pii import protect_dataset, scan

        output = ctx.path(options.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        source = next(
            (
                ArtifactRef("dataset", options.dataset, str(o.version))
                for up in ctx.upstream.values()
                for o in up.outputs
                if o.kind == "dataset" and o.name == options.dataset
            ),
            None,
        )
        outcome = protect_dataset(
            ctx.workspace,
            str(ctx.path(data_path(ctx, options))),
            output,
            principal=ctx.principal,
            register=options.register_as,
            lineage_inputs=[source] if source else [],
        )
        result = outcome.result
        after = scan(str(output), keys=_workspace_data_keys(ctx))
        produced = {options.output: file_digest(output)}
        outputs: tuple[ArtifactRef, ...] = ()
        version = outcome.registered
        if options.register_as and version is not None:
            produced[f"dataset:{options.register_as}"] = version.digest
            outputs = (ArtifactRef("dataset", options.register_as, str(version.version), version.digest),)
        return _pii_outcome(
            after,
            f"protected {len(result.actions)} column(s)",
            produced,
            outputs,
            {"protected_columns": len(result.actions)},
        )


class OutliersOptions(DataOptions):
    """Fit an outlier detector on reference data (and score ``score_path`` if given)."""

    output: str
    target_fpr: float = Field(default=0.01, gt=0, lt=0.5)
    columns: list[str] | None = None
    score_path: str | None = None


class OutliersKind(StageKind):
    """IsolationForest + robust z-scores; metrics under ``outliers``."""

    name = "outliers"
    Options = OutliersOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        inputs = _declared_path(options) + ([options.score_path] if options.score_path else [])
        return inputs, [options.output]

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.data.outliers import OutlierDetector

        detector = OutlierDetector(target_fpr=options.target_fpr, columns=options.columns)
        detector.fit(str(ctx.path(data_path(ctx, options))))
        output = ctx.path(options.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        digest = detector.save(output)
        from mlward.data.io import open_dataset

        scored_path = options.score_path or data_path(ctx, options)
        scores = detector.score(open_dataset(ctx.path(scored_path)).read())
        share = float(scores.is_outlier.mean()) if len(scores.is_outlier) else 0.0
        return StageOutcome(
            metrics={
                "outliers": {
                    "share": round(share, 5),
                    "flagged": int(scores.is_outlier.sum()),
                    "rows": len(scores.is_outlier),
                    "threshold": scores.threshold,
                }
            },
            produced={options.output: file_digest(output)},
            summary=f"{share:.2%} of {scored_path} flagged (detector sha256:{str(digest)[:12]})",
        )


class FairnessOptions(DataOptions):
    """Group fairness of labels in data, or of a model's predictions."""

    sensitive: list[str]
    label: str | None = None
    prediction: str | None = None
    """Column of predictions: model fairness (needs ``label``)."""
    positive_label: Any = 1


class FairnessKind(StageKind):
    """Disparate impact, demographic parity and equalized odds; metrics under ``fairness``."""

    name = "fairness"
    Options = FairnessOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        return _declared_path(options), []

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.data.fairness import data_fairness, model_fairness
        from mlward.data.io import open_dataset

        path = ctx.path(data_path(ctx, options))
        if options.prediction:
            if not options.label:
                raise ConfigError(f"stage {ctx.stage}: model fairness needs 'label' next to 'prediction'")
            table = open_dataset(path).read()
            sensitive = {
                name: table.column(name).to_numpy(zero_copy_only=False) for name in options.sensitive
            }
            report = model_fairness(
                table.column(options.label).to_numpy(zero_copy_only=False),
                table.column(options.prediction).to_numpy(zero_copy_only=False),
                sensitive,
                positive_label=options.positive_label,
            )
        else:
            report = data_fairness(
                str(path), options.sensitive, options.label, positive_label=options.positive_label
            )
        metrics = {
            "disparate_impact": round(float(report.disparate_impact), 4),
            "demographic_parity_difference": round(float(report.demographic_parity_difference), 4),
        }
        if report.equalized_odds_difference is not None:
            metrics["equalized_odds_difference"] = round(float(report.equalized_odds_difference), 4)
        return StageOutcome(
            metrics={"fairness": metrics},
            summary=", ".join(f"{k} {v}" for k, v in metrics.items()),
            report=report.to_dict(),
        )


class DriftOptions(KindOptions):
    """Compare current data with a reference."""

    reference: str
    """A declared dataset name or a path."""
    current: str
    columns: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    share_threshold: float = Field(default=0.5, gt=0, le=1)
    report: str | None = None
    """Write the HTML drift report here."""


class DriftKind(StageKind):
    """Per-column drift tests and the dataset drift share; metrics under ``drift``."""

    name = "drift"
    Options = DriftOptions

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        inputs = [
            p if ("/" in p or "." in p) else f"dataset:{p}" for p in (options.reference, options.current)
        ]
        return inputs, [options.report] if options.report else []

    def _resolve(self, ctx: StageContext, name: str) -> str:
        from mlward.data.targets import declared_dataset

        declared = declared_dataset(ctx.workspace, name)
        return str(declared.path if declared is not None else ctx.path(name))

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.data.drift import DriftDetector
        from mlward.data.io import open_dataset

        reference = self._resolve(ctx, options.reference)
        columns = options.columns
        if columns is None and options.exclude:
            columns = [c for c in open_dataset(reference).schema().names if c not in options.exclude]
        detector = DriftDetector(columns=columns, share_threshold=options.share_threshold)
        report = detector.fit(reference).compare(self._resolve(ctx, options.current))
        produced = {}
        if options.report:
            from mlward.report.html import render_html

            out = ctx.path(options.report)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(
                render_html(drift=report, title=f"drift: {options.current} vs {options.reference}")
            )
            produced[options.report] = file_digest(out)
        drifted = report.drifted_columns
        return StageOutcome(
            metrics={
                "drift": {
                    "share": round(report.drift_share, 4),
                    "drifted": report.drifted,
                    "drifted_columns": drifted,
                    "columns": len(report.columns),
                }
            },
            produced=produced,
            summary=f"{len(drifted)}/{len(report.columns)} columns drifted"
            + (f" ({', '.join(drifted[:5])}{'…' if len(drifted) > 5 else ''})" if drifted else ""),
        )
