"""Moving journaled audit events into the hash-chained audit log.

``ChainShipper.ship`` appends a batch with ``AuditLog.append_many`` (one transaction) and
records a checkpoint. It runs either in a thread of the serving process, or, by default
for ``mlward serve``, in a separate process started per journal
(``python -m mlward.serve.shipper_process WORKSPACE JOURNAL INTERVAL``, see there): the chain append is
CPU-heavy Python, and in its own process it never holds the serving process's GIL, so it
costs request latency nothing and runs on another core.

The shipper process tails the journal (complete, authentic lines only: see
``JournalReader``; what it refuses is reported in the chain as an alert), holds the journal's
``.ship`` lock so recovery leaves the file to it, and stops when its standard input
closes: when the server closes the journal, or when the server process dies. It then
drains what is left; if the writer is gone (its ``flock`` is free) it removes the
finished journal itself, so a crashed server's events reach the chain without waiting
for a restart.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlward.audit.log import AuditLog
from mlward.audit.recovery import (
    PAGE,
    JournalReader,
    journal_seal,
    report_refusals,
    ship_lock,
    to_event,
    try_lock,
    unchained,
)

log = logging.getLogger("mlward.audit.shipper")


class ChainShipper:
    """Appends journal entries to the audit chain, then checkpoints them."""

    def __init__(self, audit: AuditLog, checkpoint: Callable[[int, int], None]) -> None:
        self.audit = audit
        self._checkpoint = checkpoint
        self.shipped = 0
        self.failures = 0

    def ship(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chain ``entries`` (in journal order); returns those not chained (database refused)."""
        for start in range(0, len(entries), PAGE):
            page = entries[start : start + PAGE]
            try:
                records = self.audit.append_many([to_event(e) for e in page])
            except Exception as exc:  # the database is down or locked: the rest stays journaled
                self.failures += 1
                left = len(entries) - start
                log.warning("audit chain unavailable, %d events stay journaled: %s", left, exc)
                return entries[start:]
            self._checkpoint(page[-1]["n"], records[-1].seq)
            self.shipped += len(page)
        return []


def _appender(reader: JournalReader) -> Callable[[int, int], None]:
    fd = os.open(reader.path, os.O_WRONLY | os.O_APPEND)

    def checkpoint(n: int, seq: int) -> None:
        # One append of one line: atomic against the writer's appends. Not synced on
        # purpose: a lost checkpoint only makes a recovery check more events.
        os.write(fd, reader.seal.seal({"ckpt": n, "seq": seq, "w": reader.writer}))
        sys.stdout.write(f"{n}\n")
        sys.stdout.flush()

    return checkpoint


def ship_journal(audit: AuditLog, journal: Path, interval: float, stop: threading.Event) -> bool:
    """Tail ``journal`` into the chain until ``stop``; then drain it. True when fully chained."""
    with try_lock(ship_lock(journal)) as held:
        if held is None:
            log.warning("another shipper holds %s", journal.name)
            return False
        reader = JournalReader(journal, journal_seal(audit))
        shipper = ChainShipper(audit, _appender(reader))
        # Entries after the last checkpoint may have been chained just before a crash.
        pending = unchained(audit, reader, reader.read())
        report_refusals(audit, reader)
        while True:
            stopping = stop.wait(interval)
            pending = shipper.ship(pending + reader.read())
            report_refusals(audit, reader)
            if stopping:
                break
        done = not shipper.ship(pending + reader.read())
        with try_lock(journal, create=False) as writer_gone:
            if writer_gone is not None:
                reader.finish()  # nobody appends any more: a torn tail and gaps are final
            report_refusals(audit, reader)
            if done and writer_gone is not None:
                journal.unlink(missing_ok=True)  # the writer died: finish its cleanup too
                ship_lock(journal).unlink(missing_ok=True)
        return done
