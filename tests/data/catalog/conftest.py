"""Realistic datasets for the catalogue tests, generated once per session.

The credit-risk demo generator writes loan applications with personal data (names,
emails, phones, SSNs, card numbers, addresses, dates of birth) next to features; its
drifted batch has lower incomes and a new loan purpose. 2000 rows keep every add fast.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

ROWS = 2000
GENERATOR = Path(__file__).resolve().parents[3] / "examples" / "credit-risk" / "generate_data.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("credit_risk_generate_data", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Credit:
    """Paths of the generated files."""

    def __init__(self, root: Path) -> None:
        gen = _generator()
        self.root = root
        self.rows = ROWS
        self.csv = root / "applications.csv"
        gen.write_csv(self.csv, gen.generate(ROWS, seed=7))
        self.drifted_csv = root / "new_batch.csv"
        gen.write_csv(self.drifted_csv, gen.generate(ROWS, seed=8, drifted=True, start_id=ROWS + 1))
        self.table = pacsv.read_csv(self.csv)
        self.drifted = pacsv.read_csv(self.drifted_csv)
        self.parquet = root / "applications.parquet"
        pq.write_table(self.table, self.parquet)
        self.planted = root / "planted.parquet"
        pq.write_table(plant_changes(self.drifted), self.planted)
        self.public_csv = root / "features.csv"
        pacsv.write_csv(
            self.table.select(["age", "income", "loan_amount", "term_months", "purpose", "default"]),
            self.public_csv,
        )


def plant_changes(table: pa.Table) -> pa.Table:
    """Plant changes a diff must report.

    Drops ``ssn`` and ``card_number``, adds ``channel``, retypes ``term_months`` to text
    and nulls 30 % of ``employment_years``.
    """
    rows = table.num_rows
    table = table.drop_columns(["ssn", "card_number"])
    table = table.append_column("channel", pa.array(["web" if i % 3 else "branch" for i in range(rows)]))
    index = table.schema.get_field_index("term_months")
    table = table.set_column(index, "term_months", pc.cast(table["term_months"], pa.string()))
    mask = pa.array([i % 10 < 3 for i in range(rows)])
    employment = pc.if_else(mask, pa.scalar(None, pa.float64()), table["employment_years"])
    index = table.schema.get_field_index("employment_years")
    return table.set_column(index, "employment_years", employment)


@pytest.fixture(scope="session")
def credit(tmp_path_factory: pytest.TempPathFactory) -> Credit:
    return Credit(tmp_path_factory.mktemp("credit"))


@pytest.fixture(scope="session")
def partitioned(tmp_path_factory: pytest.TempPathFactory, credit: Credit) -> Path:
    """Hive-partitioned Parquet: ``state=XX/part-0.parquet`` plus a ``_SUCCESS`` marker."""
    root = tmp_path_factory.mktemp("partitioned") / "applications"
    features = credit.table.select(["state", "age", "income", "loan_amount", "purpose", "default"])
    pq.write_to_dataset(features, root, partition_cols=["state"], basename_template="part-{i}.parquet")
    (root / "_SUCCESS").write_bytes(b"")
    return root
