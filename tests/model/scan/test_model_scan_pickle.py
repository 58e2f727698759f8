"""The pickle analyser and the allowlist, on hand-assembled streams."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from model_corpus_malicious import call0, glob, sglob, u

from mlward.core.errors import ConfigError
from mlward.core.findings import Severity
from mlward.model.scan import GlobalStatus, Verdict, default_allowlist, scan_file
from mlward.model.scan import rules as R
from mlward.model.scan._io import ByteStream
from mlward.model.scan.interface import ScanContext
from mlward.model.scan.pickle_analyser import PickleAnalyser


def analyse(data: bytes, **kw: object):  # type: ignore[no-untyped-def]
    ctx = ScanContext(path="mem", allowlist=default_allowlist())
    outcome = PickleAnalyser(ByteStream(io.BytesIO(data), 0, len(data)), ctx, None, **kw).run()  # type: ignore[arg-type]
    return outcome, ctx.findings


def rules_of(findings) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.rule_id for f in findings}


@pytest.mark.parametrize("proto", range(6))
def test_plain_data_at_every_protocol_is_clean(proto: int) -> None:
    value = {
        "a": [1, 2.5, None, True],
        "b": (b"x" * 10, "s" * 3000),
        "c": {1, 2},
        "d": frozenset({3}),
        "e": bytearray(b"yy"),
        "n": 2**100,
    }
    outcome, findings = analyse(pickle.dumps(value, protocol=proto))
    assert outcome.complete and findings == []


def test_allowlisted_reconstruction_is_clean_and_globals_are_listed() -> None:
    import collections

    outcome, findings = analyse(pickle.dumps(collections.OrderedDict(a=1), protocol=2))
    assert findings == []
    assert outcome.globals_seen == ("collections.OrderedDict",)


def test_unknown_global_is_high_and_critical_global_is_critical() -> None:
    _, findings = analyse(b"\x80\x04" + sglob("mypkg.models", "Net") + b")\x81.")
    assert [(f.rule_id, f.severity) for f in findings] == [(R.PICKLE_GLOBAL_UNKNOWN, Severity.HIGH)]
    _, findings = analyse(call0("subprocess", "run", "x") + b".")
    assert findings[0].severity is Severity.CRITICAL


def test_calls_before_a_break_are_reported_with_the_break() -> None:
    outcome, findings = analyse(call0("os", "system", "x"))
    assert not outcome.complete
    assert rules_of(findings) == {R.PICKLE_GLOBAL_CRITICAL, R.PICKLE_MALFORMED}
    assert next(f for f in findings if f.rule_id == R.PICKLE_MALFORMED).severity is Severity.HIGH


def test_break_before_anything_ran_is_medium() -> None:
    _, findings = analyse(b"\x80\x04K\x01\xff")
    assert [(f.rule_id, f.severity) for f in findings] == [(R.PICKLE_MALFORMED, Severity.MEDIUM)]


def test_memo_get_of_unset_key_is_malformed() -> None:
    outcome, _findings = analyse(b"\x80\x04h\x05.")
    assert not outcome.complete and "memo key 5" in (outcome.error or "")


@pytest.mark.parametrize(
    ("data", "ok"),
    [
        (b"\x80\x04K\x01(K\x02\x86.", False),  # TUPLE2 across a MARK
        (b"\x80\x04K\x01(\x94.", False),  # MEMOIZE right after MARK
        (b"\x80\x04]K\x01(a.", False),  # APPEND across a MARK
        (b"\x80\x04K\x01(0.", True),  # POP removes the MARK itself
        (b"\x80\x04K\x01(K\x02\x85.", True),
    ],
)
def test_mark_fence_matches_cpython(data: bytes, ok: bool) -> None:
    try:
        pickle.loads(data)
        loads_ok = True
    except pickle.UnpicklingError:
        loads_ok = False
    outcome, _ = analyse(data)
    assert loads_ok is ok and outcome.complete is ok


def test_stack_global_operands_from_non_strings_are_unresolved() -> None:
    _, findings = analyse(b"\x80\x04K\x01K\x02\x93.")
    assert rules_of(findings) == {R.PICKLE_STACK_GLOBAL_UNRESOLVED}


def test_ext_codes_are_high() -> None:
    _, findings = analyse(b"\x80\x02\x83\x01\x02)R.")
    assert R.PICKLE_EXT in rules_of(findings)


def test_calling_a_call_result_is_high() -> None:
    _, findings = analyse(b"\x80\x04" + sglob("collections", "OrderedDict") + b")R)R.")
    assert rules_of(findings) == {R.PICKLE_CALL_UNRESOLVED}


def test_build_on_a_global_mutates_it() -> None:
    _, findings = analyse(b"\x80\x04" + sglob("collections", "OrderedDict") + b"}b.")
    assert rules_of(findings) == {R.PICKLE_MUTATES_GLOBAL}


def test_persistent_ids_are_low_outside_torch_and_silent_inside() -> None:
    data = b"\x80\x02" + u("k") + b"Q."
    assert [f.severity for f in analyse(data)[1]] == [Severity.LOW]
    assert analyse(data, persistent_ok=True)[1] == []


def test_protocol_below_3_maps_python2_names() -> None:
    outcome, findings = analyse(b"\x80\x02" + glob("__builtin__", "set") + b")R.")
    assert findings == [] and outcome.globals_seen == ("builtins.set",)
    _, findings = analyse(b"\x80\x02" + glob("__builtin__", "eval") + u("1") + b"\x85R.")
    assert findings[0].severity is Severity.CRITICAL


def test_dotted_names_are_classified_by_what_they_reach() -> None:
    allow = default_allowlist()
    assert allow.classify("pathlib", "os.system") is GlobalStatus.CRITICAL
    # The same object through another split is the same entry; anything further is not.
    assert allow.classify("torch", "_utils._rebuild_tensor_v2") is GlobalStatus.SAFE
    assert allow.classify("collections", "OrderedDict.fromkeys") is GlobalStatus.UNKNOWN
    assert allow.classify("collections", "OrderedDict") is GlobalStatus.SAFE
    assert allow.classify("sklearn.linear_model._logistic", "LogisticRegression") is (GlobalStatus.SAFE)
    assert allow.classify("sklearn.utils", "resample") is GlobalStatus.UNKNOWN  # a function
    assert allow.classify("sklearn.externals.joblib", "Memory") is GlobalStatus.UNKNOWN


def test_no_allowlisted_entry_is_critical() -> None:
    allow = default_allowlist()
    assert [n for n in allow.exact if allow.is_critical(n)] == []
    assert all(e.why for e in allow.exact.values())


def test_workspace_extension_adds_classes_but_never_critical_ones() -> None:
    extended = default_allowlist().extended(["mypkg.models.*", "mypkg.util.helper", "os.system"])
    assert extended.classify("mypkg.models", "Net") is GlobalStatus.SAFE
    assert extended.classify("mypkg.models", "Net.__init__") is GlobalStatus.CRITICAL
    assert extended.classify("mypkg.util", "helper") is GlobalStatus.SAFE
    assert extended.classify("os", "system") is GlobalStatus.CRITICAL
    with pytest.raises(ConfigError):
        default_allowlist().extended(["mypkg.*"])


def test_scan_file_with_allowlist_extra(tmp_path: Path) -> None:
    p = tmp_path / "m.pkl"
    p.write_bytes(b"\x80\x04" + sglob("mypkg.models", "Net") + b")\x81.")
    assert scan_file(p).verdict is Verdict.UNSAFE
    assert scan_file(p, allowlist_extra=["mypkg.models.*"]).verdict is Verdict.SAFE


def test_joblib_arrays_are_skipped_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib
    import numpy as np

    p = tmp_path / "arrays.joblib"
    arrays = [
        np.arange(1000, dtype=np.float64),
        np.zeros((3, 4), np.int8),
        np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
    ]
    joblib.dump(arrays, p)
    skipped: list[int] = []
    real_skip = PickleAnalyser.skip

    def recording_skip(self: PickleAnalyser, n: int) -> None:
        skipped.append(n)
        real_skip(self, n)

    monkeypatch.setattr(PickleAnalyser, "skip", recording_skip)
    report = scan_file(p)
    assert report.verdict is Verdict.SAFE and report.format == "joblib"
    assert report.findings == ()
    # Each payload is stepped over by exactly its byte size (8000, 12, 12 bytes), nothing else.
    assert skipped == [a.nbytes for a in arrays] == [8000, 12, 12]


def test_big_payloads_are_skipped_not_read(tmp_path: Path) -> None:
    p = tmp_path / "big.pkl"
    p.write_bytes(pickle.dumps({"blob": b"\x00" * (8 << 20)}, protocol=4))
    report = scan_file(p)
    assert report.verdict is Verdict.SAFE
    assert report.bytes_scanned < 3 << 20
