"""ML-BOM: a registered model as a CycloneDX 1.6 ``machine-learning-model`` component.

The BOM lists the model (hashes of every file, framework, scan verdict, signature) with
a model card (parameters, training datasets, performance metrics, considerations),
and one ``data`` component per training dataset, linked from the model card.
"""

from __future__ import annotations

from typing import Any

from mlward.model.registry import ModelVersion, get_model
from mlward.report.cyclonedx import new_bom
from mlward.workspace import Workspace


def dataset_component(ref: str) -> dict[str, Any]:
    """A CycloneDX ``data`` component for a dataset named ``name@version``."""
    name, _, version = ref.partition("@")
    return {
        "type": "data",
        "bom-ref": f"dataset:{ref}",
        "name": name,
        "version": version or "latest",
        "data": [{"type": "dataset", "name": name}],
    }


def model_component(version: ModelVersion) -> dict[str, Any]:
    """The ``machine-learning-model`` component of one registered version."""
    properties = [
        {"name": "mlward:framework", "value": version.framework},
        {"name": "mlward:format", "value": version.format},
        {"name": "mlward:stage", "value": version.stage},
        {"name": "mlward:root-digest", "value": f"sha256:{version.root_digest}"},
        {"name": "mlward:signature", "value": "OpenSSF model-signing v1.0 (ECDSA P-256)"},
        {"name": "mlward:signing-key", "value": version.signing_key},
        {"name": "mlward:scan-max-severity", "value": version.scan_max_severity or "none"},
        {"name": "mlward:registered-by", "value": version.registered_by},
    ]
    if version.approved_by:
        properties.append({"name": "mlward:approved-by", "value": version.approved_by})
    if version.accepted_risk:
        properties.append(
            {"name": "mlward:accepted-risk", "value": str(version.accepted_risk.get("reason", ""))}
        )
    card: dict[str, Any] = {
        "modelParameters": {
            "architectureFamily": version.framework,
            "datasets": [{"ref": f"dataset:{ref}"} for ref in version.datasets],
        },
        "considerations": {
            "technicalLimitations": [
                f"Static scan: {version.scan_max_severity or 'no findings'}; load only through "
                "mlward's verify-then-load path."
            ]
        },
    }
    task = version.params.get("task")
    if task:
        card["modelParameters"]["task"] = str(task)
    metrics = [{"type": str(key), "value": str(value)} for key, value in sorted(version.metrics.items())]
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": f"model:{version.name}@{version.version}",
        "name": version.name,
        "version": str(version.version),
        "hashes": [{"alg": "SHA-256", "content": version.root_digest}],
        "properties": properties,
        "modelCard": card,
    }
    if version.description:
        component["description"] = version.description
    component["components"] = [
        {
            "type": "file",
            "bom-ref": f"model:{version.name}@{version.version}/{rel}",
            "name": rel,
            "hashes": [{"alg": "SHA-256", "content": digest}],
        }
        for rel, digest in sorted(version.files.items())
    ]
    return component


def model_bom(workspace: Workspace, name: str, selector: str | None = None) -> dict[str, Any]:
    """A CycloneDX 1.6 ML-BOM for one registered model version."""
    version = get_model(workspace, name, selector)
    component = model_component(version)
    datasets = [dataset_component(ref) for ref in version.datasets]
    return new_bom(
        [component, *datasets],
        metadata_component={
            "type": "machine-learning-model",
            "name": version.name,
            "version": str(version.version),
            "bom-ref": f"bom-subject:{version.name}@{version.version}",
        },
    )
