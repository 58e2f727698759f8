"""The audit journal's file format, reading it back, and recovery after a crash.

A journal is a JSON-lines file: a header (``{"journal": name, "w": writer id, "seq": chain
seq at creation}``), entries (``{"w": writer id, "n": k, "t": time, "a": actor, "x":
action, "g": target, "o": outcome, "d": details}``, ``n`` counting from 1,
``details.event_id`` unique) and checkpoints (``{"ckpt": k, "seq": s, "w": writer id}``:
every entry up to ``k`` is in the chain, whose head was then at ``s``). Every line ends
with its MAC (``mlward.audit.journal_seal``); what does not verify is refused, never
shipped, and reported in the chain as one ``audit.journal.refused`` alert per read.

Journals left behind by a dead process are replayed: entries after the last checkpoint
are appended unless an event with the same ``event_id`` already follows the checkpoint in
the chain, so replay is idempotent even after a crash between a chain commit and its
checkpoint. A journal is skipped while its writer holds its ``flock`` or while a shipper
holds its ``.ship`` lock (that shipper finishes it).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mlward.audit.journal_seal import JOURNAL_KEY_PURPOSE, LineSeal
from mlward.audit.log import JOURNAL_REFUSED, AuditLog, EventInput
from mlward.store.models import AuditAnchor, AuditEvent

log = logging.getLogger("mlward.audit.recovery")
PAGE = 5000
JOURNAL_ACTOR = "mlward:audit-journal"
MAX_LINES_REPORTED = 20
MAX_MISSING_TRACKED = 100_000


@dataclass(frozen=True)
class ReplayResult:
    """What recovery found in journals left by dead processes."""

    files: int
    """Journal files recovered."""
    replayed: int
    """Events appended to the chain."""
    already_present: int
    """Events found in the chain already (skipped)."""
    refused: int = 0
    """Journal lines refused (forged, garbled, replayed, ...; see ``JournalReader``)."""


def to_event(entry: dict[str, Any]) -> EventInput:
    """The audit event of a journal entry."""
    return EventInput(entry["a"], entry["x"], entry["g"], entry["o"], entry["d"])


def chain_seq(audit: AuditLog) -> int:
    """Sequence number of the chain's newest event (0 when empty)."""
    with audit.store.session() as session:
        anchor = session.get(AuditAnchor, 1)
        return anchor.seq if anchor else 0


def chained_ids_after(audit: AuditLog, seq: int, wanted: set[str]) -> set[str]:
    """The ``event_id``s among ``wanted`` present in chain events after ``seq``."""
    found: set[str] = set()
    last = seq
    with audit.store.session() as session:
        while True:
            rows = session.execute(
                select(AuditEvent.seq, AuditEvent.details)
                .where(AuditEvent.seq > last)
                .order_by(AuditEvent.seq)
                .limit(PAGE)
            ).all()
            if not rows:
                return found
            for row_seq, details in rows:
                event_id = details.get("event_id") if isinstance(details, dict) else None
                if event_id in wanted:
                    found.add(event_id)
                last = row_seq


class JournalReader:
    """Reads a journal incrementally, refusing every line that is not authentic and in place.

    Only complete lines count while the writer may still append; ``finish`` then counts a
    torn last line. A line is refused (never returned, counted in ``refusals`` by reason)
    when it is ``garbled`` (not JSON), ``forged`` (no valid MAC), ``replayed`` (an entry
    number seen before, a second header, or a line of another journal), ``reordered`` (an
    entry that comes after a later one), ``missing`` (entry numbers skipped, counted at
    ``finish``) or ``truncated`` (a torn last line, counted at ``finish``).
    """

    def __init__(self, path: Path, seal: LineSeal) -> None:
        self.path = path
        self.seal = seal
        self.offset = 0
        self.base_seq = 0
        """Chain seq holding every entry up to the last checkpoint read."""
        self.checkpoint = 0
        """Number of the last checkpointed entry."""
        self.writer: str | None = None
        """The journal's writer id, from its header."""
        self.refusals: Counter[str] = Counter()
        """Refused lines by reason, not yet reported (see ``take_refusals``)."""
        self.refused_lines: list[int] = []
        """Line numbers (from 1) of the refused lines not yet reported (the first few)."""
        self._line = 0
        self._last = 0
        self._missing: set[int] = set()
        self._missing_overflow = 0

    def _refuse(self, reason: str, count: int = 1) -> None:
        self.refusals[reason] += count
        if len(self.refused_lines) < MAX_LINES_REPORTED:
            self.refused_lines.append(self._line)

    def read(self) -> list[dict[str, Any]]:
        """Authentic entries written since the last call (checkpoints and the header are consumed)."""
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        entries: list[dict[str, Any]] = []
        for raw in data[:end].split(b"\n")[:-1]:
            self._line += 1
            record = self.seal.open(raw)
            if isinstance(record, str):
                self._refuse(record)
            elif "journal" in record:
                self._header(record)
            elif self.writer is None or record.get("w") != self.writer:
                self._refuse("replayed")  # a line of another journal
            elif "ckpt" in record:
                if (
                    _is_int(record["ckpt"])
                    and _is_int(record.get("seq"))
                    and record["ckpt"] >= self.checkpoint
                ):
                    self.base_seq, self.checkpoint = record["seq"], record["ckpt"]
                    entries = [e for e in entries if e["n"] > self.checkpoint]
            elif self._in_sequence(record.get("n")) and record["n"] > self.checkpoint:
                entries.append(record)
        self.offset += end
        return entries

    def _header(self, record: dict[str, Any]) -> None:
        if self._line != 1 or record.get("journal") != self.path.name or not isinstance(record.get("w"), str):
            self._refuse("replayed")  # a second header, or the header of another file
            return
        self.writer = record["w"]
        self.base_seq = int(record.get("seq", 0))

    def _in_sequence(self, n: Any) -> bool:
        if not _is_int(n) or n < 1:
            self._refuse("garbled")
            return False
        if n <= self._last:
            if n in self._missing:
                self._missing.discard(n)
                self._refuse("reordered")
            else:
                self._refuse("replayed")
            return False
        if n > self._last + 1:
            skipped = range(self._last + 1, n)
            if len(self._missing) + len(skipped) <= MAX_MISSING_TRACKED:
                self._missing.update(skipped)
            else:
                self._missing_overflow += len(skipped)
        self._last = n
        return True

    def finish(self) -> None:
        """The writer is gone: count a torn last line and entry numbers never seen."""
        size = self.path.stat().st_size if self.path.exists() else self.offset
        if size > self.offset:
            self._line += 1
            self._refuse("truncated")
            self.offset = size
        missing = len(self._missing) + self._missing_overflow
        if missing:
            self.refusals["missing"] += missing
            self._missing.clear()
            self._missing_overflow = 0

    def take_refusals(self) -> tuple[dict[str, int], list[int]]:
        """Refusals by reason and their line numbers since the last call (then forgets them)."""
        reasons, lines = dict(self.refusals), self.refused_lines
        self.refusals, self.refused_lines = Counter(), []
        return reasons, lines


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def report_refusals(audit: AuditLog, reader: JournalReader) -> int:
    """Raise one ``audit.journal.refused`` alert in the chain for what ``reader`` refused; the count.

    The alert names reasons, counts and line numbers, never a line's content: a forged or
    garbled line may hold a request's inputs, or whatever its author wants to plant.
    """
    reasons, lines = reader.take_refusals()
    total = sum(reasons.values())
    if total:
        log.warning("refused %d line(s) of audit journal %s: %s", total, reader.path.name, reasons)
        details = {"journal": reader.path.name, "refused": total, "reasons": reasons, "lines": lines}
        try:
            audit.append(JOURNAL_ACTOR, JOURNAL_REFUSED, reader.path.name, "alert", details)
        except Exception as exc:  # the database is down: report with the next read
            log.warning("audit chain unavailable, the refusal alert waits: %s", exc)
            reader.refusals.update(reasons)
            reader.refused_lines[:0] = lines
    return total


def journal_seal(audit: AuditLog) -> LineSeal:
    """The seal of this workspace's journal lines."""
    return LineSeal(audit.derive_key(JOURNAL_KEY_PURPOSE))


def unchained(audit: AuditLog, reader: JournalReader, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` minus those already in the chain after the reader's checkpoint."""
    if not entries:
        return entries
    present = chained_ids_after(audit, reader.base_seq, {e["d"]["event_id"] for e in entries})
    return [e for e in entries if e["d"]["event_id"] not in present]


def ship_lock(journal: Path) -> Path:
    """The lock a shipper holds while it moves a journal into the chain."""
    return journal.with_name(journal.name + ".ship")


@contextlib.contextmanager
def try_lock(path: Path, *, create: bool = True) -> Iterator[int | None]:
    """An exclusive ``flock`` on ``path`` if free (yields its fd), else yields None."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)


def replay_orphans(directory: Path, audit: AuditLog) -> ReplayResult:
    """Append to the chain the events of journals whose writer and shipper are gone."""
    files = replayed = present = refused = 0
    seal = journal_seal(audit)
    for path in sorted(directory.glob("journal-*.log")):
        with try_lock(ship_lock(path)) as shipping, try_lock(path, create=False) as writing:
            if shipping is None or writing is None:
                continue  # a live writer or shipper owns it
            try:
                if os.fstat(writing).st_ino != os.stat(path).st_ino:
                    continue  # replaced meanwhile
            except FileNotFoundError:
                continue  # recovered and removed by another process meanwhile
            reader = JournalReader(path, seal)
            entries = reader.read()
            reader.finish()
            refused += report_refusals(audit, reader)
            todo = unchained(audit, reader, entries)
            for start in range(0, len(todo), PAGE):
                audit.append_many([to_event(e) for e in todo[start : start + PAGE]])
            replayed += len(todo)
            present += len(entries) - len(todo)
            path.unlink()
            ship_lock(path).unlink(missing_ok=True)
            files += 1
    return ReplayResult(files, replayed, present, refused)
