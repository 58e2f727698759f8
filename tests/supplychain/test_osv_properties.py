"""Property tests: OSV range evaluation against a brute-force model, parsers never crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mlward.core.errors import InputError
from mlward.supplychain.osv import in_range, parse_version
from mlward.supplychain.pyproject import poetry_specifier
from mlward.supplychain.requirements import parse_requirements_file

releases = st.tuples(*[st.integers(0, 4)] * 3).map(lambda t: ".".join(map(str, t)))


@st.composite
def ranges(draw):
    """Non-overlapping [introduced, fixed) intervals, the last one possibly open."""
    points = sorted(set(draw(st.lists(releases, min_size=1, max_size=6))), key=Version)
    intervals = [
        (points[i], points[i + 1] if i + 1 < len(points) else None) for i in range(0, len(points), 2)
    ]
    if draw(st.booleans()):
        intervals[0] = ("0", intervals[0][1])
    events = []
    for start, end in intervals:
        events.append({"introduced": start})
        if end is not None:
            events.append({"fixed": end})
    shuffled = draw(st.permutations(events))  # the schema does not require sorted events
    return intervals, {"type": "ECOSYSTEM", "events": shuffled}


@settings(max_examples=300, deadline=None)
@given(ranges(), releases)
def test_in_range_matches_interval_model(spec, version: str) -> None:
    intervals, rng = spec
    v = Version(version)
    expected = any(
        (start == "0" or v >= Version(start)) and (end is None or v < Version(end))
        for start, end in intervals
    )
    assert in_range(v, rng) is expected


@settings(max_examples=200, deadline=None)
@given(releases, releases, releases)
def test_last_affected_is_the_inclusive_ceiling(a: str, b: str, version: str) -> None:
    low, high = sorted((a, b), key=Version)
    rng = {"type": "ECOSYSTEM", "events": [{"introduced": low}, {"last_affected": high}]}
    v = Version(version)
    assert in_range(v, rng) is (Version(low) <= v <= Version(high))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_requirements_parser_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "requirements.txt"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            declared = parse_requirements_file(path)
        except InputError:
            return  # includes of missing files, undecodable bytes: a clear error
        assert all(d.requirement is not None or d.problem for d in declared)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from("^~"), releases)
def test_poetry_caret_and_tilde_include_base_and_exclude_next(op: str, base: str) -> None:
    spec = SpecifierSet(poetry_specifier(op + base))
    assert spec.contains(base)
    upper = next(s.version for s in spec if s.operator == "<")
    assert not spec.contains(upper)
    assert parse_version(upper) is not None and Version(upper) > Version(base)
