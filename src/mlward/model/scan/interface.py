"""Types of the model-file scanner family: verdicts, per-file reports, scan limits.

A format scanner (``Scanner``) receives an ``Artifact`` (a seekable byte source plus
where it came from) and a ``ScanContext`` that collects findings. Results are frozen
values: ``FileReport`` per file and ``ScanReport`` for a whole run.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from mlward.core.findings import Finding, Location, Severity, max_severity

if TYPE_CHECKING:
    from mlward.model.scan.allowlist import Allowlist


class Verdict(enum.StrEnum):
    """The outcome for one file."""

    SAFE = "SAFE"
    UNSAFE = "UNSAFE"
    ERROR = "ERROR"


# A file is UNSAFE as soon as one finding reaches this level: MEDIUM findings are
# unparseable or ambiguous inputs, and a file that cannot be parsed is unsafe (fail closed).
UNSAFE_AT = Severity.MEDIUM


@dataclass(frozen=True)
class ScanLimits:
    """Bounds that keep archive bombs and deep nesting from exhausting the scanner."""

    max_depth: int = 6
    """How many containers (zip in tar in 7z ...) may nest."""
    max_members: int = 200_000
    """Most members read from one archive."""
    max_expanded_bytes: int = 64 * 1024**3
    """Most decompressed bytes produced while scanning one top-level file."""
    max_ratio: float = 250.0
    """Highest compression ratio accepted for a compressed member larger than 1 MiB."""
    max_line: int = 1 << 20
    """Longest text operand (GLOBAL, INST, STRING lines) read from a pickle."""


@dataclass(frozen=True)
class FileReport:
    """What the scan of one file found."""

    path: str
    """The file as given (or found under a given directory)."""
    format: str
    """Format detected from the content (``pickle``, ``pytorch-zip``, ``unknown``...)."""
    verdict: Verdict
    """SAFE, UNSAFE or ERROR (the scan could not complete)."""
    findings: tuple[Finding, ...]
    """Everything found, in stream order."""
    bytes_scanned: int
    """Bytes actually read (payloads that were skipped by seeking are not counted)."""
    duration_s: float
    """Wall time spent on this file."""
    error: str | None = None
    """Why the scan could not complete (verdict ERROR), else None."""

    @property
    def max_severity(self) -> Severity | None:
        """Highest severity among the findings, None when there are none."""
        return max_severity(list(self.findings))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        sev = self.max_severity
        return {
            "path": self.path,
            "format": self.format,
            "verdict": self.verdict.value,
            "max_severity": sev.name if sev is not None else None,
            "bytes_scanned": self.bytes_scanned,
            "duration_s": round(self.duration_s, 6),
            "error": self.error,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class ScanReport:
    """The result of scanning one or more files."""

    files: tuple[FileReport, ...]
    """One report per scanned file, in the order the paths were given / found."""
    duration_s: float = 0.0
    """Wall time of the whole run."""

    @property
    def findings(self) -> list[Finding]:
        """All findings of all files."""
        return [f for r in self.files for f in r.findings]

    @property
    def max_severity(self) -> Severity | None:
        """Highest severity over all files."""
        return max_severity(self.findings)

    @property
    def verdict(self) -> Verdict:
        """ERROR if any file errored, else UNSAFE if any file is unsafe, else SAFE."""
        verdicts = {r.verdict for r in self.files}
        if Verdict.ERROR in verdicts:
            return Verdict.ERROR
        if Verdict.UNSAFE in verdicts:
            return Verdict.UNSAFE
        return Verdict.SAFE

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        sev = self.max_severity
        return {
            "verdict": self.verdict.value,
            "max_severity": sev.name if sev is not None else None,
            "duration_s": round(self.duration_s, 6),
            "files": [r.to_dict() for r in self.files],
        }


@dataclass
class ScanContext:
    """Mutable state of one top-level file scan, shared by nested format scanners."""

    path: str
    """The top-level file as given by the user."""
    allowlist: Allowlist
    """Globals that may be imported and called by pickles."""
    limits: ScanLimits = field(default_factory=ScanLimits)
    """Bomb and depth bounds."""
    findings: list[Finding] = field(default_factory=list)
    """Findings collected so far."""
    bytes_scanned: int = 0
    """Bytes read so far."""
    expanded_bytes: int = 0
    """Decompressed bytes produced so far (bomb accounting)."""
    formats: list[str] = field(default_factory=list)
    """Formats detected, outermost first."""

    def add(
        self,
        rule_id: str,
        severity: Severity,
        message: str,
        *,
        member: str | None,
        offset: int | None = None,
        detail: str | None = None,
        **properties: Any,
    ) -> None:
        """Record a finding at ``member``/``offset`` of the current file."""
        location = Location(path=self.path, member=member, offset=offset, detail=detail)
        self.findings.append(Finding(rule_id, severity, message, location, dict(properties)))


@dataclass(frozen=True)
class Artifact:
    """A byte source to scan: the whole file or one member of a container."""

    stream: BinaryIO
    """Seekable binary stream positioned anywhere; scanners seek to 0 first."""
    size: int
    """Length of the stream in bytes."""
    name: str
    """File name or member name (used for hints such as ``saved_model.pb``)."""
    member: str | None
    """Member path inside the top-level file, nested with ``!``; None for the file itself."""
    depth: int = 0
    """Container nesting depth."""


class Scanner(ABC):
    """One model-file format: recognises its content and reports what loading would do."""

    format_name: str = "unknown"

    @abstractmethod
    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        """Return True when ``head`` (the first bytes) and the artifact look like this format."""

    @abstractmethod
    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        """Scan ``artifact`` and add findings to ``ctx``; never raise on bad input."""
