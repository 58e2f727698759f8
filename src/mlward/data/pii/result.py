"""Typed results of a PII scan and their JSON form (``schema_version: 1``).

JSON schema, version 1 (documented in docs/pii.md)::

    {"schema_version": 1, "source": str, "rows": int, "sensitivity": str,
     "engine": str, "duration_s": float, "not_scanned": [str],
     "columns": [{"name", "dtype", "kind", "rows", "non_null", "cells_candidate",
                  "cells_validated", "sampled", "sensitivity", "protection",
                  "protection_verified", "protected_entities",
                  "entity_types": [str],
                  "entities": [{"type", "category", "confidence", "share", "cells_matched",
                                "cells_validated", "mode", "evidence", "examples"}],
                  "findings": [{"row", "start", "end", "type", "masked"}]}]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlward.core.findings import Finding, Location, Severity
from mlward.data.pii.entities import EntityType, Sensitivity, category, sensitivity, severity

SCHEMA_VERSION = 1
NOT_SCANNED = "not_scanned"
"""Column kind of values the scan could not read (binary, nested): never counted clean."""
NOT_SCANNED_RULE = "MW-PII-NOT-SCANNED"
"""Finding rule id of a column that was not scanned."""


@dataclass(frozen=True)
class CellFinding:
    """One entity occurrence in one cell (masked)."""

    row: int
    """Row number in the dataset (0-based, in partition order)."""
    column: str
    """Column name."""
    entity: EntityType
    """Entity type."""
    start: int
    """Start offset in the stripped cell text."""
    end: int
    """End offset (exclusive)."""
    masked: str
    """The matched text, masked (never the raw value)."""


@dataclass(frozen=True)
class EntityReport:
    """One entity type found in one column."""

    entity: EntityType
    """Entity type."""
    confidence: float
    """0..1: how sure the scan is that the column holds this entity."""
    share: float
    """Estimated fraction of the column's non-null cells holding the entity."""
    cells_matched: int
    """Validated cells that hold the entity."""
    cells_validated: int
    """Cells the validators looked at (a sample when ``sampled``)."""
    mode: str
    """``column`` (the values are the entity) or ``text`` (embedded in free text)."""
    evidence: tuple[str, ...]
    """What supports it: ``validator``, ``column-name``, ``context``."""
    examples: tuple[str, ...] = ()
    """Masked examples."""


@dataclass(frozen=True)
class ColumnReport:
    """Scan result for one column."""

    name: str
    """Column name."""
    dtype: str
    """Arrow type."""
    kind: str
    """``structured``, ``free_text``, ``skipped`` (types that cannot hold PII text) or
    ``not_scanned`` (values that may hold PII but could not be read: binary, nested)."""
    rows: int
    """Rows scanned."""
    non_null: int
    """Non-null, non-empty cells."""
    cells_candidate: int
    """Cells the vectorized pre-filters selected (counted on every cell)."""
    cells_validated: int
    """Candidate cells the validators ran on."""
    entities: tuple[EntityReport, ...] = ()
    """Entity types found, most confident first."""
    findings: tuple[CellFinding, ...] = ()
    """Sample of cell-level findings (masked)."""
    protection: str | None = None
    """Anonymization action the column metadata *claims* (``hash``...), if any: a claim
    only; see ``protection_verified``."""
    protection_verified: bool = False
    """Whether the column's seal verified with the data key: the content is exactly what
    mlward's protection wrote (see ``seal``). False without a key or a seal."""
    vouched: tuple[EntityType, ...] = ()
    """Entities a verified column may show by design (FF3-1 output, ``fake`` values)."""

    @property
    def sampled(self) -> bool:
        """Whether validators saw only a sample of the candidate cells."""
        return self.cells_validated < self.cells_candidate

    @property
    def entity_types(self) -> tuple[EntityType, ...]:
        """Entity types found, most confident first."""
        return tuple(report.entity for report in self.entities)

    @property
    def primary(self) -> EntityReport | None:
        """The most confident entity, if any."""
        return self.entities[0] if self.entities else None

    @property
    def sensitivity(self) -> Sensitivity:
        """Highest sensitivity of the entities found."""
        return max((sensitivity(e) for e in self.entity_types), default=Sensitivity.PUBLIC)

    @property
    def not_scanned(self) -> bool:
        """Whether the column may hold PII the scan could not read (fails ``--fail-on``)."""
        return self.kind == NOT_SCANNED

    def is_protected(self, entity: EntityType) -> bool:
        """Whether ``entity`` found here is mlward's verified protected output, not raw data."""
        return self.protection_verified and entity in self.vouched

    @property
    def protected(self) -> bool:
        """Whether every entity found here is verified protected output (nothing raw left)."""
        return self.protection_verified and all(self.is_protected(e) for e in self.entity_types)

    @property
    def unprotected(self) -> bool:
        """Whether the content holds PII that is not verified protected output.

        Judged on content: a ``protection`` recorded in metadata counts only where the
        seal verified, and only for the entities its action produces by design.
        """
        return any(not self.is_protected(e) for e in self.entity_types)


@dataclass(frozen=True)
class PiiScanResult:
    """Result of ``mlward.data.pii.scan``."""

    source: str
    """What was scanned (a path or ``<pandas.DataFrame>``...)."""
    rows: int
    """Rows scanned."""
    columns: tuple[ColumnReport, ...]
    """One report per column, in table order."""
    engine: str = "local"
    """Engine that ran the scan."""
    duration_s: float = 0.0
    """Wall time."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Scan settings (sampling caps, thresholds)."""

    @property
    def sensitivity(self) -> Sensitivity:
        """Dataset label: the highest column label."""
        return max((c.sensitivity for c in self.columns), default=Sensitivity.PUBLIC)

    def column(self, name: str) -> ColumnReport:
        """The report of column ``name``."""
        for report in self.columns:
            if report.name == name:
                return report
        raise KeyError(name)

    def entities_by_column(self) -> dict[str, tuple[EntityType, ...]]:
        """``{column: entity types}`` for columns holding PII."""
        return {c.name: c.entity_types for c in self.columns if c.entities}

    def unprotected_columns(self) -> tuple[ColumnReport, ...]:
        """Columns whose content holds PII that is not verified protected output."""
        return tuple(c for c in self.columns if c.unprotected)

    def not_scanned_columns(self) -> tuple[ColumnReport, ...]:
        """Columns whose values could not be scanned (a gate treats them as failures)."""
        return tuple(c for c in self.columns if c.not_scanned)

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (see the module docstring)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "source": self.source,
            "rows": self.rows,
            "sensitivity": self.sensitivity.label,
            "engine": self.engine,
            "duration_s": round(self.duration_s, 3),
            "not_scanned": [c.name for c in self.not_scanned_columns()],
            "settings": self.settings,
            "columns": [_column_dict(c) for c in self.columns],
        }

    def to_findings(self) -> list[Finding]:
        """One ``Finding`` per (column, entity): for gates, SARIF and the audit trail."""
        findings = [_not_scanned_finding(self.source, c) for c in self.not_scanned_columns()]
        for column in self.columns:
            for report in column.entities:
                protected = column.is_protected(report.entity)
                level = Severity.INFO if protected else severity(report.entity)
                if not protected and column.protection is not None:
                    # Data recorded as protected is trusted downstream: PII still in it is a
                    # leak through protection (or a forged flag), at least HIGH.
                    level = max(level, Severity.HIGH)
                state = _protection_state(column, protected)
                findings.append(
                    Finding(
                        rule_id=f"MW-PII-{report.entity.value}",
                        severity=level,
                        message=(
                            f"column {column.name!r} holds {report.entity.value} "
                            f"({report.share:.0%} of cells, confidence {report.confidence:.2f}, "
                            f"{state})"
                        ),
                        location=Location(path=self.source, detail=f"column:{column.name}"),
                        properties={
                            "entity": report.entity.value,
                            "category": category(report.entity),
                            "column": column.name,
                            "confidence": report.confidence,
                            "share": report.share,
                            "mode": report.mode,
                            "protection": column.protection,
                            "protection_verified": column.protection_verified,
                            "protected": protected,
                            "examples": list(report.examples),
                        },
                    )
                )
        return findings


def _protection_state(column: ColumnReport, protected: bool) -> str:
    if column.protection is None:
        return "unprotected"
    if protected:
        return f"protected by {column.protection}, seal verified"
    if column.protection_verified:
        return f"protected by {column.protection}, yet the content still holds it"
    return f"metadata claims protection by {column.protection}, not verified: judged on content"


def _not_scanned_finding(source: str, column: ColumnReport) -> Finding:
    # HIGH, as every check that could not complete: a default gate must not let it pass.
    return Finding(
        rule_id=NOT_SCANNED_RULE,
        severity=Severity.HIGH,
        message=(
            f"column {column.name!r} ({column.dtype}) was not scanned for PII: its values "
            "could not be read as text (check the file's encoding, or cast the column)"
        ),
        location=Location(path=source, detail=f"column:{column.name}"),
        properties={
            "column": column.name,
            "dtype": column.dtype,
            "entity": None,
            "protection": None,
            "protection_verified": False,
            "protected": False,
        },
    )


def _column_dict(column: ColumnReport) -> dict[str, Any]:
    return {
        "name": column.name,
        "dtype": column.dtype,
        "kind": column.kind,
        "rows": column.rows,
        "non_null": column.non_null,
        "cells_candidate": column.cells_candidate,
        "cells_validated": column.cells_validated,
        "sampled": column.sampled,
        "sensitivity": column.sensitivity.label,
        "protection": column.protection,
        "protection_verified": column.protection_verified,
        "protected_entities": [e.value for e in column.entity_types if column.is_protected(e)],
        "entity_types": [e.value for e in column.entity_types],
        "entities": [
            {
                "type": r.entity.value,
                "category": category(r.entity),
                "confidence": r.confidence,
                "share": r.share,
                "cells_matched": r.cells_matched,
                "cells_validated": r.cells_validated,
                "mode": r.mode,
                "evidence": list(r.evidence),
                "examples": list(r.examples),
            }
            for r in column.entities
        ],
        "findings": [
            {"row": f.row, "start": f.start, "end": f.end, "type": f.entity.value, "masked": f.masked}
            for f in column.findings
        ],
    }
