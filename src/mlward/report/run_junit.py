"""A pipeline run as JUnit XML: one test case per stage and per gate, for CI dashboards."""

from __future__ import annotations

import json
from typing import Any


def run_cases(run: dict[str, Any]) -> list[tuple[str, bool, str, str]]:
    """(name, passed, message, details) for every stage and gate of a run."""
    cases = []
    for stage in run["stages"]:
        ok = stage["status"] in ("ok", "cached")
        message = "" if ok else (stage.get("error") or stage.get("summary") or stage["status"])
        if stage["status"] == "gate-failed":
            ok, message = True, ""  # the gate cases below carry the failure
        cases.append((f"stage {stage['name']} ({stage['kind']})", ok, message, stage.get("summary", "")))
        for gate in stage.get("gates", []):
            blocking = not gate["passed"] and gate.get("action", "fail") == "fail"
            observed = gate.get("error") or json.dumps(gate.get("observed", {}), default=str)
            cases.append(
                (
                    f"gate {gate['gate']}",
                    not blocking,
                    f"{gate['rule']} (observed {observed})" if blocking else "",
                    gate["rule"],
                )
            )
    return cases


def run_to_junit(run: dict[str, Any]) -> str:
    """JUnit XML of a run (``RunResult.to_dict()``)."""
    from mlward.report.junit import to_junit

    return to_junit(f"mlward run {run['run_id'][:8]}", run_cases(run))
