"""Append-only, hash-chained audit log in the metadata store.

Each event stores ``prev_hash`` and ``hash = sha256(canonical event)``, so editing,
deleting or reordering events breaks the chain. Every hash is also sealed with an
HMAC under a key derived from the workspace data key: someone who can write to the
database but lacks the key cannot recompute a consistent chain after an edit. A sealed
anchor records the chain head, so deleting the newest events is detected too.

The head is also kept, sealed, in a file beside the database (``.mlward/audit.anchor``,
see ``AnchorFile``), written after every append batch. Someone who deletes or replaces
the database, or deletes the newest events and puts back an older, validly sealed
anchor row, leaves the file ahead of the database: ``verify`` reports it, and the
workspace refuses to open such a database at all.

Appends serialize across processes (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
transaction-scoped advisory lock) so concurrent writers never fork the chain.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from mlward.audit.anchor import AnchorFile, FileAnchor
from mlward.core import fastjson
from mlward.core.errors import IntegrityError, StoreError
from mlward.store.metadata import MetadataStore
from mlward.store.models import AuditAnchor, AuditEvent

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x6D6C7762
_SECRET_KEY_RE = re.compile(r"(pass(word)?|secret|token|api[_-]?key|private|credential)", re.I)
REDACTED = "[redacted]"
JOURNAL_REFUSED = "audit.journal.refused"
"""The alert a journal shipper raises for lines it refused (forged, garbled, replayed, ...)."""


@dataclass(frozen=True)
class AuditRecord:
    """One audit event as stored."""

    seq: int
    """Position in the chain, from 1."""
    time: str
    """ISO 8601 UTC time."""
    actor: str
    """Who acted (user, token id, service)."""
    action: str
    """What was done (``model.register``, ``serve.predict``, ``auth.denied``)."""
    target: str
    """What it was done to."""
    outcome: str
    """``ok``, ``denied``, ``failed``, ``alert``."""
    details: dict[str, Any]
    """Structured facts (never secrets)."""
    prev_hash: str
    """Hash of the previous event (zeros for the first)."""
    hash: str
    """Hash of this event."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class EventInput:
    """An event to append."""

    actor: str
    action: str
    target: str
    outcome: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainVerification:
    """Result of ``AuditLog.verify``."""

    ok: bool
    """True when every event and the anchor verify."""
    events: int
    """Number of events checked."""
    first_bad_seq: int | None = None
    """Sequence number of the first event that does not verify."""
    reason: str = ""
    """What is wrong, in words."""


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return _SECRET_KEY_RE.search(key) is not None


def scrub(details: dict[str, Any]) -> dict[str, Any]:
    """Replace values under secret-looking keys so secrets never reach the log."""
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if _secret_key(str(key)):
            clean[key] = REDACTED
        elif isinstance(value, dict):
            clean[key] = scrub(value)
        else:
            clean[key] = value
    return clean


def event_hash(
    seq: int,
    time: str,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON of an event's fields."""
    canonical = json.dumps(
        [seq, time, actor, action, target, outcome, details, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def chain_head(store: MetadataStore) -> int:
    """Sequence number the database's anchor row records (0 for an empty chain)."""
    with store.session() as session:
        anchor = session.get(AuditAnchor, 1)
        return anchor.seq if anchor else 0


class AuditLog:
    """The audit trail of one workspace."""

    def __init__(self, store: MetadataStore, seal_key: bytes, *, anchor_path: Path | None = None) -> None:
        self.store = store
        self._seal_key = seal_key
        self.anchor_file = AnchorFile(anchor_path, self._seal) if anchor_path else None

    def _seal(self, digest: str) -> str:
        return hmac.new(self._seal_key, digest.encode(), hashlib.sha256).hexdigest()

    def derive_key(self, purpose: str) -> bytes:
        """A subkey of the seal key for one companion of the log (HKDF-SHA256, ``purpose`` as info).

        The serve journal authenticates its lines with one: whoever may feed the chain holds it.
        """
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._seal_key
        )

    def journal_refusals(self, since: str | None = None) -> list[AuditRecord]:
        """The ``audit.journal.refused`` alerts (journal lines never shipped), oldest first."""
        return self.query(action=JOURNAL_REFUSED, since=since)

    def append(
        self,
        actor: str,
        action: str,
        target: str,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """Append one event and return it."""
        return self.append_many([EventInput(actor, action, target, outcome, details or {})])[0]

    def append_many(self, events: Sequence[EventInput]) -> list[AuditRecord]:
        """Append events atomically in one transaction (all or none).

        Inside ``store.unit_of_work()`` the events commit (or roll back) with the unit.
        """
        if not events:
            return []
        with self.store.session() as session:
            if self.store.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
            anchor = session.get(AuditAnchor, 1)
            seq, prev = (anchor.seq, anchor.hash) if anchor else (0, GENESIS)
            records = []
            rows = []
            for item in events:
                seq += 1
                now = datetime.now(UTC).isoformat(timespec="microseconds")
                details = fastjson.loads(fastjson.dumps(scrub(item.details)))
                digest = event_hash(
                    seq, now, item.actor, item.action, item.target, item.outcome, details, prev
                )
                rows.append(
                    {
                        "seq": seq,
                        "time": now,
                        "actor": item.actor,
                        "action": item.action,
                        "target": item.target,
                        "outcome": item.outcome,
                        "details": details,
                        "prev_hash": prev,
                        "hash": digest,
                        "seal": self._seal(digest),
                    }
                )
                records.append(
                    AuditRecord(
                        seq, now, item.actor, item.action, item.target, item.outcome, details, prev, digest
                    )
                )
                prev = digest
            # One executemany through Core: the ORM's per-object unit of work costs more than
            # hashing and sealing the events (the gateway ships thousands a second).
            session.execute(insert(AuditEvent), rows)
            if anchor is None:
                session.add(AuditAnchor(id=1, seq=seq, hash=prev, seal=self._seal(f"{seq}:{prev}")))
            else:
                anchor.seq, anchor.hash, anchor.seal = seq, prev, self._seal(f"{seq}:{prev}")
        if self.anchor_file is not None:
            # Once per batch, after the commit (of the whole unit of work when the events
            # are part of one): a crash in between leaves the file behind the database,
            # which verifies; a file ahead of the database never does.
            self.store.after_commit(lambda: self._advance_anchor(seq, prev))
        return records

    def _advance_anchor(self, seq: int, head: str) -> None:
        assert self.anchor_file is not None
        try:
            self.anchor_file.advance(seq, head)
        except OSError as exc:
            raise StoreError(
                f"audit events up to {seq} were committed but the anchor file "
                f"{self.anchor_file.path} could not be written: {exc.strerror}"
            ) from exc

    def query(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Events matching every given filter (``action`` may end in ``*``), oldest first."""
        statement = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            if action.endswith("*"):
                statement = statement.where(AuditEvent.action.startswith(action[:-1]))
            else:
                statement = statement.where(AuditEvent.action == action)
        if actor:
            statement = statement.where(AuditEvent.actor == actor)
        if target:
            statement = statement.where(AuditEvent.target == target)
        if outcome:
            statement = statement.where(AuditEvent.outcome == outcome)
        if since:
            statement = statement.where(AuditEvent.time >= since)
        with self.store.session() as session:
            rows = session.scalars(statement).all()
            records = [_record(row) for row in rows]
        return records[-limit:] if limit else records

    def verify(self) -> ChainVerification:
        """Walk the whole chain; report the first event that does not verify."""
        with self.store.session() as session:
            return self._verify(session)

    def _verify(self, session: Session) -> ChainVerification:
        try:
            recorded = self.anchor_file.read() if self.anchor_file else None
        except IntegrityError as exc:
            return ChainVerification(False, 0, None, exc.message)
        recorded_hash: str | None = None
        prev = GENESIS
        expected_seq = 1
        count = 0
        for row in _iterate(session):
            count += 1
            if recorded is not None and row.seq == recorded.seq:
                recorded_hash = row.hash
            if row.seq != expected_seq:
                return ChainVerification(
                    False, count, expected_seq, f"event {expected_seq} is missing (deleted)"
                )
            if row.prev_hash != prev:
                return ChainVerification(
                    False,
                    count,
                    row.seq,
                    f"event {row.seq} does not follow event {row.seq - 1} (reordered or replaced)",
                )
            digest = event_hash(
                row.seq, row.time, row.actor, row.action, row.target, row.outcome, row.details, row.prev_hash
            )
            if digest != row.hash:
                return ChainVerification(
                    False, count, row.seq, f"event {row.seq} was edited (its hash does not match)"
                )
            if not hmac.compare_digest(self._seal(row.hash), row.seal):
                return ChainVerification(
                    False, count, row.seq, f"event {row.seq} has an invalid seal (rewritten without the key)"
                )
            prev = row.hash
            expected_seq += 1
        anchor = session.get(AuditAnchor, 1)
        last = expected_seq - 1
        if anchor is None:
            if count:
                return ChainVerification(False, count, None, "the chain anchor is missing")
            return ChainVerification(True, 0)
        if not hmac.compare_digest(self._seal(f"{anchor.seq}:{anchor.hash}"), anchor.seal):
            return ChainVerification(False, count, None, "the chain anchor was altered")
        if anchor.seq != last or anchor.hash != prev:
            return ChainVerification(
                False,
                count,
                last + 1,
                f"the chain ends at event {last} but the anchor records event {anchor.seq} (events deleted)",
            )
        return self._verify_file_anchor(recorded, recorded_hash, count, last)

    def _verify_file_anchor(
        self, recorded: FileAnchor | None, recorded_hash: str | None, count: int, last: int
    ) -> ChainVerification:
        if self.anchor_file is None:
            return ChainVerification(True, count)
        where = self.anchor_file.path
        if recorded is None:
            if count:
                return ChainVerification(False, count, None, f"the audit anchor file {where} is missing")
            return ChainVerification(True, count)
        expected = self.anchor_file.seal_of(recorded.seq, recorded.hash)
        if not hmac.compare_digest(expected, recorded.seal):
            return ChainVerification(False, count, None, f"the audit anchor file {where} was altered")
        if recorded.seq > last:
            return ChainVerification(
                False,
                count,
                last + 1,
                f"the database chain ends at event {last} but the anchor file records event "
                f"{recorded.seq}: the database was replaced or truncated (events deleted)",
            )
        if recorded_hash != recorded.hash:
            return ChainVerification(
                False,
                count,
                recorded.seq,
                f"event {recorded.seq} is not the one the anchor file records: the database was replaced",
            )
        return ChainVerification(True, count)


def _iterate(session: Session) -> Iterable[AuditEvent]:
    # Page through the log by sequence so memory stays bounded on long chains.
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(5000)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _record(row: AuditEvent) -> AuditRecord:
    return AuditRecord(
        row.seq,
        row.time,
        row.actor,
        row.action,
        row.target,
        row.outcome,
        row.details,
        row.prev_hash,
        row.hash,
    )
