"""Output formats for PII scan results: a Rich table, JSON (schema v1) and SARIF 2.1.0.

Formatting never happens in the scan itself; the CLI picks a formatter by name.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mlward.data.pii.entities import EntityType, category
from mlward.data.pii.result import PiiScanResult

SARIF_TOOL_NAME = "mlward pii scan"


def to_json(result: PiiScanResult) -> dict[str, Any]:
    """The versioned JSON document (``schema_version: 1``)."""
    return result.to_dict()


def to_table(result: PiiScanResult) -> Table:
    """A Rich table: one row per column, with its entity types and masked examples."""
    table = Table(
        title=(
            f"PII scan of {result.source}: {result.rows} rows, "
            f"sensitivity [bold]{result.sensitivity.label}[/]"
        ),
        show_lines=False,
    )
    for header in ("column", "kind", "entities", "confidence", "share", "validated", "examples"):
        table.add_column(header, overflow="fold")
    for column in result.columns:
        if not column.entities:
            table.add_row(column.name, column.kind, "-", "", "", _validated(column), "")
            continue
        for index, report in enumerate(column.entities):
            table.add_row(
                column.name if index == 0 else "",
                column.kind if index == 0 else "",
                report.entity.value + (f" ({column.protection})" if column.protection else ""),
                f"{report.confidence:.2f}",
                f"{report.share:.1%}",
                _validated(column) if index == 0 else "",
                ", ".join(report.examples[:2]),
            )
    return table


def _validated(column: Any) -> str:
    suffix = " (sample)" if column.sampled else ""
    return f"{column.cells_validated}/{column.cells_candidate}{suffix}"


def sarif_rules() -> dict[str, tuple[str, str]]:
    """SARIF rule descriptors: ``MW-PII-<ENTITY>`` -> (name, description)."""
    return {
        f"MW-PII-{entity.value}": (
            f"pii-{entity.value.lower().replace('_', '-')}",
            f"Column holds {entity.value} data ({category(entity)})",
        )
        for entity in EntityType
    }


def to_sarif(result: PiiScanResult) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one result per (column, entity type).

    Delegates to the shared ``mlward.report.sarif.to_sarif`` when it is available and
    otherwise to the generic findings-to-SARIF writer the dependency audit uses.
    """
    findings = result.to_findings()
    try:
        from mlward.report.sarif import to_sarif as shared_to_sarif
    except ImportError:
        from mlward.supplychain.format.sarif import findings_to_sarif as shared_to_sarif
    document: dict[str, Any] = shared_to_sarif(findings, SARIF_TOOL_NAME, sarif_rules())
    return document
