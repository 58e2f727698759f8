"""Inference round trip: infer from data, the same data passes, a corrupted copy fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from mlward.data.contract import Contract, infer_contract, validate
from mlward.data.contract.infer import shape_regex


@pytest.fixture(scope="module")
def inferred(demo_csv: Path) -> Contract:
    return infer_contract(demo_csv)


def test_inferred_contract_describes_the_demo_data(inferred: Contract) -> None:
    columns = inferred.columns
    assert inferred.primary_key == ["application_id"]
    assert columns["application_id"].unique is not None
    assert columns["application_id"].regex is not None
    assert columns["application_id"].regex.value == "[A-Z]{3}-[0-9]{7}"
    assert columns["age"].type == "int"
    assert columns["age"].min.value <= 21 and columns["age"].max.value >= 74
    assert columns["age"].min.value >= 15  # widened by 10 % of the range, not more
    assert columns["income"].type == "float" and columns["income"].min.value >= 0
    assert columns["term_months"].allowed.value == [36, 60]
    assert columns["state"].type == "category" and len(columns["state"].allowed.value) == 10
    assert columns["application_date"].type == "date"
    assert columns["email"].pii == "EMAIL" and columns["email"].sensitivity == "confidential"
    assert columns["ssn"].pii == "US_SSN" and columns["ssn"].regex.value == "[0-9]{3}-[0-9]{2}-[0-9]{4}"
    assert all(spec.nullable is not None for spec in columns.values())  # the demo has no nulls
    assert inferred.row_count is not None and inferred.row_count.min == 1


def test_no_personal_data_is_copied_into_the_contract(
    inferred: Contract, demo_rows: list[dict[str, Any]]
) -> None:
    text = yaml.safe_dump(inferred.to_yaml_dict())
    for column in ("email", "ssn", "first_name", "last_name", "date_of_birth", "card_number", "phone"):
        assert inferred.columns[column].allowed is None
        assert inferred.columns[column].min is None
        for row in demo_rows[:300]:
            assert str(row[column]) not in text


def test_same_data_passes(inferred: Contract, demo_csv: Path) -> None:
    result = validate(demo_csv, inferred)
    assert result.passed, [r.message for r in result.failures]


def test_corrupted_copy_fails(
    inferred: Contract, demo_rows: list[dict[str, Any]], tmp_path: Path, csv_writer: Any
) -> None:
    rows = [dict(row) for row in demo_rows]
    rows[3]["age"] = 150
    rows[4]["purpose"] = "crypto"
    rows[5]["application_id"] = rows[6]["application_id"]
    rows[7]["term_months"] = 48
    rows[8]["ssn"] = "123456789"
    rows[9]["credit_score"] = ""
    result = validate(csv_writer(tmp_path / "corrupted.csv", rows), inferred)
    failed = {r.rule_id: r for r in result.failures}
    assert set(failed) == {
        "age.max",
        "purpose.allowed",
        "primary_key",
        "application_id.unique",
        "term_months.allowed",
        "ssn.regex",
        "credit_score.not_null",
    }
    assert failed["purpose.allowed"].observed == {"unexpected": {"crypto": 1}}
    assert failed["age.max"].examples[0].row == 3


def test_inference_from_memory_and_options() -> None:
    frame = pl.DataFrame(
        {
            "order_id": [f"o-{i}" for i in range(50)],
            "amount": [float(i) for i in range(50)],
            "flag": [True, False] * 25,
            "note": [None] * 50,
            "uuid": ["123e4567-e89b-12d3-a456-42661417400" + str(i % 10) for i in range(50)],
        }
    )
    contract = infer_contract(frame, margin=0.5, detect_pii=False)
    assert contract.columns["amount"].min.value == 0 and contract.columns["amount"].max.value == 73.5
    assert contract.columns["flag"].type == "bool"
    assert contract.columns["note"].type is None and contract.columns["note"].nullable is None
    assert contract.columns["uuid"].regex.value.startswith("[0-9a-fA-F]{8}-")
    assert contract.primary_key == ["order_id"]
    assert validate(frame, contract).passed


def test_shape_regex() -> None:
    assert shape_regex("AAA-9999999") == "[A-Z]{3}-[0-9]{7}"
    assert shape_regex("(999) 999-9999") == r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}"
    assert shape_regex("Aa9.") == r"[A-Z][a-z][0-9]\."
