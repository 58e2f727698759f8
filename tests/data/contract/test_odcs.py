"""ODCS v3 import, tested on the standard's own examples (tests/fixtures/odcs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml

from mlward.core.errors import ConfigError
from mlward.data.contract import import_odcs, validate
from mlward.data.contract.loader import read_contract_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "odcs"
EXAMPLES = sorted(FIXTURES.glob("*.odcs.yaml"))


def _unmapped(imported) -> dict[str, str]:
    return {item.path: item.reason for item in imported.unmapped}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_imports_and_round_trips_through_yaml(path: Path, tmp_path: Path) -> None:
    imported = import_odcs(path)
    assert imported.contracts and imported.api_version and imported.api_version.startswith("v3")
    written = tmp_path / "contracts.yaml"
    written.write_text(imported.to_yaml())
    header = written.read_text().splitlines()[0]
    assert header.startswith(f"# Imported from {path}")
    for name, contract in imported.contracts.items():
        assert read_contract_file(written, name) == (name, contract)


def test_full_example() -> None:
    imported = import_odcs(FIXTURES / "full-example.odcs.yaml")
    assert set(imported.contracts) == {"tbl", "receivers"}
    tbl = imported.contracts["tbl"]
    assert list(tbl.columns) == ["txn_ref_dt", "rcvr_id", "rcvr_cntry_code"]  # physical names
    assert tbl.primary_key == ["rcvr_id"]
    assert tbl.row_count is not None and (tbl.row_count.min, tbl.row_count.max) == (1_000_001, None)
    country = tbl.columns["rcvr_cntry_code"]
    assert country.nullable is not None and country.nullable.value is False
    assert country.max_length is not None and country.max_length.value == 2  # varchar(2)
    assert tbl.columns["rcvr_id"].sensitivity == "restricted" and tbl.columns["rcvr_id"].sensitive
    assert tbl.columns["txn_ref_dt"].type == "date"
    receivers = imported.contracts["receivers"]
    assert receivers.primary_key == ["id", "country_code"]
    assert receivers.columns["id"].unique is not None
    assert tbl.version == "1.1.0" and tbl.description == "Provides core payment metrics"
    unmapped = _unmapped(imported)
    assert unmapped["schema[0].properties[1].relationships"] == "referential integrity is not checked"
    assert unmapped["schema[0].properties[2].encryptedName"] == "the encrypted column is not checked"
    assert "tab1.txn_ref_dt" in unmapped["slaProperties[0]"]  # the element names no schema object
    assert unmapped["servers"] == "informational, not a data check"
    assert len(imported.unmapped) == 18


def test_all_data_types() -> None:
    imported = import_odcs(FIXTURES / "all-data-types.odcs.yaml")
    table = imported.contracts["transactions_tbl"]
    columns = table.columns
    assert {n: c.type for n, c in columns.items()} == {
        "account_id": "string",
        "txn_ref_date": "date",
        "txn_timestamp": "datetime",
        "amount": "float",
        "age": "int",
        "is_open": "bool",
        "latest_txns": None,
        "customer_details": None,
    }
    assert columns["txn_ref_date"].exclusive_min.value == dt.date(2020, 1, 1)
    assert columns["txn_timestamp"].min.value == dt.datetime(2020, 1, 1)
    assert columns["age"].exclusive_max.value == 100 and columns["age"].min.value == 18
    assert (columns["account_id"].min_length.value, columns["account_id"].max_length.value) == (11, 11)
    unmapped = _unmapped(imported)
    assert unmapped["schema[0].properties[6].logicalTypeOptions.uniqueItems"] == "array items are not checked"
    assert unmapped["schema[0].properties[3].logicalTypeOptions.format"] == "format 'f32' is not checked"
    # The ODCS pattern matches anywhere in a value (ECMA-262), as the imported regex does.
    accounts = pl.DataFrame({"account_id": ["ACC12345678", "xACC12345678", "ACC1234567X"]})
    rule = validate(accounts, table.model_copy(update={"columns": {"account_id": columns["account_id"]}}))
    assert rule.rule("account_id.regex").failing == 1
    assert rule.rule("account_id.max_length").failing == 1


def test_enum_contract_validates_orders() -> None:
    orders = import_odcs(FIXTURES / "enum.odcs.yaml").contracts["orders"]
    assert orders.columns["status"].allowed.value == ["pending", "processing", "shipped", "cancelled"]
    assert orders.columns["priority"].allowed.value == [1, 2, 3]
    clean = pl.DataFrame(
        {
            "order_id": ["o1", "o2"],
            "status": ["pending", "shipped"],
            "priority": [1, None],
            "country_code": ["US", "MX"],
        }
    )
    assert validate(clean, orders).passed
    dirty = clean.vstack(
        pl.DataFrame({"order_id": ["o1"], "status": ["lost"], "priority": [7], "country_code": [None]})
    )
    result = validate(dirty, orders)
    assert {r.rule_id for r in result.failures} == {
        "primary_key",
        "status.allowed",
        "priority.allowed",
        "country_code.not_null",
    }


def test_quality_examples() -> None:
    validity = import_odcs(FIXTURES / "column-validity.odcs.yaml").contracts["Air_Quality"]
    allowed = validity.columns["air_quality_status"].allowed
    assert allowed is not None and (allowed.value, allowed.mostly) == (["", "n/a"], 0.95)
    completeness = import_odcs(FIXTURES / "column-completeness.odcs.yaml").contracts["Air_Quality"]
    assert completeness.columns["UniqueID"].nullable.value is False
    accuracy = import_odcs(FIXTURES / "column-accuracy.odcs.yaml").contracts["Air_Quality"]
    assert (accuracy.columns["DataValue"].min.value, accuracy.columns["DataValue"].max.value) == (0, 500)
    custom = import_odcs(FIXTURES / "column-custom.odcs.yaml")
    assert [u.reason for u in custom.unmapped] == ["custom soda rules are not run by mlward"] * 2


def test_library_metrics_thresholds_and_sla_latency() -> None:
    null_share = {"metric": "nullValues", "mustBeLessThan": 1, "unit": "percent"}
    missing = {
        "metric": "missingValues",
        "arguments": {"missingValues": [None, "", "N/A"]},
        "mustBeLessThan": 100,
    }
    iban = {
        "metric": "invalidValues",
        "mustBe": 0,
        "arguments": {"pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"},
    }
    document = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "schema": [
            {
                "name": "orders",
                "quality": [
                    {"metric": "rowCount", "mustBeBetween": [100, 120]},
                    {"metric": "duplicateValues", "mustBe": 0, "arguments": {"properties": ["tenant", "id"]}},
                    {"type": "sql", "query": "SELECT COUNT(*) FROM {object}", "mustBeLessThan": 5},
                ],
                "properties": [
                    {"name": "status", "quality": [null_share]},
                    {
                        "name": "email",
                        "quality": [missing, {"metric": "duplicateValues", "mustBeLessOrEqualTo": 10}],
                    },
                    {"name": "iban", "quality": [iban]},
                    {
                        "name": "ts",
                        "logicalType": "timestamp",
                        "quality": [{"type": "text", "description": "recent"}],
                    },
                ],
            }
        ],
        "slaProperties": [{"property": "latency", "value": 36, "unit": "hours", "element": "orders.ts"}],
    }
    imported = import_odcs(document)
    orders = imported.contracts["orders"]
    assert orders.row_count is not None and (orders.row_count.min, orders.row_count.max) == (101, 119)
    assert orders.unique[0].columns == ["tenant", "id"] and orders.unique[0].max_failing == 0
    assert orders.columns["status"].nullable.mostly == 0.99
    email = orders.columns["email"]
    assert (email.nullable.max_failing, email.missing_values) == (99, ["", "N/A"])
    assert email.unique.max_failing == 10
    assert orders.columns["iban"].regex.value == "[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}"
    assert orders.freshness is not None and orders.freshness.max_age == dt.timedelta(hours=36)
    assert _unmapped(imported) == {
        "schema[0].quality[2]": (
            "SQL quality queries return aggregates; write a row rule under rules: instead"
        ),
        "schema[0].properties[3].quality[0]": "a text rule describes quality in words; nothing to check",
    }


@pytest.mark.parametrize(
    "document",
    [
        {"kind": "DataContract", "apiVersion": "v2.2.2", "schema": [{"name": "x"}]},
        {"kind": "DataProduct", "apiVersion": "v3.0.0", "schema": [{"name": "x"}]},
        {"kind": "DataContract", "apiVersion": "v3.0.0"},
    ],
)
def test_non_odcs_v3_documents_are_refused(document: dict) -> None:
    with pytest.raises(ConfigError):
        import_odcs(document)


def test_yaml_header_lists_unmapped(tmp_path: Path) -> None:
    text = import_odcs(FIXTURES / "column-custom.odcs.yaml").to_yaml()
    assert "# Not mapped (2):" in text
    body = yaml.safe_load(text)
    assert body["contracts"]["Air_Quality"]["primary_key"] == ["UniqueID"]
