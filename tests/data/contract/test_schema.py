"""Contract YAML: shorthands, loading from mlward.yaml and files, errors naming key paths."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from mlward.core.config import parse_config
from mlward.core.errors import ConfigError, NotFound
from mlward.data.contract import Contract, load_contract, parse_contracts, resolve_contract
from mlward.data.contract.values import parse_duration

MLWARD_YAML = """
version: 1
project: demo
contracts:
  applications:
    primary_key: application_id
    columns:
      application_id: string
      age: {type: int, min: 18, max: {value: 120, mostly: 0.99}}
    freshness: {column: application_date, max_age: 7d}
    unique:
      - [first_name, last_name]
"""


def _error(raw: dict, source: str = "mlward.yaml") -> str:
    with pytest.raises(ConfigError) as caught:
        parse_contracts(raw, source)
    return str(caught.value)


def test_contracts_section_of_mlward_yaml_parses_with_shorthands() -> None:
    config = parse_config(MLWARD_YAML, environ={})
    contract = parse_contracts(config.contracts, "mlward.yaml")["applications"]
    assert contract.primary_key == ["application_id"]
    assert contract.columns["application_id"].type == "string"
    assert contract.columns["age"].min is not None and contract.columns["age"].min.value == 18
    assert contract.columns["age"].max is not None and contract.columns["age"].max.mostly == 0.99
    assert contract.freshness is not None and contract.freshness.max_age == dt.timedelta(days=7)
    assert contract.unique[0].columns == ["first_name", "last_name"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"applications": {"columns": {"age": {"type": "int", "min": "eighteen"}}}},
            "mlward.yaml: contracts.applications.columns.age.min: "
            "Value error, expected a number for this int column (got 'eighteen')",
        ),
        (
            {"applications": {"columns": {"age": {"minimum": 3}}}},
            "mlward.yaml: contracts.applications.columns.age.minimum: unknown key",
        ),
        (
            {"applications": {"columns": {"age": {"type": "integer"}}}},
            "mlward.yaml: contracts.applications.columns.age.type: Input should be 'int', 'float'",
        ),
        (
            {"applications": {"columns": {"age": {"min": {"value": 3, "mostly": 1.5}}}}},
            "mlward.yaml: contracts.applications.columns.age.min.mostly: "
            "Input should be less than or equal to 1",
        ),
        (
            {"applications": {"columns": {"code": {"regex": "([a-z]"}}}},
            "mlward.yaml: contracts.applications.columns.code.regex: Value error, invalid regular expression",
        ),
        (
            {"applications": {"columns": {"when": {"type": "date", "max": "yesterday"}}}},
            "mlward.yaml: contracts.applications.columns.when.max: Value error, expected an ISO 8601 date",
        ),
        (
            {"applications": {"freshness": {"column": "t", "max_age": "soon"}}},
            "mlward.yaml: contracts.applications.freshness.max_age: Value error, expected a duration",
        ),
        (
            {"applications": {"row_count": {"min": 10, "max": 5}}},
            "mlward.yaml: contracts.applications.row_count: Value error, min is greater than max",
        ),
        (
            {"applications": {"columns": {"email": {"pii": "EMAILS"}}}},
            "mlward.yaml: contracts.applications.columns.email.pii: Input should be 'EMAIL'",
        ),
        (
            {"applications": {"rules": [{"name": "r", "sql": "a <="}]}},
            "mlward.yaml: contracts.applications.rules[0].sql: Value error, not a valid SQL expression",
        ),
    ],
)
def test_errors_name_the_key_path(raw: dict, expected: str) -> None:
    assert _error(raw).startswith(expected)


@pytest.mark.parametrize(
    "sql",
    [
        "a IN (SELECT x FROM read_csv('/etc/passwd'))",
        "a > (SELECT max(x) FROM read_parquet('/tmp/secret.parquet'))",
        "a > 1; DROP TABLE data",
        "a IN (WITH t AS (SELECT 1) SELECT * FROM t)",
    ],
)
def test_sql_rules_cannot_be_queries(sql: str) -> None:
    message = _error({"c": {"rules": [{"name": "sneaky", "sql": sql}]}})
    assert "contracts.c.rules[0].sql" in message and "not a query" in message


def test_sql_keywords_inside_string_literals_are_fine() -> None:
    contracts = parse_contracts(
        {"c": {"rules": [{"name": "ok", "sql": "purpose <> 'select from; with'"}]}}, "x"
    )
    assert contracts["c"].rules[0].sql == "purpose <> 'select from; with'"


def test_duplicate_rule_names_are_refused() -> None:
    message = _error({"c": {"rules": [{"name": "r", "sql": "a > 1"}, {"name": "r", "sql": "a < 9"}]}})
    assert "duplicate rule names ['r']" in message


def test_contract_files_single_and_several(tmp_path: Path) -> None:
    single = tmp_path / "loans.yaml"
    single.write_text("columns:\n  age: {type: int, min: 18}\n")
    several = tmp_path / "all.yaml"
    several.write_text(yaml.safe_dump({"contracts": {"a": {"columns": {"x": "int"}}, "b": {"columns": {}}}}))
    assert resolve_contract(str(single))[0] == "loans"
    assert load_contract(several, "a").columns["x"].type == "int"
    assert resolve_contract(f"{several}#b")[0] == "b"
    with pytest.raises(ConfigError, match="holds several contracts"):
        load_contract(several)
    with pytest.raises(NotFound, match="no contract named 'c'"):
        load_contract(several, "c")


def test_bad_contract_files_name_file_and_key(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("columns:\n  age: {type: int\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: invalid YAML at line \d+"):
        load_contract(broken)
    typo = tmp_path / "typo.yaml"
    typo.write_text("columns:\n  age: {type: int, nulable: false}\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: columns.age.nulable: unknown key"):
        load_contract(typo)
    with pytest.raises(NotFound, match="no contract named"):
        load_contract(tmp_path / "absent.yaml")


def test_contracts_from_a_workspace(workspace) -> None:
    text = workspace.config_path.read_text() + "\n" + MLWARD_YAML.split("project: demo\n")[1]
    workspace.config_path.write_text(text)
    from mlward.workspace import Workspace

    reopened = Workspace.open(workspace.root)
    name, contract = resolve_contract("applications", reopened)
    assert name == "applications" and contract.columns["age"].type == "int"
    reopened.config.contracts["broken"] = {"columns": {"age": {"type": "int", "min": "x"}}}
    with pytest.raises(ConfigError, match=r"mlward.yaml: contracts.broken.columns.age.min: "):
        resolve_contract("broken", reopened)
    reopened.close()


def test_round_trip_to_yaml_keeps_tolerances() -> None:
    contract = Contract.model_validate(
        {
            "columns": {"age": {"type": "int", "min": {"value": 18, "max_failing": 2}, "max": 99}},
            "mostly": 0.9,
        }
    )
    dumped = contract.to_yaml_dict()
    assert dumped == {
        "columns": {"age": {"type": "int", "min": {"value": 18, "max_failing": 2}, "max": 99}},
        "mostly": 0.9,
    }
    assert Contract.model_validate(yaml.safe_load(yaml.safe_dump(dumped))) == contract


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("36h", 129600),
        ("7d", 604800),
        ("90m", 5400),
        ("2w", 1209600),
        ("45s", 45),
        ("P1DT2H", 93600),
        (60, 60),
    ],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_workspace_contract_inline_or_a_file_inside_the_workspace(workspace, tmp_path: Path) -> None:
    from mlward.data.contract import workspace_contract

    (workspace.root / "contracts").mkdir()
    (workspace.root / "contracts" / "loans.yaml").write_text("columns:\n  age: {type: int, min: 18}\n")
    outside = tmp_path / "outside.yaml"
    outside.write_text("columns:\n  age: {type: int}\n")
    workspace.config.contracts.update(
        {
            "inline": {"columns": {"age": "int"}},
            "file": "contracts/loans.yaml",
            "escape": "../outside.yaml",
            "absolute": str(outside),
        }
    )
    assert workspace_contract(workspace, "inline").columns["age"].type == "int"
    assert workspace_contract(workspace, "file").columns["age"].type == "int"
    assert resolve_contract("file", workspace)[0] == "file"  # the validate door uses the same rule
    for name in ("escape", "absolute"):
        refused = f"contracts.{name}: the contract file .* is outside the workspace"
        with pytest.raises(ConfigError, match=refused):
            workspace_contract(workspace, name)
    with pytest.raises(NotFound, match="no contract named 'absent'"):
        workspace_contract(workspace, "absent")
