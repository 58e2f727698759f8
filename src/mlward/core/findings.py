"""Severity levels and the finding record shared by every scanner.

Model scans, PII scans, dependency audits and policy gates all report findings with
the same severity scale, so gates (``--fail-on``, ``policy:``) compare them uniformly
and the SARIF / JSON formatters in ``mlward.report`` serve every family.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that ``Severity.HIGH > Severity.LOW``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        """Parse a severity name case-insensitively; raise ``ValueError`` naming the choices."""
        if isinstance(value, Severity):
            return value
        try:
            return cls[value.strip().upper()]
        except KeyError:
            choices = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {value!r}; expected one of: {choices}") from None


@dataclass(frozen=True)
class Location:
    """Where a finding was seen."""

    path: str
    """The file on disk (as given by the user)."""
    member: str | None = None
    """Member inside an archive or container (``archive/data.pkl``), nested with ``!``."""
    offset: int | None = None
    """Byte offset inside the member (or the file when ``member`` is None)."""
    detail: str | None = None
    """Format-specific position: an opcode name, a column, a JSON path."""


@dataclass(frozen=True)
class Finding:
    """One problem found by a scanner."""

    rule_id: str
    """Stable identifier of the rule that fired (``MW-PICKLE-001``)."""
    severity: Severity
    """How bad it is."""
    message: str
    """One sentence a user can act on. Never contains secret values."""
    location: Location
    """Where it was seen."""
    properties: dict[str, Any] = field(default_factory=dict)
    """Extra structured facts (the global name, the entity type, ...)."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["severity"] = self.severity.name
        return data


def max_severity(findings: list[Finding]) -> Severity | None:
    """Return the highest severity among ``findings`` (None when there are none)."""
    return max((f.severity for f in findings), default=None)
