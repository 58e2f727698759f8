"""CycloneDX 1.6 JSON documents: BOM skeleton, Python package components, validation.

Generic helpers shared by every mlward BOM (the environment SBOM, dependency-audit VEX,
the ML-BOM of registered models and datasets): documents are plain dicts in CycloneDX
1.6 JSON form. Validation uses the official 1.6 JSON schema (with its SPDX and JSF
sub-schemas) as shipped inside ``cyclonedx-python-lib``, so it works offline.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cyclonedx import spdx
from packageurl import PackageURL

from mlward import __version__

SPEC_VERSION = "1.6"
SCHEMA_URL = "http://cyclonedx.org/schema/bom-1.6.schema.json"

# The most common PyPI trove classifiers, mapped to SPDX ids; others keep their name.
_CLASSIFIER_SPDX = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: BSD License": "BSD-3-Clause",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
}
_MAX_LICENSE_NAME = 100
"""A ``License`` field longer than this is a pasted license text, not a name."""


def pypi_purl(name: str, version: str | None = None) -> str:
    """The package URL of a PyPI project (``pkg:pypi/zope-interface@5.0``), purl-normalised."""
    return str(PackageURL(type="pypi", name=name, version=version).to_string())


def tool_component() -> dict[str, Any]:
    """mlward itself, as the tool that made a BOM."""
    return {
        "type": "application",
        "name": "mlward",
        "version": __version__,
        "purl": pypi_purl("mlward", __version__),
    }


def _usable(text: str | None) -> str | None:
    """A license field worth using: not empty, not ``UNKNOWN``, not a pasted license text."""
    text = (text or "").strip()
    if not text or text.upper() == "UNKNOWN" or len(text) > _MAX_LICENSE_NAME:
        return None
    return text


def license_choices(
    expression: str | None = None,
    declared: str | None = None,
    classifiers: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """CycloneDX ``licenses`` from Python metadata, best source first.

    A PEP 639 ``License-Expression`` wins (a single SPDX id becomes ``license.id``, a
    compound one an ``expression``), then the free-text ``License`` field when it is an
    SPDX id or expression, then trove classifiers. The schema forbids mixing an
    expression with license entries, so an expression is always alone.
    """
    for candidate in (expression, declared):
        text = _usable(candidate)
        if text is None:
            continue
        fixed = spdx.fixup_id(text)
        if fixed is not None:
            return [{"license": {"id": fixed}}]
        if spdx.is_expression(text):
            return [{"expression": text}]
    entries: dict[str, dict[str, Any]] = {}
    for classifier in classifiers:
        if classifier in _CLASSIFIER_SPDX:
            spdx_id = _CLASSIFIER_SPDX[classifier]
            entries.setdefault(spdx_id, {"license": {"id": spdx_id}})
        elif classifier.startswith("License ::"):
            name = classifier.rsplit("::", 1)[-1].strip()
            entries.setdefault(name, {"license": {"name": name}})
    declared_name = _usable(declared)
    if not entries and declared_name is not None:
        return [{"license": {"name": declared_name}}]
    return list(entries.values())


def python_package_component(
    name: str,
    version: str,
    *,
    licenses: Sequence[Mapping[str, Any]] = (),
    description: str | None = None,
    bom_ref: str | None = None,
) -> dict[str, Any]:
    """A ``library`` component for a PyPI distribution, its purl as the default bom-ref."""
    purl = pypi_purl(name, version)
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": bom_ref or purl,
        "name": name,
        "version": version,
        "purl": purl,
    }
    if description:
        component["description"] = description
    if licenses:
        component["licenses"] = [dict(entry) for entry in licenses]
    return component


def new_bom(
    components: Iterable[Mapping[str, Any]],
    metadata_component: Mapping[str, Any] | None = None,
    *,
    vulnerabilities: Iterable[Mapping[str, Any]] = (),
    serial_number: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A CycloneDX 1.6 BOM holding ``components`` (and ``vulnerabilities`` when given).

    ``metadata_component`` describes what the BOM is about (the project, a model).
    The serial number is a fresh ``urn:uuid`` unless given (tests pin it).
    """
    moment = (timestamp or datetime.now(UTC)).astimezone(UTC)
    metadata: dict[str, Any] = {
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tools": {"components": [tool_component()]},
    }
    if metadata_component is not None:
        metadata["component"] = dict(metadata_component)
    bom: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial_number or uuid.uuid4().urn,
        "version": 1,
        "metadata": metadata,
        "components": [dict(c) for c in components],
    }
    vulns = [dict(v) for v in vulnerabilities]
    if vulns:
        bom["vulnerabilities"] = vulns
    return bom


@functools.cache
def _validator() -> Any:
    # Imported lazily: building the validator parses ~300 KB of schema JSON.
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


def validate_bom(bom: Mapping[str, Any]) -> list[str]:
    """Validate ``bom`` against the CycloneDX 1.6 JSON schema; return the errors (none: valid).

    Each error reads ``<json path>: <message>``. The check is offline.
    """
    errors = _validator().validate_str(json.dumps(bom), all_errors=True) or []
    messages = []
    for error in errors:
        detail = error.data  # a jsonschema ValidationError
        path = "$" + "".join(f"[{p!r}]" for p in getattr(detail, "absolute_path", []))
        messages.append(f"{path}: {getattr(detail, 'message', detail)}")
    return sorted(messages)
