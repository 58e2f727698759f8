"""PII in contracts: protection verified with the real anonymizer, values never shown raw."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlward.data.contract import validate
from mlward.data.contract.display import redact_text
from mlward.data.contract.format import to_json, to_junit_xml
from mlward.data.pii.anonymizer import Anonymizer, protect
from mlward.data.pii.scanner import PROTECTION_METADATA_KEY
from mlward.data.pii.seal import SEAL_METADATA_KEY
from mlward.workspace import Workspace

PROTECTED = {
    "email": {"pii": "EMAIL", "protection": "hash"},
    "ssn": {"pii": "US_SSN", "protection": "tokenize"},
    "card_number": {"pii": "CREDIT_CARD", "protection": "fpe"},
    "phone": {"pii": "PHONE", "protection": "mask"},
}
KEY = os.urandom(32)


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
    return Anonymizer(policy, KEY).fit(raw).transform(raw)


def test_protected_columns_pass(protected: pa.Table) -> None:
    contract = {"primary_key": "application_id", "columns": PROTECTED}
    result = validate(protected, contract, keys=[KEY])
    assert result.passed, [r.message for r in result.failures]
    assert result.rule("email.protected").observed == {"recorded_protection": ["hash"], "seal_verified": True}
    assert result.rule("email.protected").checked == 400
    # FF3-1 card numbers read as card numbers: without the key the seal proves nothing.
    unkeyed = validate(protected, contract)
    assert [r.rule_id for r in unkeyed.failures] == ["card_number.protected"]


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
    # No metadata, no seal: raw card numbers are raw, whatever the expected action.
    assert result.rule("card_number.protected").failing == 400


def test_an_fpe_column_without_a_seal_or_detected_pii_cannot_be_verified() -> None:
    frame = pl.DataFrame({"code": ["x-1", "x-2", None]})
    rule = validate(frame, {"columns": {"code": {"pii": "US_SSN", "protection": "fpe"}}}).rule(
        "code.protected"
    )
    assert (rule.status, rule.checked, rule.failing) == ("error", 2, 0)
    assert "no seal that verifies" in rule.message


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


# --- Seals: recorded protection counts only where the workspace key verifies it ---------

SSN_FPE = {"columns": {"ssn": {"pii": "US_SSN", "protection": "fpe"}}}


@pytest.fixture
def sealed(tmp_path: Path, workspace: Workspace, demo_table: pa.Table) -> tuple[Path, pa.Table]:
    """A real ``protect`` output (FF3-1 SSNs, sealed with the workspace key) and its raw source."""
    raw = demo_table.slice(0, 300).select(["application_id", "ssn"])
    source, output = tmp_path / "raw.parquet", tmp_path / "protected.parquet"
    pq.write_table(raw, source)
    protect(source, {"by_column": {"ssn": "fpe"}, "default_action": None}, workspace.keys.data_key(), output)
    return output, raw


def _keys(workspace: Workspace) -> list[bytes]:
    return list(workspace.keys.data_keys().values())


def _rewrite(path: Path, table: pa.Table, footer: dict[bytes, bytes]) -> Path:
    """Write ``table`` with extra footer metadata (where ``protect`` puts its seals)."""
    writer = pq.ParquetWriter(path, table.schema)
    writer.write_table(table)
    writer.add_key_value_metadata(footer)
    writer.close()
    return path


def test_a_forged_protection_flag_on_raw_ssns_fails(
    tmp_path: Path, workspace: Workspace, demo_table: pa.Table
) -> None:
    raw = demo_table.slice(0, 300).select(["ssn"])
    claim = {"action": "fpe", "mode": "column", "entity": "US_SSN", "params": {}, "key_id": None}
    field = pa.field("ssn", pa.string(), metadata={PROTECTION_METADATA_KEY: json.dumps(claim).encode()})
    forged = pa.Table.from_arrays(raw.columns, schema=pa.schema([field]))
    flag_only = tmp_path / "flag.parquet"
    pq.write_table(forged, flag_only)
    bad_seal = _rewrite(
        tmp_path / "seal.parquet", forged, {SEAL_METADATA_KEY: b'{"ssn": "' + b"0" * 64 + b'"}'}
    )
    for data in (flag_only, bad_seal, forged):
        for keys in (None, _keys(workspace)):
            rule = validate(data, SSN_FPE, keys=keys).rule("ssn.protected")
            assert (rule.status, rule.failing, rule.checked) == ("fail", 300, 300), (data, keys)
            assert rule.observed == {"recorded_protection": ["fpe"], "seal_verified": False}


def test_a_sealed_protect_output_passes_with_the_workspace_key(
    sealed: tuple[Path, pa.Table], workspace: Workspace
) -> None:
    output, raw = sealed
    assert not set(raw.column("ssn").to_pylist()) & set(pq.read_table(output).column("ssn").to_pylist())
    rule = validate(output, SSN_FPE, keys=_keys(workspace)).rule("ssn.protected")
    assert (rule.status, rule.checked) == ("pass", 300), rule.message
    assert rule.observed == {"recorded_protection": ["fpe"], "seal_verified": True}
    # Without the key the seal cannot be checked: FF3-1 SSNs read as raw SSNs.
    assert validate(output, SSN_FPE).rule("ssn.protected").status == "fail"


def test_editing_a_sealed_column_fails(sealed: tuple[Path, pa.Table], workspace: Workspace) -> None:
    output, raw = sealed
    protected = pq.read_table(output)
    values = protected.column("ssn").to_pylist()
    values[7] = raw.column("ssn")[7].as_py()  # one raw SSN slipped back in
    index = protected.schema.get_field_index("ssn")
    edited = protected.set_column(index, protected.schema.field("ssn"), pa.array(values, pa.string()))
    footer = {SEAL_METADATA_KEY: pq.read_metadata(output).metadata[SEAL_METADATA_KEY]}
    path = _rewrite(output.parent / "edited.parquet", edited, footer)
    rule = validate(path, SSN_FPE, keys=_keys(workspace)).rule("ssn.protected")
    assert rule.status == "fail" and rule.failing > 0
    assert rule.observed["seal_verified"] is False
