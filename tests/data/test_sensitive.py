"""Withheld columns (``data/sensitive.py``): counts only, for every writer that uses them."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mlward.core.errors import InputError
from mlward.data.drift import DriftDetector
from mlward.data.fairness import data_fairness, model_fairness
from mlward.data.outliers import OutlierDetector
from mlward.data.outliers.scan import scan_dataset
from mlward.data.profile import DatasetProfile, ProfileComputation, profile_dataset, run_in_memory
from mlward.data.sensitive import IDENTIFIER, WITHHELD, looks_like_identifier

ROWS = 400


def _table(offset: int = 0) -> pa.Table:
    return pa.table(
        {
            "contact": [f"person{offset + i}@mail-example.org" for i in range(ROWS)],  # neutral name
            "order_ref": [f"ORD-{offset + i:06d}-X" for i in range(ROWS)],  # an identifier, no PII
            "tier": [["gold", "silver", "bronze"][i % 3] for i in range(ROWS)],
            "amount": [float(i % 50) + offset / 100 for i in range(ROWS)],
            "label": [i % 2 for i in range(ROWS)],
        }
    )


def test_pii_and_identifier_columns_keep_counts_only() -> None:
    profile = profile_dataset(_table())
    assert profile.columns["contact"].withheld == ("EMAIL",)
    assert profile.columns["order_ref"].withheld == (IDENTIFIER,)
    assert profile.columns["tier"].withheld == () and profile.columns["tier"].counts
    contact = profile.columns["contact"]
    assert (contact.counts, contact.frequent, contact.minimum) == (None, None, None)
    assert contact.n == ROWS and contact.nulls == 0 and abs(contact.distinct - ROWS) < 0.05 * ROWS
    text = profile.to_json(include_values=True)
    assert "person1@" not in text and "ORD-" not in text and "gold" in text


def test_withheld_survives_serialization_and_merges() -> None:
    profile = profile_dataset(_table())
    again = DatasetProfile.from_json(profile.to_json())
    assert again.columns["contact"].withheld == ("EMAIL",)
    # batches merged in any order: one batch's column withheld means the merged one is too
    computation = ProfileComputation()
    merged = run_in_memory(computation, pa.concat_tables([_table(), _table(ROWS)]), batch_rows=150)
    assert merged.columns["contact"].withheld == ("EMAIL",)
    assert merged.columns["contact"].n == 2 * ROWS
    assert again.merge(profile).columns["contact"].withheld == ("EMAIL",)


def test_identifier_rule_needs_many_mostly_unique_values() -> None:
    assert looks_like_identifier(400, 400) and looks_like_identifier(60, 100)
    assert not looks_like_identifier(30, 30)  # too few distinct values to point at a row
    assert not looks_like_identifier(200, 10_000)  # a category many rows share


def test_drift_compares_only_the_null_rate_of_withheld_columns() -> None:
    report = DriftDetector().fit(_table()).compare(_table(5_000))
    contact = report.column("contact")
    assert contact.test == "null_rate" and contact.withheld == ("EMAIL",)
    assert not contact.drifted and not contact.new_categories
    doc = json.dumps(report.to_dict())
    assert "mail-example" not in doc and "ORD-" not in doc
    assert report.column("tier").test == "chisquare"


def test_outlier_models_leave_withheld_columns_out() -> None:
    detector = OutlierDetector().fit(_table())
    assert set(detector.column_names_) == {"tier", "amount", "label"}
    assert set(detector.withheld_) == {"contact", "order_ref"}
    assert b"mail-example" not in detector.to_bytes()
    scan = scan_dataset(detector, _table(7))
    assert all(set(row["values"]) == {"tier", "amount", "label"} for row in scan.top)
    with pytest.raises(InputError, match="contact"):
        OutlierDetector(columns=["contact", "amount"]).fit(_table())


def test_fairness_replaces_personal_group_labels() -> None:
    table = _table()
    report = data_fairness(table, ["contact", "tier"], "label")
    contact, tier = report.attribute("contact"), report.attribute("tier")
    assert contact.withheld == ("EMAIL",) and tier.withheld == ()
    assert all(g.group.startswith(WITHHELD) for g in contact.groups)
    assert {g.group for g in tier.groups} == {"gold", "silver", "bronze"}
    assert "mail-example" not in json.dumps(report.to_dict())
    model = model_fairness(
        table.column("label").to_numpy(),
        table.column("label").to_numpy(),
        {"contact": table.column("contact").to_pylist()},
    )
    assert model.attribute("contact").withheld == ("EMAIL",)
    assert "mail-example" not in json.dumps(model.to_dict())
