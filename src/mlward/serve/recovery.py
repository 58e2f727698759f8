"""The audit journal's file format, reading it back, and recovery after a crash.

A journal is a JSON-lines file: a header (``{"journal": name, "seq": chain seq at
creation}``), entries (``{"n": k, "t": time, "a": actor, "x": action, "g": target, "o":
outcome, "d": details}``, ``details.event_id`` unique) and checkpoints (``{"ckpt": k,
"seq": s}``: every entry up to ``k`` is in the chain, whose head was then at ``s``).

Journals left behind by a dead process are replayed: entries after the last checkpoint
are appended unless an event with the same ``event_id`` already follows the checkpoint in
the chain, so replay is idempotent even after a crash between a chain commit and its
checkpoint. A journal is skipped while its writer holds its ``flock`` or while a shipper
holds its ``.ship`` lock (that shipper finishes it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mlward.audit.log import AuditLog, EventInput
from mlward.core.fastjson import dumps, loads
from mlward.store.models import AuditAnchor, AuditEvent

PAGE = 5000


@dataclass(frozen=True)
class ReplayResult:
    """What recovery found in journals left by dead processes."""

    files: int
    """Journal files recovered."""
    replayed: int
    """Events appended to the chain."""
    already_present: int
    """Events found in the chain already (skipped)."""


def encode(record: dict[str, Any]) -> bytes:
    """One journal line."""
    return dumps(record) + b"\n"


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
    """Reads a journal incrementally; only complete lines count (the last may be torn)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.base_seq = 0
        """Chain seq holding every entry up to the last checkpoint read."""
        self.checkpoint = 0
        """Number of the last checkpointed entry."""

    def read(self) -> list[dict[str, Any]]:
        """Entries written since the last call (checkpoints and the header are consumed)."""
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        entries = []
        for raw in data[:end].splitlines():
            try:
                record = loads(raw)
            except ValueError:
                continue  # a line cut by a crash mid-write: never acknowledged, never promised
            if "journal" in record:
                self.base_seq = int(record.get("seq", 0))
            elif "ckpt" in record:
                self.base_seq, self.checkpoint = int(record["seq"]), int(record["ckpt"])
                entries = [e for e in entries if e["n"] > self.checkpoint]
            elif record.get("n", 0) > self.checkpoint:
                entries.append(record)
        self.offset += end
        return entries


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
    files = replayed = present = 0
    for path in sorted(directory.glob("journal-*.log")):
        with try_lock(ship_lock(path)) as shipping, try_lock(path, create=False) as writing:
            if shipping is None or writing is None:
                continue  # a live writer or shipper owns it
            try:
                if os.fstat(writing).st_ino != os.stat(path).st_ino:
                    continue  # replaced meanwhile
            except FileNotFoundError:
                continue  # recovered and removed by another process meanwhile
            reader = JournalReader(path)
            entries = reader.read()
            todo = unchained(audit, reader, entries)
            for start in range(0, len(todo), PAGE):
                audit.append_many([to_event(e) for e in todo[start : start + PAGE]])
            replayed += len(todo)
            present += len(entries) - len(todo)
            path.unlink()
            ship_lock(path).unlink(missing_ok=True)
            files += 1
    return ReplayResult(files, replayed, present)
