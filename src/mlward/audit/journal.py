"""Durable, batched audit of predictions: a write-ahead journal drained into the audit chain.

A request's audit event is appended to this process's journal before the client hears
back. How durable the append is before the answer goes out is ``durability``:

* ``process`` (the default of ``mlward serve``): the request writes its event to the
  journal file itself (one ``write`` into the kernel's page cache, microseconds), so it
  survives any crash of the server, ``kill -9`` included; a background thread
  ``fdatasync``-s the file every ``sync_interval`` (50 ms), which bounds what a power loss
  or kernel crash can take (the same trade as auditd's default ``incremental_async``).
* ``disk``: the request waits until a writer thread has ``fdatasync``-ed its event (group
  commit: every event that arrived while the previous sync ran goes out in the next single
  write + sync), so an acknowledged prediction is on the disk itself.

A shipper then moves the events into the
hash-chained audit log (``mlward.audit.shipper``): a thread of this process
(``shipper="thread"``) or a separate process per journal (``shipper="process"``, the
default of ``mlward serve``, so the chain append never holds this process's GIL).

At start, journals left by dead processes are replayed (``mlward.audit.recovery``); a
clean stop drains the journal into the chain and removes it. Past ``ROTATE_BYTES`` the
journal is closed (its shipper finishes it) and a new one begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from mlward.audit.log import AuditLog, EventInput
from mlward.audit.recovery import ReplayResult, chain_seq, journal_seal, replay_orphans
from mlward.audit.shipper import ChainShipper

log = logging.getLogger("mlward.audit.journal")
ROTATE_BYTES = 64 << 20
SYNC_INTERVAL = 0.05
Durability = Literal["process", "disk"]
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()
Waiter = tuple[dict[str, Any], asyncio.AbstractEventLoop | None, asyncio.Future[None] | None]


def new_event_id() -> str:
    """A unique id: a random per-process prefix and a counter (no system call per id)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


class AuditJournal:
    """This process's journal: durable group commit now, audit chain shortly after."""

    def __init__(
        self,
        directory: Path,
        audit: AuditLog,
        *,
        flush_interval: float = 0.25,
        shipper: Literal["thread", "process"] = "thread",
        workspace_root: Path | None = None,
        shipper_module: str = "",
        durability: Durability = "process",
        sync_interval: float = SYNC_INTERVAL,
    ) -> None:
        if shipper == "process" and (workspace_root is None or not shipper_module):
            # The process opens the workspace itself: its entry point (``shipper_module``,
            # run with ``python -m``) belongs to the door that composes it, not to audit/.
            raise ValueError("a shipper process needs the workspace root and its entry module")
        self.directory = directory
        self.audit = audit
        self.flush_interval = flush_interval
        self.mode = shipper
        self.durability = durability
        self.sync_interval = sync_interval
        self._synced = 0
        self._root = workspace_root
        self._shipper_module = shipper_module
        self._cond = threading.Condition()
        self._queue: list[Waiter] = []
        self._durable: list[dict[str, Any]] = []
        self._durable_lock = threading.Lock()
        self._io = threading.RLock()  # re-entered by checkpoints written while rotating
        self._stopping = False
        self._wake = threading.Event()
        self._fd = -1
        self._path: Path | None = None
        self._n = 0
        self._size = 0
        self._acked = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._retired: list[subprocess.Popen[bytes]] = []
        self._threads: list[threading.Thread] = []
        self._shipper = ChainShipper(audit, self._checkpoint)
        self._seal = journal_seal(audit)
        self._writer = ""

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> ReplayResult:
        """Recover orphaned journals, open a fresh one and start the threads (and shipper)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        result = replay_orphans(self.directory, self.audit)
        self._open_segment()
        if self.durability == "process":
            self._thread(self._background_loop, "journal-sync")
        else:
            self._thread(self._write_loop, "journal-writer")
            if self.mode == "thread":
                self._thread(self._flush_loop, "journal-flusher")
        return result

    def _thread(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _open_segment(self) -> None:
        path = self.directory / f"journal-{os.getpid()}-{os.urandom(6).hex()}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        writer = os.urandom(8).hex()
        header = self._seal.seal(
            {"journal": path.name, "w": writer, "pid": os.getpid(), "seq": chain_seq(self.audit)}
        )
        os.write(fd, header)
        os.fsync(fd)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's directory entry must survive a crash too
        finally:
            os.close(dir_fd)
        self._fd, self._path, self._n, self._size, self._acked = fd, path, 0, len(header), 0
        self._writer = writer
        self._synced = self._size
        if self.mode == "process":
            self._spawn_shipper(path)

    def _spawn_shipper(self, path: Path) -> None:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                self._shipper_module,
                str(self._root),
                str(path),
                str(self.flush_interval),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._process = process

        def progress() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if process is self._process:
                    self._acked = int(line)

        self._thread(progress, "journal-progress")

    def close(self) -> None:
        """Write and sync what is queued, drain everything into the chain, remove the journal."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._wake.set()
        for thread in self._threads:
            if thread.name != "journal-progress":
                thread.join(timeout=30)
        drained = self._finish_shipper(self._process) if self.mode == "process" else self._flush_once()
        for process in self._retired:
            self._finish_shipper(process)
        if self._fd >= 0:
            with self._io:
                if drained and self._path is not None:
                    self._path.unlink(missing_ok=True)
                os.close(self._fd)
                self._fd = -1

    @staticmethod
    def _finish_shipper(process: subprocess.Popen[bytes] | None) -> bool:
        if process is None:
            return False
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # EOF: drain and exit
        try:
            return process.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            process.kill()
            return False

    # -- producers -----------------------------------------------------------------------
    def _entry(self, event: EventInput) -> dict[str, Any]:
        details = dict(event.details)
        if "event_id" not in details:
            details["event_id"] = new_event_id()
        return {"t": time.time(), "a": event.actor, "x": event.action, "g": event.target,
                "o": event.outcome, "d": details}  # fmt: skip

    async def record(self, event: EventInput) -> None:
        """Journal ``event`` and return once it is durable (see the module's docstring)."""
        if self.durability == "process":
            if not self._append_now(event):  # the disk failed: nobody may be told "ok"
                raise OSError("the audit journal could not be written")
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            self._queue.append((self._entry(event), loop, future))
            self._cond.notify()
        await future

    def record_nowait(self, event: EventInput) -> None:
        """Journal ``event`` without waiting for the sync (denials, alerts)."""
        if self.durability == "process":
            self._append_now(event)
            return
        with self._cond:
            self._queue.append((self._entry(event), None, None))
            self._cond.notify()

    def _append_now(self, event: EventInput) -> bool:
        """Write ``event`` from the calling thread (``process`` durability); False if it failed."""
        try:
            self._append([self._entry(event)])
        except OSError as exc:
            log.error("audit journal write failed: %s", exc)
            return False
        return True

    @property
    def pending(self) -> int:
        """Events journaled but not yet in the audit chain."""
        if self.mode == "process":
            return self._n - self._acked + len(self._queue)
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
            if self.mode == "process" and self._size > ROTATE_BYTES:
                self._rotate()

    def _append(self, entries: list[dict[str, Any]], *, sync: bool = False) -> None:
        """Number, seal and write ``entries`` in one ``write`` (then ``fdatasync`` when ``sync``)."""
        with self._io:
            if self._fd < 0:
                raise OSError("the audit journal is closed")
            chunks = []
            seal, writer = self._seal.seal, self._writer
            for entry in entries:
                self._n += 1
                entry["w"], entry["n"] = writer, self._n
                chunks.append(seal(entry))
            data = b"".join(chunks)
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write to the audit journal ({written} of {len(data)} bytes)")
            self._size += len(data)
            if sync:
                os.fdatasync(self._fd)
                self._synced = self._size
            if self.mode == "thread":
                with self._durable_lock:
                    self._durable.extend(entries)

    def _write(self, batch: list[Waiter]) -> None:
        error: BaseException | None = None
        try:
            self._append([entry for entry, _, _ in batch], sync=True)
        except OSError as exc:  # the disk failed: nobody may be told "ok"
            error = exc
            log.error("audit journal write failed: %s", exc)
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, loop, future in batch:
            if loop is not None and future is not None:
                by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed (shutdown)
                loop.call_soon_threadsafe(_settle, futures, error)

    def _rotate(self) -> None:
        with self._io:
            if self.mode == "thread":
                with self._durable_lock:
                    leftover, self._durable = self._durable, []
                remaining = self._shipper.ship(leftover)
                if remaining:  # rotate later; the events stay journaled
                    with self._durable_lock:
                        self._durable[:0] = remaining
                    return
            old_fd, old_path, old_process = self._fd, self._path, self._process
            if self.durability == "process":
                with contextlib.suppress(OSError):
                    os.fdatasync(old_fd)  # what the last sync interval wrote
            self._open_segment()
            if old_process is not None and old_process.stdin is not None:
                old_process.stdin.close()  # it finishes the old segment and removes it
                self._retired.append(old_process)
            os.close(old_fd)
            if self.mode == "thread" and old_path is not None:
                old_path.unlink(missing_ok=True)

    # -- process durability: periodic sync ------------------------------------------------
    def _background_loop(self) -> None:
        # The one thread that syncs, ships (thread shipper), rotates and closes segments,
        # so none of these races another; requests only ever append.
        next_flush = time.monotonic() + self.flush_interval
        while not self._wake.wait(self.sync_interval):
            self._sync()
            if self.mode == "thread" and time.monotonic() >= next_flush:
                self._flush_once()
                next_flush = time.monotonic() + self.flush_interval
            if self._size > ROTATE_BYTES:
                self._rotate()
        self._sync()

    def _sync(self) -> None:
        size = self._size
        if size == self._synced or self._fd < 0:
            return
        try:
            os.fdatasync(self._fd)  # without the lock: appends go on while the disk syncs
        except OSError as exc:
            log.error("audit journal sync failed: %s", exc)
        else:
            self._synced = size

    # -- thread shipper ------------------------------------------------------------------
    def _flush_loop(self) -> None:
        # Rotation happens here, in the thread that ships, so checkpoints stay in order.
        while not self._wake.wait(self.flush_interval):
            self._flush_once()
            if self._size > ROTATE_BYTES:
                self._rotate()

    def _flush_once(self) -> bool:
        """Move durable events into the chain; True when nothing is left behind."""
        with self._durable_lock:
            batch, self._durable = self._durable, []
        remaining = self._shipper.ship(batch)
        if remaining:
            with self._durable_lock:
                self._durable[:0] = remaining
        return not remaining

    def _checkpoint(self, n: int, seq: int) -> None:
        # Not synced on purpose: a lost checkpoint only makes a replay check more events.
        with self._io:
            if self._fd >= 0:
                os.write(self._fd, self._seal.seal({"ckpt": n, "seq": seq, "w": self._writer}))

    @property
    def flushed(self) -> int:
        """Events this process's thread shipper has chained."""
        return self._shipper.shipped


def _settle(futures: Iterable[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(OSError("the audit journal could not be written"))
