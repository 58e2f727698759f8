"""PII in contracts: protection verified with the real anonymizer, values never shown raw."""

from __future__ import annotations

import json
import os

import polars as pl
import pyarrow as pa
import pytest

from mlward.data.contract import validate
from mlward.data.contract.display import redact_text
from mlward.data.contract.format import to_json, to_junit_xml
from mlward.data.pii.anonymizer import Anonymizer

PROTECTED = {
    "email": {"pii": "EMAIL", "protection": "hash"},
    "ssn": {"pii": "US_SSN", "protection": "tokenize"},
    "card_number": {"pii": "CREDIT_CARD", "protection": "fpe"},
    "phone": {"pii": "PHONE", "protection": "mask"},
}


@pytest.fixture(scope="module")
def protected(demo_table: pa.Table) -> pa.Table:
    policy = {
        "by_column": {
            "email": "hash",
            "ssn": "tokenize",
            "card_number": {"action": "fpe", "luhn": True},
            "phone": "mask",
        },
        "default_action": None,
    }
    raw = demo_table.slice(0, 400)
    return Anonymizer(policy, os.urandom(32)).fit(raw).transform(raw)


def test_protected_columns_pass(protected: pa.Table) -> None:
    result = validate(protected, {"primary_key": "application_id", "columns": PROTECTED})
    assert result.passed, [r.message for r in result.failures]
    assert result.rule("email.protected").observed == {"recorded_protection": ["hash"]}
    assert result.rule("email.protected").checked == 400


def test_raw_pii_in_a_protected_column_fails_with_masked_examples(demo_table: pa.Table) -> None:
    raw = demo_table.slice(0, 400)
    result = validate(raw, {"primary_key": "application_id", "columns": PROTECTED})
    email = result.rule("email.protected")
    assert (email.status, email.failing, email.checked) == ("fail", 400, 400)
    first = raw.column("email")[0].as_py()
    assert email.examples[0].key == "APP-0000001"
    assert email.examples[0].value != first and "***@" in email.examples[0].value
    assert result.rule("ssn.protected").failing == 400
    assert result.rule("phone.protected").failing == 400
    # FF3-1 output looks like a real card number: only recorded metadata can prove it.
    assert result.rule("card_number.protected").status == "error"


def test_some_raw_values_left_behind_are_counted(protected: pa.Table, demo_table: pa.Table) -> None:
    emails = protected.column("email").to_pylist()
    leaked = [2, 50, 51]
    for row in leaked:
        emails[row] = demo_table.column("email")[row].as_py()
    index = protected.schema.get_field_index("email")
    mixed = protected.set_column(index, protected.schema.field("email"), pa.array(emails))
    rule = validate(mixed, {"columns": {"email": PROTECTED["email"]}}).rule("email.protected")
    assert (rule.failing, [e.row for e in rule.examples]) == (3, leaked)


def test_a_different_recorded_protection_fails(protected: pa.Table) -> None:
    contract = {"columns": {"email": {"pii": "EMAIL", "protection": "tokenize"}}}
    rule = validate(protected, contract).rule("email.protected")
    assert rule.status == "fail"
    assert rule.message == "column 'email' was protected with hash, expected tokenize"


def test_sensitivity_without_an_entity_runs_every_detector() -> None:
    frame = pl.DataFrame({"notes": ["call me", "ssn 123-45-6789 on file", "ok", "mail ada@example.org"]})
    rule = validate(
        frame, {"columns": {"notes": {"sensitivity": "restricted", "protection": "redact"}}}
    ).rule("notes.protected")
    assert (rule.failing, [e.row for e in rule.examples]) == (2, [1, 3])
    assert "123-45-6789" not in json.dumps([e.value for e in rule.examples])


def test_dropped_columns_must_be_absent(demo_table: pa.Table) -> None:
    contract = {"columns": {"ssn": {"pii": "US_SSN", "protection": "drop"}}}
    assert validate(demo_table.drop_columns(["ssn"]), contract).passed
    present = validate(demo_table, contract).rule("ssn.dropped")
    assert present.status == "fail" and "should have been dropped" in present.message


def test_failing_values_are_masked_in_every_format(demo_table: pa.Table) -> None:
    contract = {
        "primary_key": "email",  # a sensitive key is masked too
        "columns": {
            "email": {"regex": "nobody@nowhere"},  # undeclared: detected as e-mail and masked
            "ssn": {"sensitivity": "restricted", "max_length": 3},
            "date_of_birth": {"type": "date", "pii": "DATE_OF_BIRTH", "min": "1990-01-01"},
            "first_name": {"allowed": ["Zed"]},  # the name of the column suggests a person
        },
    }
    table = demo_table.slice(0, 200)
    result = validate(table, contract)
    assert not result.passed
    outputs = to_json(result) + to_junit_xml(result)
    for column in ("email", "ssn", "date_of_birth", "first_name"):
        for value in table.column(column).to_pylist()[:200]:
            assert str(value) not in outputs, f"raw {column} value leaked"
    ssn = result.rule("ssn.max_length").examples[0]
    assert ssn.value.startswith("***-**-")  # the PII masking keeps only the last four digits
    assert result.rule("date_of_birth.min").observed["min"].count("*") >= 8


def test_error_messages_are_scrubbed() -> None:
    text = redact_text("conversion failed for 'ada.lovelace@example.org' and 4111 1111 1111 1111")
    assert "ada.lovelace@example.org" not in text and "4111 1111 1111 1111" not in text
    assert "***@" in text
