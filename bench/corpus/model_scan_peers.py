"""Run one peer scanner over files (executed by bench/.venv's Python, not mlward's).

    python model_scan_peers.py TOOL OUT.json FILE...

Writes {"file": {"flagged": bool, "error": str | null}} as JSON. A peer that raises or
times out on a file has ``error`` set and ``flagged`` false for that file.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

TIMEOUT_S = 120


def picklescan(path: str) -> bool:
    from picklescan.scanner import scan_file_path

    result = scan_file_path(path)
    if result.scan_err and not result.issues_count:
        raise RuntimeError("picklescan scan error")
    return bool(result.issues_count or result.infected_files)


def modelscan(path: str) -> bool:
    from modelscan.modelscan import ModelScan

    result = ModelScan().scan(path)
    if result.get("errors") and not result.get("issues"):
        raise RuntimeError(str(result["errors"][0])[:200])
    return bool(result.get("issues"))


def fickling(path: str) -> bool:
    import fickling as fk
    from fickling.analysis import Severity

    result = fk.scan_file(path, graceful=True)
    if result.errors and result.severity == Severity.LIKELY_SAFE:
        raise RuntimeError(str(result.errors[0])[:200])
    return result.severity != Severity.LIKELY_SAFE


def modelaudit(path: str) -> bool:
    """Flagged when ModelAudit reports a WARNING or CRITICAL issue (what fails its CLI)."""
    from modelaudit.core import scan_model_directory_or_file

    result = scan_model_directory_or_file(path)
    flagged = any(str(i.severity.value).lower() in ("warning", "critical") for i in result.issues)
    if result.has_errors and not flagged:
        raise RuntimeError("modelaudit scan error")
    return flagged


def _timeout(*_: Any) -> None:
    raise TimeoutError(f"no answer within {TIMEOUT_S}s")


def main() -> None:
    for var in ("PROMPTFOO_DISABLE_TELEMETRY", "MODELAUDIT_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        os.environ[var] = "1"  # the bench machine has no network; no uploads attempted
    tool, out_path, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    scan = {"picklescan": picklescan, "modelscan": modelscan, "fickling": fickling, "modelaudit": modelaudit}[
        tool
    ]
    signal.signal(signal.SIGALRM, _timeout)
    out: dict[str, dict[str, Any]] = {}
    for path in files:
        signal.alarm(TIMEOUT_S)
        try:
            out[path] = {"flagged": scan(path), "error": None}
        except BaseException as exc:  # peers crash in many ways on hostile input
            out[path] = {"flagged": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        finally:
            signal.alarm(0)
    with open(out_path, "w") as fh:  # peers print to stdout themselves
        json.dump(out, fh)


if __name__ == "__main__":
    main()
