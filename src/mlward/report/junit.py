"""JUnit XML: the lowest common denominator of CI test dashboards.

Any check that produces named pass/fail outcomes (contract rules, pipeline stages and
gates, scans) renders through ``to_junit``: one ``<testsuite>`` with one ``<testcase>``
per outcome, a ``<failure>`` element on the failed ones. Jenkins, GitLab, GitHub
Actions reporters and Azure DevOps all read this shape.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

JunitCase = tuple[str, bool, str, str]
"""``(name, passed, message, details)`` of one test case."""

# Characters XML 1.0 cannot carry at all; data values in messages may contain them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def to_junit(suite_name: str, cases: Iterable[JunitCase]) -> str:
    """Render ``(name, passed, message, details)`` cases as a JUnit XML document.

    ``message`` becomes the failure's ``message`` attribute (one line) and ``details``
    its text; both are ignored for passed cases, whose ``details`` go to
    ``<system-out>`` when not empty. The suite's ``tests`` and ``failures`` counts
    are filled in; characters XML cannot represent are replaced with U+FFFD.
    """
    items = list(cases)
    failures = sum(1 for _, passed, _, _ in items if not passed)
    root = ET.Element("testsuites", name=_clean(suite_name), tests=str(len(items)), failures=str(failures))
    suite = ET.SubElement(
        root,
        "testsuite",
        name=_clean(suite_name),
        tests=str(len(items)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for name, passed, message, details in items:
        case = ET.SubElement(suite, "testcase", name=_clean(name), classname=_clean(suite_name))
        if not passed:
            first_line = (message or "failed").splitlines()[0] if message else "failed"
            failure = ET.SubElement(case, "failure", message=_clean(first_line), type="failure")
            failure.text = _clean(details or message or "")
        elif details:
            ET.SubElement(case, "system-out").text = _clean(details)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
