"""The audit chain head, sealed, in a file beside the database (``.mlward/audit.anchor``).

The database's own anchor row can be put back by someone who kept an old, validly
sealed copy of it; the file, kept outside the database and only ever moved forward,
then records a later head than the database holds. ``AuditLog`` writes it after each
append batch and checks it in ``verify``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mlward.core.errors import IntegrityError

ANCHOR_FILE = "audit.anchor"


@dataclass(frozen=True)
class FileAnchor:
    """The chain head as recorded in the anchor file."""

    seq: int
    """Sequence number of the newest event."""
    hash: str
    """Hash of that event."""
    seal: str
    """HMAC of ``anchor-file:SEQ:HASH`` under the audit key."""


def read_anchor_file(path: Path) -> FileAnchor | None:
    """The anchor file's content, unverified; ``None`` when there is no file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return FileAnchor(int(raw["seq"]), str(raw["hash"]), str(raw["seal"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(
            f"the audit anchor file {path} is unreadable or was altered ({exc.__class__.__name__})",
            hint="restore .mlward/ from a backup",
        ) from None


class AnchorFile:
    """The sealed chain head in a file beside the database, only ever moved forward."""

    def __init__(self, path: Path, seal: Callable[[str], str]) -> None:
        self.path = path
        self._seal = seal

    def seal_of(self, seq: int, digest: str) -> str:
        """The seal the file must carry for head ``seq`` / ``digest``."""
        return self._seal(f"anchor-file:{seq}:{digest}")

    def read(self) -> FileAnchor | None:
        """The recorded head, unverified (see ``AuditLog.verify``)."""
        return read_anchor_file(self.path)

    def advance(self, seq: int, digest: str) -> None:
        """Record head ``seq`` unless a concurrent writer already recorded a newer one."""
        with self._locked():
            current = self.read()
            if current is not None and current.seq >= seq:
                return
            body = json.dumps({"seq": seq, "hash": digest, "seal": self.seal_of(seq, digest)})
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(body)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Appends commit in chain order but may reach this point out of order; the lock
        # plus the forward-only check keep the file at the newest head.
        with open(self.path.with_name(self.path.name + ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
