"""The environment SBOM and the generic CycloneDX 1.6 helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlward.report.cyclonedx import (
    license_choices,
    new_bom,
    pypi_purl,
    python_package_component,
    validate_bom,
)
from mlward.supplychain.environment import current_environment
from mlward.supplychain.sbom import build_sbom


def test_sbom_of_fixture_environment(site_packages: Path) -> None:
    env = current_environment([site_packages])
    model = {
        "type": "machine-learning-model",
        "bom-ref": "model:credit-risk@3",
        "name": "credit-risk",
        "version": "3",
        "hashes": [{"alg": "SHA-256", "content": "ab" * 32}],
    }
    dataset = {
        "type": "data",
        "bom-ref": "dataset:loans@1",
        "name": "loans",
        "data": [{"type": "dataset", "name": "loans"}],
    }
    bom = build_sbom(
        env.packages,
        extra_components=[model, dataset],
        serial_number="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        timestamp=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert validate_bom(bom) == []
    assert bom["specVersion"] == "1.6" and bom["metadata"]["timestamp"] == "2025-01-02T03:04:05Z"
    by_name = {c["name"]: c for c in bom["components"]}
    assert by_name["Jinja2"]["purl"] == "pkg:pypi/jinja2@2.10"
    assert by_name["Jinja2"]["licenses"] == [{"license": {"id": "BSD-3-Clause"}}]
    assert by_name["Jinja2"]["description"] == "A very fast template engine."
    assert by_name["PyYAML"]["licenses"] == [{"license": {"id": "MIT"}}]  # from the classifier
    assert by_name["mlward-fixture-lib"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert by_name["mlward-fixture-legacy"]["licenses"] == [
        {"license": {"name": "Proprietary, see LICENSE.txt"}}
    ]
    assert [c["type"] for c in bom["components"]][-2:] == ["machine-learning-model", "data"]


def test_sbom_of_the_real_running_environment_is_valid() -> None:
    env = current_environment()
    bom = build_sbom(env.packages)
    assert validate_bom(bom) == []
    assert len(bom["components"]) == len(env.packages) > 50
    assert {"packaging", "httpx", "cvss"} <= {c["name"].lower() for c in bom["components"]}


def test_validate_bom_reports_errors() -> None:
    bom = new_bom([python_package_component("demo", "1.0")])
    bom["components"][0]["licenses"] = [{"license": {"id": "NOT-AN-SPDX-ID"}}]
    bom["components"].append({"type": "spaceship", "name": "x"})
    errors = validate_bom(bom)
    assert len(errors) == 2
    assert errors[0].startswith("$['components'][0]['licenses']")
    assert errors[1].startswith("$['components'][1]['type']: 'spaceship' is not one of")


def test_purl_normalisation() -> None:
    assert pypi_purl("Zope_Interface", "5.0+local") == "pkg:pypi/zope-interface@5.0%2Blocal"
    assert pypi_purl("requests") == "pkg:pypi/requests"


def test_license_choices_precedence() -> None:
    assert license_choices("Apache-2.0", "MIT") == [{"license": {"id": "Apache-2.0"}}]
    assert license_choices(None, "mit") == [{"license": {"id": "MIT"}}]
    assert license_choices(None, "UNKNOWN", ["License :: OSI Approved :: BSD License"]) == [
        {"license": {"id": "BSD-3-Clause"}}
    ]
    pasted = "Copyright (c) 2010 ...\n" + "Permission is hereby granted " * 10
    assert license_choices(None, pasted, []) == []
    assert license_choices(None, None, ["License :: Other/Proprietary License"]) == [
        {"license": {"name": "Other/Proprietary License"}}
    ]
