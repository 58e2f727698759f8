"""The software bill of materials of a Python environment, as CycloneDX 1.6 JSON.

``build_sbom`` takes the installed distributions and any extra components the caller
already built (registered models as ``machine-learning-model``, datasets as ``data``),
so the ML-BOM adds to the same document instead of making a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from mlward.report.cyclonedx import license_choices, new_bom, python_package_component
from mlward.supplychain.environment import InstalledPackage


def package_component(package: InstalledPackage) -> dict[str, Any]:
    """The CycloneDX component of one installed distribution, licenses included."""
    licenses = license_choices(package.license_expression, package.license, package.classifiers)
    return python_package_component(
        package.name, package.version, licenses=licenses, description=package.summary
    )


def build_sbom(
    env_packages: Sequence[InstalledPackage],
    extra_components: Iterable[Mapping[str, Any]] = (),
    *,
    metadata_component: Mapping[str, Any] | None = None,
    serial_number: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A CycloneDX 1.6 BOM of ``env_packages`` (sorted by name) plus ``extra_components``.

    Each extra component must carry its own unique ``bom-ref``; it is appended as given.
    """
    components = [package_component(p) for p in sorted(env_packages, key=lambda p: p.key)]
    components.extend(dict(c) for c in extra_components)
    return new_bom(components, metadata_component, serial_number=serial_number, timestamp=timestamp)


def workspace_sbom(workspace: Any, *, include_models: bool = True) -> dict[str, Any]:
    """The environment's SBOM plus the workspace's registered models and their datasets."""
    from mlward.model.bom import dataset_component, model_component
    from mlward.model.registry import list_models
    from mlward.supplychain.environment import current_environment

    extra: list[dict[str, Any]] = []
    if include_models:
        seen: set[str] = set()
        for version in list_models(workspace):
            if version.stage == "archived":
                continue
            extra.append(model_component(version))
            for ref in version.datasets:
                if ref not in seen:
                    seen.add(ref)
                    extra.append(dataset_component(ref))
    project = {
        "type": "application",
        "name": workspace.config.project,
        "bom-ref": f"project:{workspace.config.project}",
    }
    return build_sbom(current_environment().packages, extra, metadata_component=project)
