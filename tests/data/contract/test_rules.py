"""Every rule type: violations detected with exact counts, observed values and tolerances."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from mlward.data.contract import validate


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10"],
            "age": [25, 17, 40, None, 130, 33, 18, 65, 70, 22],
            "score": [0.5, 0.0, 1.0, 0.7, float("nan"), 0.2, 0.9, 0.1, 0.3, 0.4],
            "code": ["AB-1", "AB-2", "ab-3", "AB-4", "AB-5", "XX", "AB-7", "AB-8", "AB-9", "AB-10"],
            "purpose": ["car", "car", "home", "boat", "car", "home", "plane", "car", "home", "boat"],
            "income": [100.0, 200, 300, 400, 500, 600, 700, 800, 900, 1000],
            "loan": [150.0, 500, 100, 100, 100, 100, 100, 100, 100, 5000],
            "when": [f"2026-01-{d:02d}" for d in range(1, 10)] + ["not a date"],
            "text_int": ["1", "2", "x", "4", "5", "6", "7", "8.5", "9", "10"],
        }
    )


def _run(columns=None, data=None, **contract):
    return validate(
        data if data is not None else _frame(), {"primary_key": "id", "columns": columns or {}, **contract}
    )


def test_type_rule_counts_non_conforming_cells() -> None:
    result = _run({"text_int": {"type": "int"}, "when": {"type": "date"}, "code": {"type": "int"}})
    text_int = result.rule("text_int.type")
    assert (text_int.status, text_int.checked, text_int.failing) == ("fail", 10, 2)
    assert [e.row for e in text_int.examples] == [2, 7]
    assert [e.key for e in text_int.examples] == ["A3", "A8"]
    assert text_int.observed == {"dtypes": ["String"]}
    assert result.rule("when.type").failing == 1
    assert result.rule("code.type").failing == 10


def test_not_null_counts_nulls_nan_and_missing_values() -> None:
    frame = _frame().with_columns(
        pl.Series("note", ["ok", "", "N/A", None, "x", "ok", "ok", "ok", "ok", "ok"])
    )
    result = _run(
        {
            "age": {"nullable": False},
            "score": {"nullable": False},
            "note": {"nullable": False, "missing_values": ["", "N/A"]},
        },
        data=frame,
    )
    assert result.rule("age.not_null").failing == 1
    assert result.rule("age.not_null").examples[0].key == "A4"
    assert result.rule("score.not_null").failing == 1
    note = result.rule("note.not_null")
    assert (note.checked, note.failing, [e.row for e in note.examples]) == (10, 3, [1, 2, 3])


def test_bounds_with_exclusive_variants_and_observed_extremes() -> None:
    result = _run(
        {
            "age": {"type": "int", "min": 18, "max": 120},
            "score": {"exclusive_min": 0, "exclusive_max": 1},
            "when": {"type": "date", "min": "2026-01-03", "max": dt.date(2026, 1, 8)},
        }
    )
    minimum = result.rule("age.min")
    assert (minimum.checked, minimum.failing, minimum.observed) == (9, 1, {"min": 17, "max": 130})
    assert minimum.examples[0].value == "17"
    assert result.rule("age.max").failing == 1
    assert result.rule("score.exclusive_min").failing == 1  # 0.0; NaN is not checked
    assert result.rule("score.exclusive_max").failing == 1  # 1.0
    assert result.rule("score.exclusive_min").checked == 9
    assert result.rule("when.min").failing == 2
    assert result.rule("when.max").failing == 1
    assert result.rule("when.min").observed == {"min": "2026-01-01", "max": "2026-01-09"}


def test_allowed_values_tally_the_unexpected_ones() -> None:
    result = _run({"purpose": {"allowed": ["car", "home"]}, "age": {"allowed": [25, 40, 33, 65, 70, 22]}})
    purpose = result.rule("purpose.allowed")
    assert (purpose.failing, purpose.observed) == (3, {"unexpected": {"boat": 2, "plane": 1}})
    assert result.rule("age.allowed").failing == 3  # 17, 130, 18 (null not checked)


def test_regex_matches_whole_values() -> None:
    result = _run({"code": {"regex": r"AB-[0-9]+"}})
    regex = result.rule("code.regex")
    assert regex.failing == 2
    assert [e.value for e in regex.examples] == ["ab-3", "XX"]


def test_string_lengths() -> None:
    result = _run({"code": {"min_length": 3, "max_length": 4}})
    assert result.rule("code.min_length").failing == 1
    assert result.rule("code.max_length").failing == 1
    assert result.rule("code.min_length").observed == {"min_length": 2, "max_length": 5}


def test_uniqueness_single_compound_and_primary_key() -> None:
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "b", None, "e", "e"],
            "x": [1, 1, 2, 2, 3, 3],
            "y": ["p", "p", "q", "r", "s", "s"],
        }
    )
    result = validate(
        frame, {"primary_key": ["id"], "columns": {"x": {"unique": True}}, "unique": [["x", "y"]]}
    )
    key = result.rule("primary_key")
    assert (key.checked, key.failing, key.observed) == (
        6,
        3,
        {"duplicates": 2, "distinct": 3, "null_keys": 1},
    )
    assert [e.row for e in key.examples] == [2, 3, 5]
    assert result.rule("x.unique").failing == 3
    compound = result.rule("unique[x,y]")
    assert (compound.failing, [e.row for e in compound.examples]) == (2, [1, 5])


def test_row_count_bounds() -> None:
    assert _run(row_count={"min": 11}).rule("row_count").message == "10 rows, fewer than the minimum 11"
    assert not _run(row_count={"max": 9}).passed
    assert _run(row_count={"min": 10, "max": 10}).passed


def test_freshness_relative_to_a_given_time() -> None:
    stale = _run(
        {"when": {"type": "date"}}, freshness={"column": "when", "max_age": "2d", "now": "2026-01-15"}
    )
    fresh = _run(freshness={"column": "when", "max_age": "36h", "now": "2026-01-10T06:00:00Z"})
    rule = stale.rule("freshness")
    assert rule.status == "fail"
    assert rule.observed["latest"] == "2026-01-09T00:00:00"
    assert rule.observed["age_seconds"] == 6 * 86400
    assert fresh.rule("freshness").passed
    assert fresh.rule("freshness").observed["age"] == "1d 6h"


def test_freshness_uses_the_current_time_by_default() -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = pl.DataFrame({"seen": [now - dt.timedelta(hours=3), now - dt.timedelta(days=9)]})
    assert validate(frame, {"freshness": {"column": "seen", "max_age": "4h"}}).passed
    assert not validate(frame, {"freshness": {"column": "seen", "max_age": "2h"}}).passed


def test_cross_column_sql_rule() -> None:
    result = _run(rules=[{"name": "ltv", "sql": "loan <= income * 2 AND purpose <> 'plane'"}])
    rule = result.rule("rule.ltv")
    assert (rule.failing, [e.row for e in rule.examples]) == (3, [1, 6, 9])
    assert rule.examples[0].value == "income=200.0, loan=500.0, purpose=car"
    assert rule.columns == ("income", "loan", "purpose")


def test_cross_column_sql_rule_on_duckdb_gives_the_same_counts() -> None:
    sql = "loan <= income * 2 AND purpose <> 'plane'"
    polars_rule = _run(rules=[{"name": "ltv", "sql": sql}]).rule("rule.ltv")
    duck_rule = _run(rules=[{"name": "ltv", "sql": sql, "engine": "duckdb"}]).rule("rule.ltv")
    assert (duck_rule.failing, duck_rule.examples) == (polars_rule.failing, polars_rule.examples)


def test_mostly_tolerates_a_share_of_failures_per_rule() -> None:
    # age.min fails on 1 of 9 values: 8/9 = 0.889 pass.
    assert _run({"age": {"min": {"value": 18, "mostly": 0.88}}}).rule("age.min").passed
    assert not _run({"age": {"min": {"value": 18, "mostly": 0.9}}}).rule("age.min").passed
    column_default = _run({"age": {"min": 18, "max": 120, "mostly": 0.85}})
    assert column_default.passed and column_default.rule("age.max").mostly == 0.85
    contract_default = _run({"purpose": {"allowed": ["car", "home"]}}, mostly=0.7)
    assert contract_default.passed
    assert not _run({"purpose": {"allowed": ["car", "home"]}}, mostly=0.71).passed


def test_max_failing_tolerates_a_count() -> None:
    assert _run({"purpose": {"allowed": {"value": ["car", "home"], "max_failing": 3}}}).passed
    assert not _run({"purpose": {"allowed": {"value": ["car", "home"], "max_failing": 2}}}).passed


def test_missing_columns_fail_and_optional_ones_are_skipped() -> None:
    result = _run(
        {"gone": {"type": "int", "min": 0}, "maybe": {"type": "int", "required": False, "unique": True}}
    )
    assert result.rule("gone.present").status == "fail"
    assert result.rule("gone.type").status == "error"
    assert result.rule("maybe.present").status == "skipped"
    assert result.rule("maybe.type").status == "skipped"
    assert result.rule("maybe.unique").status == "skipped"
    assert result.failed_rules == 3


def test_extra_columns_forbidden() -> None:
    result = _run({"id": {}, "age": {}}, extra_columns="forbid")
    rule = result.rule("schema.extra_columns")
    assert rule.status == "fail"
    assert rule.observed["columns"] == ["code", "income", "loan", "purpose", "score", "text_int", "when"]


def test_a_rule_that_cannot_be_evaluated_fails_closed() -> None:
    result = _run(rules=[{"name": "bad", "sql": "purpose + 1 > 2"}])
    rule = result.rule("rule.bad")
    assert rule.status == "error" and not rule.passed
    assert rule.message.startswith("could not evaluate:")
    assert result.failed_rules == 1


def test_a_clean_table_passes_every_rule() -> None:
    frame = _frame().filter(pl.col("id").is_in(["A1", "A3", "A6", "A8", "A9"]))
    result = _run(
        {
            "id": {"type": "string", "nullable": False, "unique": True, "regex": "A[0-9]+"},
            "age": {"type": "int", "min": 18, "max": 120, "nullable": False},
            "purpose": {"type": "category", "allowed": ["car", "home"]},
            "when": {"type": "date"},
        },
        data=frame,
        row_count={"min": 5},
        rules=[{"name": "ltv", "sql": "loan <= income * 2"}],
    )
    assert result.passed and result.failed_rules == 0
    assert all(rule.status == "pass" for rule in result.rules)


@pytest.mark.parametrize("kind", ["pandas", "arrow", "polars"])
def test_accepts_pandas_arrow_and_polars(kind: str) -> None:
    frame = _frame()
    data = {"pandas": frame.to_pandas(), "arrow": frame.to_arrow(), "polars": frame}[kind]
    result = validate(data, {"columns": {"age": {"min": 18}}})
    assert result.rule("age.min").failing == 1
    assert result.source.startswith(f"<{kind if kind != 'arrow' else 'pyarrow'}.")
    assert result.engine == "in-memory"


def test_pandas_nan_and_datetime_columns() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2026-01-01", "2026-01-02", None]), "v": [1.0, math.nan, 3.0]})
    result = validate(
        frame, {"columns": {"t": {"type": "datetime", "nullable": False}, "v": {"nullable": False}}}
    )
    assert result.rule("t.type").failing == 0
    assert result.rule("t.not_null").failing == 1
    assert result.rule("v.not_null").failing == 1


def test_empty_table() -> None:
    table = pa.table({"a": pa.array([], pa.int64())})
    result = validate(table, {"row_count": {"min": 1}, "columns": {"a": {"min": 0}}})
    assert result.rows == 0
    assert result.rule("row_count").status == "fail"
    assert result.rule("a.min").passed
    assert "the data has no rows" in result.notes
