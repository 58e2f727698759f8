"""Demo loan applications (examples/credit-risk generator), written once per session."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMO_ROWS = 3000
NOW = "2026-06-02T00:00:00"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "credit_risk_data", ROOT / "examples/credit-risk/generate_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def demo_contract() -> dict[str, Any]:
    """A contract the clean demo data passes (written by hand from the generator's logic)."""
    return {
        "description": "Loan applications",
        "primary_key": ["application_id"],
        "row_count": {"min": 100, "max": 1_000_000},
        "freshness": {"column": "application_date", "max_age": "7d", "now": NOW},
        "columns": {
            "application_id": {"type": "string", "nullable": False, "unique": True, "regex": r"APP-[0-9]{7}"},
            "email": {"type": "string", "pii": "EMAIL", "regex": r"[^@\s]+@[^@\s]+\.[a-z]+"},
            "ssn": {"type": "string", "pii": "US_SSN", "sensitivity": "restricted"},
            "state": {
                "type": "category",
                "allowed": ["CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI"],
            },
            "date_of_birth": {"type": "date", "pii": "DATE_OF_BIRTH", "max": "2010-01-01"},
            "application_date": {"type": "date", "nullable": False},
            "gender": {"type": "category", "allowed": ["F", "M"]},
            "age": {"type": "int", "nullable": False, "min": 21, "max": 74},
            "income": {"type": "float", "exclusive_min": 0},
            "loan_amount": {"type": "float", "min": 1000, "max": 100_000},
            "term_months": {"type": "int", "allowed": [36, 60]},
            "credit_score": {"type": "int", "min": 300, "max": 850},
            "purpose": {"type": "category", "min_length": 3, "max_length": 20},
            "default": {"type": "int", "allowed": [0, 1]},
        },
        "unique": [["application_id", "email"]],
        "rules": [{"name": "loan_to_income", "sql": "loan_amount <= income * 10"}],
    }


@pytest.fixture(scope="session")
def demo_rows() -> list[dict[str, Any]]:
    return _generator().generate(DEMO_ROWS, 20261128)


@pytest.fixture(scope="session")
def demo_table(demo_rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(demo_rows)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Rows as CSV with the generator's column order."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def csv_writer() -> Any:
    """``write_csv`` for tests that write their own variants of the demo rows."""
    return write_csv


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory: pytest.TempPathFactory, demo_rows: list[dict[str, Any]]) -> Path:
    return write_csv(tmp_path_factory.mktemp("demo") / "applications.csv", demo_rows)


@pytest.fixture(scope="session")
def demo_parquet_dir(tmp_path_factory: pytest.TempPathFactory, demo_table: pa.Table) -> Path:
    """Three Parquet files with 500-row row groups: six partitions on either engine."""
    root = tmp_path_factory.mktemp("partitioned")
    for part, start in enumerate(range(0, demo_table.num_rows, 1000)):
        pq.write_table(demo_table.slice(start, 1000), root / f"part-{part}.parquet", row_group_size=500)
    return root
