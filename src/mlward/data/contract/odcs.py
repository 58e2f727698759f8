"""Import Open Data Contract Standard (ODCS) v3 documents as mlward contracts.

Each object of ``schema[]`` becomes one contract named after it. Properties map to
columns (their ``physicalName`` when given, as that is what the data holds):

* ``logicalType`` / ``physicalType`` -> ``type``; ``required`` -> ``nullable: false``;
  ``unique`` -> ``unique``; ``primaryKey`` (+ ``primaryKeyPosition``) -> ``primary_key``;
* ``logicalTypeOptions``: ``minimum`` / ``maximum`` / ``exclusiveMinimum`` /
  ``exclusiveMaximum`` -> range bounds, ``minLength`` / ``maxLength`` -> lengths,
  ``pattern`` -> ``regex`` (ODCS patterns match anywhere in the value, as in ECMA-262,
  so an unanchored pattern is wrapped to keep that meaning), ``format: email|uuid`` ->
  ``regex``; ``enum`` -> ``allowed``;
* ``classification`` -> ``sensitivity``; ``criticalDataElement`` -> ``critical``;
* library quality metrics ``nullValues``, ``missingValues``, ``invalidValues``
  (``validValues`` / ``pattern``), ``duplicateValues`` (property and schema level),
  ``rowCount`` and the deprecated ``rule: between``, with their thresholds turned into
  ``max_failing`` (unit ``rows``) or ``mostly`` (unit ``percent``);
* an SLA ``latency`` on ``table.column`` -> ``freshness``.

Everything that is a check or a constraint but cannot be expressed (SQL and custom
quality rules, relationships, nested types, ``multipleOf`` ...) is listed in
``OdcsImport.unmapped`` with its path in the source document, and in the header of
the YAML written by ``to_yaml``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlward.core.errors import ConfigError
from mlward.data.contract.infer import FORMATS
from mlward.data.contract.loader import parse_contracts, read_yaml
from mlward.data.contract.odcs_quality import QualityMapper, duration_of, ecma_pattern
from mlward.data.contract.schema import Contract

_INTEGER = (
    "int",
    "integer",
    "bigint",
    "smallint",
    "tinyint",
    "int2",
    "int4",
    "int8",
    "serial",
    "bigserial",
    "long",
)
_FLOAT = ("double", "float", "real", "numeric", "decimal", "number", "float4", "float8", "money")
_STRING = ("varchar", "char", "text", "string", "bpchar", "uuid", "nvarchar", "character", "clob", "xml")
_LOGICAL = {"string": "string", "integer": "int", "number": "float", "boolean": "bool", "date": "date",
            "timestamp": "datetime"}  # fmt: skip
_SENSITIVITY = {"public": "public", "internal": "internal", "confidential": "confidential",
                "restricted": "restricted", "sensitive": "confidential", "secret": "restricted",
                "highly confidential": "restricted"}  # fmt: skip
_ISO_DATE_FORMATS = ("yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-ddTHH:mm:ssZ", "YYYY-MM-DDTHH:mm:ss.SSSZ")
_UNMAPPED_OPTIONS = {
    "multipleOf": "multipleOf is not checked",
    "minItems": "array items are not checked", "maxItems": "array items are not checked",
    "uniqueItems": "array items are not checked",
    "required": "object members are not checked", "minProperties": "object members are not checked",
    "maxProperties": "object members are not checked",
    "timezone": "time zones are normalized to UTC, not checked",
    "defaultTimezone": "naive timestamps are read as UTC",
}  # fmt: skip
_INFORMATIONAL = (
    "servers",
    "team",
    "roles",
    "price",
    "support",
    "authoritativeDefinitions",
    "customProperties",
)


@dataclass(frozen=True)
class Unmapped:
    """Something in the ODCS document that has no mlward equivalent."""

    path: str
    """Where, as a path into the document (``schema[0].properties[2].quality[0]``)."""
    reason: str
    """Why it was not mapped."""


@dataclass(frozen=True)
class OdcsImport:
    """The contracts converted from one ODCS document."""

    source: str
    """The document's path (or ``<mapping>``)."""
    api_version: str | None
    """The document's ``apiVersion`` (``v3.0.2`` ...)."""
    contracts: dict[str, Contract]
    """One contract per schema object."""
    unmapped: tuple[Unmapped, ...]
    """What could not be mapped."""

    def to_dict(self) -> dict[str, Any]:
        """``{"contracts": {...}}`` ready for mlward.yaml or a contract file."""
        return {"contracts": {name: c.to_yaml_dict() for name, c in self.contracts.items()}}

    def to_yaml(self) -> str:
        """The contracts as YAML, headed by comments listing what was not mapped."""
        lines = [f"# Imported from {self.source} (ODCS {self.api_version or 'version unknown'}) by mlward."]
        if self.unmapped:
            lines.append(f"# Not mapped ({len(self.unmapped)}):")
            lines += [f"#   - {u.path}: {u.reason}" for u in self.unmapped]
        body = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        return "\n".join(lines) + "\n" + body


def _type(prop: Mapping[str, Any]) -> str | None:
    logical = str(prop.get("logicalType") or "").lower()
    physical = str(prop.get("physicalType") or "").lower().split("(")[0].split("[")[0].strip()
    if logical == "date" and physical.startswith(("timestamp", "datetime")):
        return "datetime"
    if logical in ("number", "") and physical in _INTEGER:
        return "int"
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    if physical in _INTEGER:
        return "int"
    if physical in _FLOAT:
        return "float"
    if physical in _STRING:
        return "string"
    if physical in ("bool", "boolean"):
        return "bool"
    if physical == "date":
        return "date"
    if physical.startswith(("timestamp", "datetime")):
        return "datetime"
    return None


def _declared_length(physical: Any) -> int | None:
    """``varchar(18)`` / ``varchar[15]`` -> 18 / 15: the longest value the column holds."""
    match = re.match(
        r"^\s*(?:n?varchar|n?char|character varying|string)\s*[(\[]\s*(\d+)\s*[)\]]",
        str(physical or ""),
        re.I,
    )
    return int(match.group(1)) if match else None


class _Importer:
    def __init__(self) -> None:
        self.unmapped: list[Unmapped] = []
        self.mapped_sla: set[int] = set()

    def note(self, path: str, reason: str) -> None:
        self.unmapped.append(Unmapped(path, reason))

    def _options(
        self, column: dict[str, Any], options: Mapping[str, Any], kind: str | None, path: str
    ) -> None:
        exclusive = {"exclusiveMinimum": "exclusive_min", "exclusiveMaximum": "exclusive_max"}
        for key, value in options.items():
            where = f"{path}.logicalTypeOptions.{key}"
            if key in ("minimum", "maximum"):
                target = key[:3]
                if options.get(f"exclusive{key[0].upper()}{key[1:]}") is True:  # draft-4 style boolean
                    target = "exclusive_" + target
                column[target] = value
            elif key in exclusive and not isinstance(value, bool):
                column[exclusive[key]] = value
            elif key in exclusive:
                continue  # handled with minimum / maximum
            elif key in ("minLength", "maxLength"):
                column["min_length" if key == "minLength" else "max_length"] = value
            elif key == "pattern":
                column["regex"] = ecma_pattern(str(value))
            elif key == "format" and kind in ("string", None) and str(value).lower() in FORMATS:
                column["regex"] = FORMATS[str(value).lower()]
            elif key == "format" and kind in ("date", "datetime") and value in _ISO_DATE_FORMATS:
                continue  # ISO 8601 is what mlward parses
            elif key == "format":
                self.note(where, f"format {value!r} is not checked")
            else:
                self.note(where, _UNMAPPED_OPTIONS.get(key, "no mlward equivalent"))

    def column(
        self, prop: Mapping[str, Any], path: str, quality: QualityMapper
    ) -> tuple[str, dict[str, Any]]:
        name = str(prop.get("physicalName") or prop.get("name") or "")
        if not name:
            raise ConfigError(f"{path}: a property needs a name")
        column: dict[str, Any] = {}
        kind = _type(prop)
        logical = str(prop.get("logicalType") or "")
        if kind is not None:
            column["type"] = kind
        elif logical or prop.get("physicalType"):
            what = logical or prop.get("physicalType")
            self.note(f"{path}.logicalType", f"type {what!r} is not checked (nested or unknown type)")
        if prop.get("required") is True:
            column["nullable"] = False
        if prop.get("unique") is True:
            column["unique"] = True
        declared = _declared_length(prop.get("physicalType"))
        if kind == "string" and declared is not None:
            column["max_length"] = declared
        self._options(column, prop.get("logicalTypeOptions") or {}, kind, path)
        if prop.get("enum"):
            column["allowed"] = [e.get("value") if isinstance(e, Mapping) else e for e in prop["enum"]]
        label = str(prop.get("classification") or "").strip().lower()
        if label in _SENSITIVITY:
            column["sensitivity"] = _SENSITIVITY[label]
        elif label:
            self.note(f"{path}.classification", f"classification {label!r} is not a sensitivity label")
        if prop.get("criticalDataElement") is True:
            column["critical"] = True
        description = prop.get("description") or prop.get("businessName")
        if description:
            column["description"] = str(description)
        for key, reason in (
            ("relationships", "referential integrity is not checked"),
            ("encryptedName", "the encrypted column is not checked"),
            ("items", "array items are not checked"),
            ("properties", "nested properties are not checked"),
            ("map", "map entries are not checked"),
        ):
            if prop.get(key):
                self.note(f"{path}.{key}", reason)
        for index, rule in enumerate(prop.get("quality") or []):
            quality.property_rule(column, rule, f"{path}.quality[{index}]")
        return name, column

    def contract(
        self, obj: Mapping[str, Any], index: int, document: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        path = f"schema[{index}]"
        name = str(obj.get("name") or obj.get("physicalName") or f"object{index}")
        quality = QualityMapper(self.note)
        raw: dict[str, Any] = {"columns": {}}
        top = document.get("description")
        purpose = top.get("purpose") if isinstance(top, Mapping) else top
        raw["description"] = str(obj.get("description") or purpose or "")
        if document.get("version") is not None:
            raw["version"] = str(document["version"])
        keys: list[tuple[int, int, str]] = []
        for position, prop in enumerate(obj.get("properties") or []):
            column_name, column = self.column(prop, f"{path}.properties[{position}]", quality)
            raw["columns"][column_name] = column
            if prop.get("primaryKey") is True:
                rank = prop.get("primaryKeyPosition")
                keys.append((rank if isinstance(rank, int) and rank > 0 else 10_000, position, column_name))
        if keys:
            raw["primary_key"] = [k[2] for k in sorted(keys)]
        for position, rule in enumerate(obj.get("quality") or []):
            quality.schema_rule(raw, rule, f"{path}.quality[{position}]")
        if obj.get("relationships"):
            self.note(f"{path}.relationships", "referential integrity is not checked")
        self._freshness(raw, obj, document)
        return name, raw

    def _freshness(self, raw: dict[str, Any], obj: Mapping[str, Any], document: Mapping[str, Any]) -> None:
        default = document.get("slaDefaultElement")
        names = {str(obj.get("name")), str(obj.get("physicalName"))}
        for index, sla in enumerate(document.get("slaProperties") or []):
            if sla.get("property") != "latency":
                continue
            table, _, column = str(sla.get("element") or default or "").partition(".")
            if table in names and column in raw["columns"]:
                age = duration_of(sla.get("value"), sla.get("unit"))
                if age is not None:
                    raw["freshness"] = {"column": column, "max_age": age}
                    self.mapped_sla.add(index)

    def run(self, document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        objects = document.get("schema")
        if not isinstance(objects, list) or not objects:
            raise ConfigError("not an ODCS v3 data contract: no 'schema' list")
        contracts = {}
        for index, obj in enumerate(objects):
            name, raw = self.contract(obj, index, document)
            contracts[name] = raw
        default = document.get("slaDefaultElement")
        for index, sla in enumerate(document.get("slaProperties") or []):
            if index in self.mapped_sla:
                continue
            if sla.get("property") == "latency":
                element = sla.get("element") or default
                reason = f"latency element {element!r} names no column of a schema object (or no duration)"
            else:
                reason = f"SLA {sla.get('property')!r} is not a data check"
            self.note(f"slaProperties[{index}]", reason)
        for key in _INFORMATIONAL:
            if document.get(key):
                self.note(key, "informational, not a data check")
        return contracts


def import_odcs(source: str | os.PathLike[str] | Mapping[str, Any]) -> OdcsImport:
    """Convert an ODCS v3 YAML document (path or parsed mapping) to mlward contracts."""
    label = "<mapping>" if isinstance(source, Mapping) else os.fspath(source)
    document = source if isinstance(source, Mapping) else read_yaml(Path(source))
    if not isinstance(document, Mapping):
        raise ConfigError(f"{label}: not an ODCS document (expected a mapping)")
    kind, version = document.get("kind"), document.get("apiVersion")
    if kind not in (None, "DataContract") or (version and not str(version).startswith("v3")):
        raise ConfigError(
            f"{label}: expected an ODCS v3 DataContract (kind {kind!r}, apiVersion {version!r})"
        )
    importer = _Importer()
    raw = importer.run(document)
    contracts = parse_contracts(raw, f"{label} (converted)")
    return OdcsImport(label, str(version) if version else None, contracts, tuple(importer.unmapped))
