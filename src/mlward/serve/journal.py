"""Durable, batched audit of predictions: a write-ahead journal drained into the audit chain.

A request's audit event is appended to this process's journal file and the request waits
until a writer thread has ``fdatasync``-ed it (group commit: every event that arrived while
the previous sync ran goes out in the next single write + sync), so an acknowledged
prediction is on disk before the client hears back. A flusher thread moves durable events
into the hash-chained audit log with ``AuditLog.append_many`` (one transaction per batch)
and writes a checkpoint line recording how far the chain has them.

On startup, journals left by a dead process (their ``flock`` is free) are replayed: events
after the last checkpoint are appended unless an event with the same ``event_id`` is
already in the chain, so replay is idempotent even after a crash between the chain commit
and the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mlward.audit.log import AuditLog, EventInput
from mlward.store.models import AuditAnchor, AuditEvent

log = logging.getLogger("mlward.serve.journal")
ROTATE_BYTES = 64 << 20
_PAGE = 5000


@dataclass(frozen=True)
class ReplayResult:
    """What recovery found in journals left by dead processes."""

    files: int
    """Journal files recovered."""
    replayed: int
    """Events appended to the chain."""
    already_present: int
    """Events found in the chain already (skipped)."""


_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()


def new_event_id() -> str:
    """A unique id: a random per-process prefix and a counter (no system call per id)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=str).encode() + b"\n"


def _event(entry: dict[str, Any]) -> EventInput:
    return EventInput(entry["a"], entry["x"], entry["g"], entry["o"], entry["d"])


def _chain_seq(audit: AuditLog) -> int:
    with audit.store.session() as session:
        anchor = session.get(AuditAnchor, 1)
        return anchor.seq if anchor else 0


def _event_ids_after(audit: AuditLog, seq: int, wanted: set[str]) -> set[str]:
    """The ``event_id``s among ``wanted`` present in chain events after ``seq``."""
    found: set[str] = set()
    last = seq
    with audit.store.session() as session:
        while True:
            rows = session.execute(
                select(AuditEvent.seq, AuditEvent.details)
                .where(AuditEvent.seq > last)
                .order_by(AuditEvent.seq)
                .limit(_PAGE)
            ).all()
            if not rows:
                return found
            for row_seq, details in rows:
                event_id = details.get("event_id") if isinstance(details, dict) else None
                if event_id in wanted:
                    found.add(event_id)
                last = row_seq


def _read_journal(path: Path) -> tuple[int, list[dict[str, Any]]]:
    """(chain seq known to hold every event up to the last checkpoint, events after it)."""
    base_seq = 0
    pending: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except ValueError:
                break  # a torn last line: never acknowledged, so never promised
            if "journal" in record:
                base_seq = int(record.get("seq", 0))
            elif "ckpt" in record:
                base_seq = int(record["seq"])
                pending = [e for e in pending if e["n"] > record["ckpt"]]
            else:
                pending.append(record)
    return base_seq, pending


def replay_orphans(directory: Path, audit: AuditLog) -> ReplayResult:
    """Append to the chain the events of journals whose writer process is gone."""
    files = replayed = present = 0
    for path in sorted(directory.glob("journal-*.log")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process owns it
            try:
                if os.fstat(fd).st_ino != os.stat(path).st_ino:
                    continue  # replaced; another process recovered it
            except FileNotFoundError:
                continue  # another process recovered and removed it
            base_seq, pending = _read_journal(path)
            if pending:
                ids = {e["d"]["event_id"] for e in pending}
                existing = _event_ids_after(audit, base_seq, ids)
                todo = [e for e in pending if e["d"]["event_id"] not in existing]
                for start in range(0, len(todo), _PAGE):
                    audit.append_many([_event(e) for e in todo[start : start + _PAGE]])
                replayed += len(todo)
                present += len(existing)
            path.unlink()
            files += 1
        finally:
            os.close(fd)
    return ReplayResult(files, replayed, present)


class AuditJournal:
    """This process's journal: durable group commit now, audit chain shortly after."""

    def __init__(self, directory: Path, audit: AuditLog, *, flush_interval: float = 0.1) -> None:
        self.directory = directory
        self.audit = audit
        self.flush_interval = flush_interval
        self._cond = threading.Condition()
        self._queue: list[
            tuple[dict[str, Any], asyncio.AbstractEventLoop | None, asyncio.Future[None] | None]
        ] = []
        self._durable: list[dict[str, Any]] = []
        self._durable_lock = threading.Lock()
        self._io = threading.Lock()
        self._n = 0
        self._stopping = False
        self._wake = threading.Event()
        self._fd = -1
        self._path: Path | None = None
        self._threads: list[threading.Thread] = []
        self.flushed = 0
        self.flush_errors = 0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> ReplayResult:
        """Recover orphaned journals, open a fresh one and start the threads."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        result = replay_orphans(self.directory, self.audit)
        self._open_file()
        for target, name in ((self._write_loop, "journal-writer"), (self._flush_loop, "journal-flusher")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return result

    def _open_file(self) -> None:
        path = self.directory / f"journal-{os.getpid()}-{uuid.uuid4().hex[:12]}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, _line({"journal": path.name, "pid": os.getpid(), "seq": _chain_seq(self.audit)}))
        os.fsync(fd)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's directory entry must survive a crash too
        finally:
            os.close(dir_fd)
        self._fd, self._path, self._n = fd, path, 0

    def close(self) -> None:
        """Write and sync what is queued, drain everything into the chain, remove the journal."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        drained = self._flush_once()
        if self._fd >= 0:
            with self._io:
                if drained and self._path is not None:
                    self._path.unlink(missing_ok=True)
                os.close(self._fd)
                self._fd = -1

    # -- producers -----------------------------------------------------------------------
    def _entry(self, event: EventInput) -> dict[str, Any]:
        details = dict(event.details)
        if "event_id" not in details:
            details["event_id"] = new_event_id()
        return {
            "t": time.time(),
            "a": event.actor,
            "x": event.action,
            "g": event.target,
            "o": event.outcome,
            "d": details,
        }

    async def record(self, event: EventInput) -> None:
        """Journal ``event`` and return once it is on disk."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            self._queue.append((self._entry(event), loop, future))
            self._cond.notify()
        await future

    def record_nowait(self, event: EventInput) -> None:
        """Journal ``event`` without waiting for the sync (denials, alerts)."""
        with self._cond:
            self._queue.append((self._entry(event), None, None))
            self._cond.notify()

    @property
    def pending(self) -> int:
        """Events journaled but not yet in the audit chain."""
        return len(self._durable) + len(self._queue)

    # -- writer --------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                batch, self._queue = self._queue, []
                if not batch and self._stopping:
                    return
            self._write(batch)

    def _write(self, batch: list[tuple[dict[str, Any], Any, Any]]) -> None:
        error: BaseException | None = None
        with self._io:
            chunks = []
            for entry, _, _ in batch:
                self._n += 1
                entry["n"] = self._n
                chunks.append(_line(entry))
            try:
                os.write(self._fd, b"".join(chunks))
                os.fdatasync(self._fd)
            except OSError as exc:  # the disk failed: nobody may be told "ok"
                error = exc
                log.error("audit journal write failed: %s", exc)
            else:
                with self._durable_lock:
                    self._durable.extend(entry for entry, _, _ in batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, loop, future in batch:
            if loop is not None:
                by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed (shutdown)
                loop.call_soon_threadsafe(_settle, futures, error)

    # -- flusher -------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self._stopping:
            if self._wake.wait(self.flush_interval):
                return  # closing: close() drains what is left
            self._flush_once()
            if self._path is not None and self._fd >= 0 and os.fstat(self._fd).st_size > ROTATE_BYTES:
                self._rotate()

    def _flush_once(self) -> bool:
        """Move durable events into the chain; True when nothing is left behind."""
        with self._durable_lock:
            batch, self._durable = self._durable, []
        if not batch:
            return True
        try:
            records = []
            for start in range(0, len(batch), _PAGE):
                records += self.audit.append_many([_event(e) for e in batch[start : start + _PAGE]])
        except Exception as exc:  # the database is down or locked: keep them, retry later
            self.flush_errors += 1
            log.warning("audit chain unavailable, %d events stay journaled: %s", len(batch), exc)
            with self._durable_lock:
                self._durable[:0] = batch
            return False
        self.flushed += len(batch)
        self._checkpoint(batch[-1]["n"], records[-1].seq)
        return True

    def _checkpoint(self, n: int, seq: int) -> None:
        # Not synced on purpose: a lost checkpoint only makes a replay check more events.
        with self._io:
            if self._fd >= 0:
                os.write(self._fd, _line({"ckpt": n, "seq": seq}))

    def _rotate(self) -> None:
        with self._io:
            with self._durable_lock:
                leftover, self._durable = self._durable, []
            if leftover:
                try:
                    records = self.audit.append_many([_event(e) for e in leftover])
                except Exception as exc:  # rotate later; the events stay journaled
                    log.warning("audit chain unavailable, journal rotation postponed: %s", exc)
                    with self._durable_lock:
                        self._durable[:0] = leftover
                    return
                self.flushed += len(leftover)
                os.write(self._fd, _line({"ckpt": leftover[-1]["n"], "seq": records[-1].seq}))
            old_fd, old_path = self._fd, self._path
            self._open_file()
            os.close(old_fd)
            if old_path is not None:
                old_path.unlink(missing_ok=True)


def _settle(futures: Iterable[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(OSError("the audit journal could not be written"))
