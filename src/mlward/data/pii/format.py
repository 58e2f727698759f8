"""Output formats for PII scan results: a Rich table, JSON (schema v1) and SARIF 2.1.0.

Formatting never happens in the scan itself; the CLI picks a formatter by name.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mlward.data.pii.entities import EntityType, category
from mlward.data.pii.result import NOT_SCANNED_RULE, PiiScanResult
from mlward.report.sarif import to_sarif as to_sarif_log

SARIF_TOOL_NAME = "mlward pii scan"


def to_json(result: PiiScanResult) -> dict[str, Any]:
    """The versioned JSON document (``schema_version: 1``)."""
    return result.to_dict()


def to_table(result: PiiScanResult) -> Table:
    """A Rich table: one row per column, with its entity types and masked examples."""
    missed = result.not_scanned_columns()
    table = Table(
        title=(
            f"PII scan of {result.source}: {result.rows} rows, "
            f"sensitivity [bold]{result.sensitivity.label}[/]"
            + (f", [bold red]{len(missed)} column(s) NOT SCANNED[/]" if missed else "")
        ),
        show_lines=False,
    )
    for header in ("column", "kind", "entities", "confidence", "share", "validated", "examples"):
        table.add_column(header, overflow="fold")
    for column in result.columns:
        if column.not_scanned:
            unreadable = f"unreadable {column.dtype}"
            table.add_row(column.name, "[bold red]NOT SCANNED[/]", unreadable, "", "", "", "")
            continue
        if not column.entities:
            table.add_row(column.name, column.kind, "-", "", "", _validated(column), "")
            continue
        for index, report in enumerate(column.entities):
            table.add_row(
                column.name if index == 0 else "",
                column.kind if index == 0 else "",
                report.entity.value + _protection_label(column, report.entity),
                f"{report.confidence:.2f}",
                f"{report.share:.1%}",
                _validated(column) if index == 0 else "",
                ", ".join(report.examples[:2]),
            )
    return table


def _protection_label(column: Any, entity: Any) -> str:
    if column.protection is None:
        return ""
    if column.is_protected(entity):
        return f" ({column.protection}, sealed)"
    return f" ([bold red]{column.protection} claimed, not verified[/])"


def _validated(column: Any) -> str:
    suffix = " (sample)" if column.sampled else ""
    return f"{column.cells_validated}/{column.cells_candidate}{suffix}"


def sarif_rules() -> dict[str, str]:
    """SARIF rule descriptions: ``MW-PII-<ENTITY>`` -> one line."""
    rules = {
        f"MW-PII-{entity.value}": f"Column holds {entity.value} data ({category(entity)})"
        for entity in EntityType
    }
    rules[NOT_SCANNED_RULE] = "Column could not be scanned for PII (unreadable values)"
    return rules


def to_sarif(result: PiiScanResult) -> dict[str, Any]:
    """A SARIF 2.1.0 log (the shared ``mlward.report.sarif`` writer), one result per
    (column, entity type); protected columns are notes."""
    return to_sarif_log(result.to_findings(), SARIF_TOOL_NAME, sarif_rules())
