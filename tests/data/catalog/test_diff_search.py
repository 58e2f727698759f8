"""diff of planted schema / profile / PII changes, and search by label, column, tag, text."""

from __future__ import annotations

import pytest

from mlward.core.errors import ConfigError
from mlward.data.catalog import add_dataset, diff_datasets, search_datasets, tag_dataset


def test_diff_reports_planted_changes(workspace, credit) -> None:
    add_dataset(workspace, credit.parquet, "apps")
    add_dataset(workspace, credit.planted, "apps")
    result = diff_datasets(workspace, "apps@1", "apps@2")

    assert not result.identical and result.rows == (credit.rows, credit.rows)
    assert result.added == (("channel", "string"),)
    assert result.removed == (("ssn", "string"), ("card_number", "int64"))
    assert result.retyped == (("term_months", "int64", "string"),)
    assert (result.files_added, result.files_removed) == (("planted.parquet",), ("applications.parquet",))
    # Dropping the SSN and card columns lowers the dataset label.
    assert result.sensitivity == ("restricted", "confidential")

    changes = {c.name: c for c in result.columns}
    employment = changes["employment_years"]
    assert employment.changed and employment.null_share[0] == 0.0
    assert employment.null_share[1] == pytest.approx(0.3)
    income = changes["income"]  # the drifted batch earns 28 % less
    assert income.changed and income.mean is not None
    assert income.mean[1] == pytest.approx(income.mean[0] * 0.72, rel=0.06)
    assert income.shift > 0.5 and income.quantiles["p50"][1] < income.quantiles["p50"][0]
    purpose = changes["purpose"]
    assert purpose.new_categories == ("crypto",) and purpose.missing_categories == ("education",)
    # Columns classified as PII never list values, even when every value changed.
    email = changes["email"]
    assert email.entities == (("EMAIL",), ("EMAIL",))
    assert (email.new_categories, email.missing_categories, email.mean) == ((), (), None)
    assert not changes["gender"].changed
    assert result.changed_columns[0].changed and not result.columns[-1].changed

    same = diff_datasets(workspace, "apps@1", "apps@1")
    assert same.identical and same.changed_columns == () and same.added == same.removed == ()


def test_diff_reports_pii_label_changes(workspace, credit, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    features = pacsv.read_csv(credit.public_csv)
    before = tmp_path / "v1" / "features.csv"
    after = tmp_path / "v2" / "features.csv"
    before.parent.mkdir()
    after.parent.mkdir()
    contacts = credit.table["email"]
    pacsv.write_csv(features.append_column("contact", pa.array(["n/a"] * features.num_rows)), before)
    pacsv.write_csv(features.append_column("contact", contacts), after)
    add_dataset(workspace, before, "features")
    add_dataset(workspace, after, "features")
    result = diff_datasets(workspace, "features@1", "features@2")
    contact = next(c for c in result.columns if c.name == "contact")
    assert contact.changed and contact.entities == ((), ("EMAIL",))
    assert contact.sensitivity == ("public", "confidential")
    assert result.sensitivity == ("public", "confidential")
    assert (contact.new_categories, contact.missing_categories) == ((), ())


def test_search(any_workspace, credit) -> None:
    ws = any_workspace
    add_dataset(
        ws, credit.csv, "credit-apps", description="Loan applications with contact data", owner="risk"
    )
    add_dataset(ws, credit.public_csv, "features", tags=["model-input"], owner="ml")
    add_dataset(ws, credit.parquet, "features", description="same features, parquet")
    tag_dataset(ws, "features@1", "gold")

    def refs(**kwargs) -> list[str]:
        return [hit.version.ref for hit in search_datasets(ws, **kwargs)]

    assert refs(label="EMAIL") == ["credit-apps@1", "features@2"]
    hit = search_datasets(ws, label="us_ssn")[0]
    assert hit.version.ref == "credit-apps@1" and hit.reasons == ("column ssn: US_SSN",)
    assert refs(column="SSN", all_versions=True) == ["credit-apps@1", "features@2"]  # not features@1
    assert refs(label="restricted") == ["credit-apps@1", "features@2"]
    assert refs(label="public") == ["credit-apps@1", "features@2"]  # at least public: everything
    assert refs(tag="gold") == ["features@1"]
    assert search_datasets(ws, tag="gold")[0].reasons == ("tag gold",)
    assert refs(text="loan") == ["credit-apps@1", "features@2"]  # description; column loan_amount
    assert refs(text="contact data") == ["credit-apps@1"]
    assert refs(text="model-input") == ["features@1"]
    assert refs(owner="ml", all_versions=True) == ["features@2", "features@1"]
    assert refs(text="100%_off") == []  # LIKE wildcards in user text are literal
    with pytest.raises(ConfigError, match="unknown label"):
        search_datasets(ws, label="SHOE_SIZE")
