"""Each column verdict in words (``data/drift/summary.py``), in the JSON, table and HTML."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest

from mlward.cli.data_trust import drift_table
from mlward.data.drift import DriftDetector, DriftReport
from mlward.data.drift.summary import NO_CHANGE
from mlward.report.html import render_html

from .conftest import PLANTED, STABLE


@pytest.fixture(scope="module")
def large_report(frames) -> DriftReport:
    return DriftDetector().fit(frames["large_ref"]).compare(frames["large_drift"])


def _shares(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"([\d.]+)%", text)]


def test_a_one_sd_mean_shift_is_said_in_reference_sd_units(large_report) -> None:
    income = large_report.column("income").summary
    match = re.match(r"mean \+(\d\.\d) sd", income)
    assert match and 0.9 <= float(match.group(1)) <= 1.1, income
    latency = large_report.column("latency").summary
    assert re.fullmatch(r"sd ×(1\.9|2\.0|2\.1)", latency), latency  # same mean, sd doubled


def test_a_new_category_is_named_with_its_share(large_report) -> None:
    channel = large_report.column("channel").summary
    assert channel.startswith("new category 'api' "), channel
    assert _shares(channel)[0] == pytest.approx(30, abs=2)
    region = large_report.column("region").summary  # 'south' 30 % → gone
    assert region.startswith("'south' ") and region.endswith("→ 0%"), region


def test_unchanged_columns_say_no_change_and_the_json_carries_the_words(large_report) -> None:
    for name in STABLE:
        assert large_report.column(name).summary == NO_CHANGE
    doc = json.loads(json.dumps(large_report.to_dict()))
    by = {c["column"]: c["summary"] for c in doc["columns"]}
    assert by == {c.column: c.summary for c in large_report.columns}
    # the JSON keeps reference column order for its consumers
    assert list(by) == [c.column for c in large_report.columns]


def test_a_null_spike_alone_is_said_as_the_null_rate() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=2_000)
    spiked = values.copy()
    spiked[:600] = np.nan
    report = DriftDetector().fit(pa.table({"x": values})).compare(pa.table({"x": spiked}))
    assert report.column("x").drifted
    assert report.column("x").summary == "null rate 0% → 30%"


def test_a_withheld_email_column_says_so_without_any_value() -> None:
    n = 400
    emails = [f"person{i}@mail-example.org" for i in range(n)]
    ref = pa.table({"contact": emails})
    cur = pa.table({"contact": [None if i % 3 == 0 else f"other{i}@mail-example.org" for i in range(n)]})
    report = DriftDetector().fit(ref).compare(cur)
    contact = report.column("contact")
    assert contact.withheld == ("EMAIL",) and contact.drifted
    assert contact.summary.startswith("values withheld (EMAIL): null rate 0% → ")
    assert "@" not in contact.summary and "mail-example" not in contact.summary
    same = DriftDetector().fit(ref).compare(ref).column("contact").summary
    assert same == f"values withheld (EMAIL): {NO_CHANGE}"


def test_the_table_and_the_html_put_drifted_columns_first(large_report) -> None:
    drifted = set(PLANTED.values())
    assert [c.column for c in large_report.columns][:4] != list(PLANTED.values())  # mixed in JSON
    table = drift_table(large_report)
    names = list(table.columns[0].cells)
    assert set(names[:4]) == drifted and set(names[4:]) == set(STABLE)
    header = [c.header for c in table.columns]
    words = list(table.columns[header.index("what changed")].cells)
    assert words[names.index("channel")].startswith("new category")
    html = render_html(drift=large_report)
    body = html[html.index('id="drift-table"') :]
    rows = re.findall(r'<tr class="drift-row[^"]*"[^>]*>\s*<td>([^<]+)</td>', body)
    assert set(rows[:4]) == drifted and set(rows[4:]) == set(STABLE)
    assert "mean +1.0 sd" in body or "mean +0.9 sd" in body or "mean +1.1 sd" in body
    assert NO_CHANGE in body
