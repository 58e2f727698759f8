"""Property tests: mutated and truncated pickles never crash the analyser, and whenever
the real unpickler would import a global that is not allowlisted, the scan is not SAFE.

The oracle is CPython's own unpickler with ``find_class`` replaced by a recorder that
returns an inert class, so nothing is executed while we learn what it would import.
"""

from __future__ import annotations

import collections
import io
import pickle
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_corpus_malicious import call0, sglob, u

from mlward.core.findings import Severity
from mlward.model.scan import GlobalStatus, default_allowlist
from mlward.model.scan._io import ByteStream
from mlward.model.scan.interface import UNSAFE_AT, Artifact, ScanContext
from mlward.model.scan.pickle_file import scan_pickle_sequence

SEEDS = [
    pickle.dumps({"a": [1, 2, (3, "x")], "od": collections.OrderedDict(b=2.5)}, protocol=p) for p in range(6)
] + [
    call0("os", "system", "true") + b".",
    b"\x80\x04" + u("os") + b"\x94" + u("system") + b"\x94h\x00h\x01\x93" + u("x") + b"\x85R.",
    b"\x80\x04" + sglob("mypkg", "Thing") + b")\x81}b.",
    pickle.dumps({"k": 1}) + call0("builtins", "exec", "1") + b".",
]


class _Inert:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        return object.__new__(cls)

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()


class _Recorder(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.imported: list[tuple[str, str]] = []

    def find_class(self, module: str, name: str) -> Any:
        self.imported.append((module, name))
        return _Inert

    def persistent_load(self, pid: Any) -> Any:
        return None


def imports_of(data: bytes) -> list[tuple[str, str]]:
    """What the real unpickler would import from ``data`` (reading every pickle in it)."""
    rec = _Recorder(data)
    try:
        while True:
            rec.load()
    except Exception:  # the first error ends loading, as in a real loader
        pass
    return rec.imported


def scan_bytes(data: bytes) -> Severity | None:
    ctx = ScanContext(path="mem", allowlist=default_allowlist())
    artifact = Artifact(stream=io.BytesIO(data), size=len(data), name="x.pkl", member=None)
    scan_pickle_sequence(artifact, ctx)
    return max((f.severity for f in ctx.findings), default=None)


def mutate(seed: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    data = bytearray(seed)
    for kind, where, value in ops:
        if not data:
            break
        i = where % len(data)
        if kind == 0:
            del data[i:]
        elif kind == 1:
            data[i] = value
        elif kind == 2:
            data[i:i] = bytes([value])
        else:
            del data[i : i + 1 + value % 4]
    return bytes(data)


mutations = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), ops=mutations)
def test_mutated_pickles_never_crash_and_never_hide_imports(
    seed: bytes, ops: list[tuple[int, int, int]]
) -> None:
    data = mutate(seed, ops)
    worst = scan_bytes(data)  # must not raise
    allow = default_allowlist()
    # find_class gets names before the protocol < 3 mapping: unsafe under both readings.
    unsafe = [
        (m, n)
        for m, n in imports_of(data)
        if GlobalStatus.SAFE not in {allow.classify(m, n, 2), allow.classify(m, n, 4)}
    ]
    if unsafe:
        assert worst is not None and worst >= Severity.HIGH, unsafe


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    worst = scan_bytes(data)
    if imports_of(data):
        assert worst is not None and worst >= UNSAFE_AT


def test_oracle_sees_what_the_scanner_flags() -> None:
    assert imports_of(SEEDS[6]) == [("os", "system")]
    assert imports_of(SEEDS[7]) == [("os", "system")]  # through the memo
    assert imports_of(SEEDS[9])[-1] == ("builtins", "exec")  # in the second pickle
    for seed in SEEDS[6:]:
        assert scan_bytes(seed) is not None and scan_bytes(seed) >= Severity.HIGH
    bs = ByteStream(io.BytesIO(SEEDS[6]), 0, len(SEEDS[6]))
    assert bs.read(1) == b"c" and bs.readline(100) == b"os"
