"""Run every benchmark in bench/ (``make bench``); each prints its table and writes
bench/results/<name>.json. Benchmarks that install peer tools do so into their own
virtualenvs under bench/ so the project's environment stays clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["store", "model_scan", "model_hash", "pii", "drift", "deps_audit", "serve"]


def main() -> int:
    failed = []
    for name in ORDER:
        script = HERE / f"{name}.py"
        if not script.exists():
            continue
        print(f"\n######## bench/{script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
