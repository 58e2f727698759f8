"""Memory of the pickle analyser: bounded by what later opcodes can reference, not by the
number of opcodes (issue 18). Each stream is scanned, in a fresh interpreter, at one size
and at four times that size; the peak RSS must not follow the opcode count."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mlward

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc")

SHAPES: dict[str, Callable[[int], Any]] = {
    # Every string is memoized: the memo used to keep each one.
    "distinct strings": lambda n: [f"s{i}" for i in range(n)],
    # Every tuple is memoized, and tuples were kept up to a million.
    "small tuples": lambda n: [(i, i + 1) for i in range(n)],
    # One MARK, then every item stays on the stack until TUPLE: deep values are summarised.
    "wide tuple": lambda n: tuple(range(1000, 1000 + n)),
    # bench/model_scan.py's opcode-dense pickle: dicts, lists, tuples, shared keys.
    "records": lambda n: [{"a": i, "b": [i, "x"], "c": (i, 2.5)} for i in range(n // 3)],
}

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (pytest) parent.
_SCAN = (
    "import re, sys\n"
    "from mlward.model.scan import scan_file\n"
    "report = scan_file(sys.argv[1])\n"
    "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
    "print(len(report.findings), hwm)\n"
)


def _peak_rss_kib(path: Path) -> int:
    """Peak RSS of a fresh interpreter that scans ``path`` (which must scan clean)."""
    src = str(Path(mlward.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", _SCAN, str(path)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout.split()
    assert out[0] == "0", f"{path.name}: {out[0]} findings"
    return int(out[1])


N = 400_000
# Bytes each extra stack item may cost: the stack's own pointer (and its growth), no value.
STACK_ITEM_BYTES = 24


@pytest.mark.parametrize("shape", SHAPES)
def test_peak_memory_does_not_grow_with_the_opcode_count(tmp_path: Path, shape: str) -> None:
    peaks = []
    for scale in (1, 4):
        path = tmp_path / f"{scale}.pkl"
        path.write_bytes(pickle.dumps(SHAPES[shape](N * scale), protocol=4))
        peaks.append(_peak_rss_kib(path))
    shown = f"peak RSS {peaks[0] >> 10} MiB -> {peaks[1] >> 10} MiB"
    if shape == "wide tuple":  # memory may follow the stack depth, by its pointers only
        assert (peaks[1] - peaks[0]) * 1024 < STACK_ITEM_BYTES * 3 * N, shown
    else:
        assert peaks[1] < 1.5 * peaks[0], shown


def test_payload_past_the_stack_bound_is_high(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlward.model.scan import pickle_analyser, scan_file

    monkeypatch.setattr(pickle_analyser, "_STACK_MAX", 1000)
    path = tmp_path / "deep.pkl"
    path.write_bytes(b"\x80\x04(" + b"K\x01" * 5000 + b"1" + b"\x8c\x02os\x8c\x06system\x93.")
    report = scan_file(path)
    limit = [f for f in report.findings if f.properties.get("limit")]
    assert limit and limit[0].severity.name == "HIGH" and "stack deeper" in limit[0].message


def test_millions_of_call_sites_cost_one_marker_not_a_finding_each(tmp_path: Path) -> None:
    from mlward.model.scan import scan_file

    path = tmp_path / "calls.pkl"
    path.write_bytes(b"\x80\x04" + b"N)R0" * 20_000 + b"N.")
    report = scan_file(path)
    assert len(report.findings) <= 1001
    marker = [f for f in report.findings if "suppressed" in f.properties]
    assert marker and marker[0].severity.name == "HIGH"
    assert marker[0].properties["suppressed"] == 20_000 - 1000
