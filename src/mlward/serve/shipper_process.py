"""The gateway's audit shipper process: opens the workspace and ships one journal.

It lives with the door that starts it (the gateway): it is the composition root of its
own process, and audit/ never opens a workspace.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from mlward.audit.shipper import ship_journal
from mlward.workspace import Workspace

MODULE = "mlward.serve.shipper_process"
"""What ``AuditJournal`` runs with ``python -m`` for ``audit_shipper: process``."""


def main(argv: list[str]) -> int:
    """``python -m mlward.serve.shipper_process WORKSPACE JOURNAL INTERVAL``."""
    logging.basicConfig(level=logging.WARNING, format="mlward shipper: %(message)s")
    workspace = Workspace.open(argv[0])
    stop = threading.Event()

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns at EOF: the server closed the pipe or died
        stop.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        return 0 if ship_journal(workspace.audit, Path(argv[1]), float(argv[2]), stop) else 1
    finally:
        workspace.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
