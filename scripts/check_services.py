"""Check that the services the tests need are reachable; start them if this machine can.

The tests use a real PostgreSQL (127.0.0.1:5432, database ``test``) and Redis
(127.0.0.1:6379). A missing service is a failure with instructions, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

SERVICES = {
    "PostgreSQL": (
        "127.0.0.1",
        5432,
        ["bash", "-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"],
    ),
    "Redis": (
        "127.0.0.1",
        6379,
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
    ),
}


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    missing = []
    for name, (host, port, start) in SERVICES.items():
        if reachable(host, port):
            continue
        if shutil.which(start[0]) and os.geteuid() == 0:
            print(f"{name} is not running on {host}:{port}; starting it", flush=True)
            subprocess.run(start, check=False, capture_output=True)
            for _ in range(30):
                if reachable(host, port):
                    break
                time.sleep(1)
        if not reachable(host, port):
            missing.append(f"{name} on {host}:{port}")
    if missing:
        print(
            "The test suite needs these services and they are not reachable: "
            + ", ".join(missing)
            + ". Start them (PostgreSQL with trust auth for user postgres and a database 'test'; "
            "Redis with no password), or point MLWARD_TEST_PG_URL / MLWARD_TEST_REDIS_URL at them.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
