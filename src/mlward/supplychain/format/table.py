"""The audit as Rich tables: vulnerabilities, then dependencies that were not audited."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlward.core.findings import Severity
from mlward.supplychain.audit import AuditReport, best_cvss

_STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def report_table(report: AuditReport) -> RenderableType:
    """A renderable summary of the audit (print it with a Rich console)."""
    parts: list[RenderableType] = []
    found = report.vulnerabilities
    if found:
        table = Table(title=f"known vulnerabilities ({len(found)})")
        for column in ("package", "version", "id", "severity", "fix", "summary"):
            table.add_column(column, overflow="fold")
        for dep, vuln in found:
            rating = best_cvss(vuln)
            severity = vuln.severity.name + (f" {rating.score:.1f}" if rating else "")
            if not vuln.rated:
                severity += " (unrated)"
            cves = [a for a in vuln.aliases if a.startswith("CVE-")]
            ident = vuln.id + (f"\n{', '.join(cves)}" if cves else "")
            table.add_row(
                dep.name,
                dep.version or "",
                ident,
                Text(severity, style=_STYLES[vuln.severity]),
                vuln.fix_versions[0] if vuln.fix_versions else "none",
                vuln.summary,
            )
        parts.append(table)
    unresolved = report.unresolved
    if unresolved:
        table = Table(title=f"not audited ({len(unresolved)})")
        for column in ("requirement", "where", "why"):
            table.add_column(column, overflow="fold")
        for dep in unresolved:
            where = f"{dep.path}:{dep.line}" if dep.line else dep.path
            table.add_row(dep.requirement or dep.name, where, dep.note or "")
        parts.append(table)
    audited = len(report.results) - len(unresolved)
    summary = f"{audited} dependencies audited with {report.service}: {len(found)} known vulnerabilities" + (
        f" in {sum(1 for r in report.results if r.vulnerabilities)} packages" if found else ""
    )
    parts.append(Text(summary, style="bold red" if found else "green"))
    parts.extend(Text(f"warning: {w}", style="yellow") for w in report.warnings[:20])
    return Group(*parts)
