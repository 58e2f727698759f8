"""The credit-risk demo: what `make demo` runs.

Sets up a workspace in this directory (SQLite metadata, local object store, fresh keys
under .mlward/), generates the synthetic loan applications, and runs mlward on them.
Every step is a plain `mlward` command, printed before it runs, so you can replay any
of them by hand. Run it again to start over from a clean workspace.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MLWARD = [sys.executable, "-m", "mlward.cli.main"]
ENV = {**os.environ, "MLWARD_PRINCIPAL": "demo", "COLUMNS": os.environ.get("COLUMNS", "120")}


def step(title: str, *args: str, check: bool = True) -> int:
    """Print and run one mlward command in the demo workspace."""
    print(f"\n== {title}\n$ mlward {shlex.join(args)}", flush=True)
    code = subprocess.run([*MLWARD, *args], cwd=HERE, env=ENV, check=False).returncode
    if check and code != 0:
        print(f"demo step failed with exit code {code}", file=sys.stderr)
        sys.exit(code)
    return code


def _advisories_zip() -> None:
    """Zip the demo's OSV advisories into the offline database the audit-deps stage reads."""
    import zipfile

    with zipfile.ZipFile(HERE / "advisories" / "PyPI-demo.zip", "w") as archive:
        for advisory in sorted((HERE / "advisories").glob("*.json")):
            archive.write(advisory, advisory.name)


def main() -> None:
    """Run the demo end to end."""
    started = time.monotonic()
    shutil.rmtree(HERE / ".mlward", ignore_errors=True)
    print("== Generating synthetic loan applications (deterministic, with PII)", flush=True)
    subprocess.run([sys.executable, str(HERE / "generate_data.py")], check=True)
    step("Create the workspace (keys, metadata store, object store)", "init", ".")
    _advisories_zip()
    code = step("Run the whole pipeline (mlward.yaml)", "run", check=False)
    if code != 1:
        print("the demo expected the drift gate to fail on the new batch", file=sys.stderr)
        sys.exit(code or 1)
    step("Workspace status", "status")
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
