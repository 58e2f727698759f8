"""JUnit XML: parses, counts failures, carries messages, survives hostile text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import polars as pl

from mlward.data.contract import validate
from mlward.data.contract.format import to_junit_xml
from mlward.report.junit import to_junit


def test_cases_and_counts() -> None:
    xml = to_junit(
        "suite <1>",
        [
            ("first", True, "", "all good"),
            ("second", False, "3 rows fail\nmore", "row 1\nrow 2"),
            ("third", False, "", ""),
        ],
    )
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("suite <1>", "3", "2")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["first", "second", "third"]
    assert cases[0].find("failure") is None and cases[0].findtext("system-out") == "all good"
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "3 rows fail" and failure.text == "row 1\nrow 2"
    third = cases[2].find("failure")
    assert third is not None and third.get("message") == "failed"


def test_control_characters_and_markup_do_not_break_the_document() -> None:
    nasty = 'value \x00\x1b[31m</failure><testcase name="x"/> & "quotes"'
    root = ET.fromstring(to_junit("s", [(nasty, False, nasty, nasty)]))
    case = root.find("testsuite/testcase")
    assert case is not None and len(root.findall("testsuite/testcase")) == 1
    failure = case.find("failure")
    assert failure is not None and "</failure>" in (failure.text or "")
    assert "\x00" not in (case.get("name") or "") and "\ufffd" in (case.get("name") or "")


def test_empty_suite() -> None:
    suite = ET.fromstring(to_junit("empty", [])).find("testsuite")
    assert suite is not None and suite.get("tests") == "0" and suite.get("failures") == "0"


def test_contract_results_render_one_case_per_rule() -> None:
    frame = pl.DataFrame({"id": ["a", "b", "b"], "age": [30, 12, 40]})
    result = validate(frame, {"primary_key": "id", "columns": {"age": {"min": 18}}})
    suite = ET.fromstring(to_junit_xml(result)).find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    failed = {
        c.get("name"): c.find("failure") for c in suite.findall("testcase") if c.find("failure") is not None
    }
    assert set(failed) == {"primary_key", "age.min"}
    assert "row 1 key=b value=12" in (failed["age.min"].text or "")
