"""Anonymization: every action, reversibility, policies, protect/reveal and k-anonymity."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from stdnum import luhn

from mlward.core.errors import ConfigError, InputError
from mlward.crypto.encryption import DataKeys
from mlward.data.pii import Anonymizer, EntityType, PiiPolicy, k_anonymity, load_policy, protect, reveal, scan
from mlward.data.pii.anonymizers import build_action
from mlward.data.pii.policy import FpeAction, GeneralizeAction, HashAction, MaskAction

FULL_POLICY = {
    "by_entity": {
        "EMAIL": "tokenize",
        "PHONE": {"action": "fpe"},
        "US_SSN": "encrypt",
        "CREDIT_CARD": {"action": "fpe", "luhn": True, "preserve_prefix": 6},
        "PERSON": "fake",
        "ADDRESS": "redact",
        "DATE_OF_BIRTH": {"action": "generalize", "date": "year"},
        "IP_ADDRESS": {"action": "hash", "length": 16},
        "IBAN": {"action": "mask", "keep_last": 4},
    },
    "by_column": {"order_id": {"action": "hash", "length": 20}, "order_date": "keep"},
}


@pytest.fixture(scope="module")
def protected(mixed_table, data_key):
    table = mixed_table.table.slice(0, 1500)
    result, output = protect(table, FULL_POLICY, data_key)
    return table, result, output


def test_protected_output_holds_no_unprotected_pii(protected, data_key) -> None:
    original, result, output = protected
    assert result.rows == original.num_rows
    assert result.actions["notes"].startswith("text(")
    rescan = scan(output, sample_cells=0, keys=[data_key])
    assert not rescan.unprotected_columns(), [c.name for c in rescan.unprotected_columns()]
    # Without the key the seals cannot be checked: format-preserving and fake outputs
    # look like PII and are judged on content.
    blind = scan(output, sample_cells=0)
    assert {c.name for c in blind.unprotected_columns()} == {
        c.name for c in rescan.columns if c.entities and c.protection_verified
    }
    for column in rescan.columns:
        if column.protection == "text":
            # Spans were replaced: only the fake names (PERSON -> fake) still read as names.
            assert set(column.entity_types) <= {EntityType.PERSON}, column.entity_types
        elif column.protection not in (None, "fpe", "fake"):
            # Hashes, tokens, ciphertexts, redactions, masks, generalizations: no PII left.
            assert not column.entities, (column.name, column.entity_types)
    # Free text keeps its prose but loses its entities.
    notes = output.column("notes").to_pylist()
    assert any("[ADDRESS]" in n for n in notes) and any("tok_" in n for n in notes)
    raw_emails = set(original.column("email").to_pylist())
    assert not raw_emails & set(output.column("email").to_pylist())


def test_reversible_columns_round_trip(protected, data_key) -> None:
    original, result, output = protected
    restored = reveal(output, None, data_key)
    for name in ("email", "phone", "ssn"):
        assert restored.column(name).to_pylist() == original.column(name).cast(pa.string()).to_pylist(), name
    # 12-digit cards keep a 6-digit BIN and a check digit: too few digits left for
    # FF3-1, so those were masked (and counted in the warnings) and stay masked.
    cards = zip(
        original.column("card_number").to_pylist(), restored.column("card_number").to_pylist(), strict=True
    )
    masked = {before: after for before, after in cards if before != after}
    assert all(set(after) == {"*"} for after in masked.values())
    assert f"{len(masked)} distinct values too short" in " ".join(result.warnings)
    # Tokens inside free text come back too; redacted spans cannot.
    pairs = zip(original.column("notes").to_pylist(), restored.column("notes").to_pylist(), strict=True)
    email_only = [(before, after) for before, after in pairs if before.startswith("Please send the invoice")]
    assert email_only and all(before == after for before, after in email_only)
    with pytest.raises(InputError, match="cannot be reversed"):
        reveal(output, None, data_key, columns=["ip_address"])


def test_reveal_refuses_another_key(protected) -> None:
    _, _, output = protected
    with pytest.raises(InputError, match="another data key"):
        reveal(output, None, os.urandom(32), columns=["email"])


def test_deterministic_actions_keep_joins(data_key) -> None:
    keys = DataKeys.derive(data_key)
    for spec in (HashAction(), FpeAction(), {"action": "tokenize"}, {"action": "fake"}):
        rule = (
            spec
            if not isinstance(spec, dict)
            else PiiPolicy.model_validate({"default_action": spec}).default_action
        )
        action = build_action(rule, keys)
        assert action.apply("4111111111111111", None) == action.apply("4111111111111111", None)
    encrypt = build_action(PiiPolicy.model_validate({"default_action": "encrypt"}).default_action, keys)
    assert encrypt.apply("x", None) != encrypt.apply("x", None)
    # Hash normalization: e-mails that differ only in case join.
    hashed = build_action(HashAction(length=16), keys)
    assert hashed.apply("Ada@Example.com ", None) == hashed.apply("ada@example.com", None)
    assert len(hashed.apply("x", None)) == 16


def test_fpe_keeps_format_and_luhn(data_key) -> None:
    keys = DataKeys.derive(data_key)
    action = build_action(FpeAction(luhn=True, preserve_prefix=6), keys)
    for card in ("4111 1111 1111 1111", "5555555555554444", "378282246310005"):
        encrypted = action.apply(card, EntityType.CREDIT_CARD)
        assert encrypted != card and len(encrypted) == len(card)
        assert [c.isdigit() for c in encrypted] == [c.isdigit() for c in card]
        assert encrypted.replace(" ", "")[:6] == card.replace(" ", "")[:6]
        assert luhn.is_valid(encrypted.replace(" ", ""))
        assert action.reveal(encrypted) == card
    # A Luhn-invalid input stays invalid and still round-trips.
    assert action.reveal(action.apply("4111111111111112", None)) == "4111111111111112"
    digits = build_action(FpeAction(), keys)
    assert digits.apply("123", None) == "***"  # too short for FF3-1: masked, never clear
    assert digits.too_short == 1


def test_mask_generalize_redact(data_key) -> None:
    keys = DataKeys.derive(data_key)
    assert build_action(MaskAction(keep_last=4), keys).apply("123-45-6789", None) == "***-**-6789"
    assert build_action(MaskAction(keep_last=4), keys).apply("12", None) == "**"
    general = build_action(GeneralizeAction(bins=[0, 18, 65]), keys)
    assert [general.apply(v, None) for v in ("5", "30", "70")] == ["0-18", "18-65", ">=65"]
    assert build_action(GeneralizeAction(width=10), keys).apply("34", None) == "30-40"
    assert build_action(GeneralizeAction(date="month"), keys).apply("1985-03-12", None) == "1985-03"
    assert build_action(GeneralizeAction(date="decade"), keys).apply("12/03/1985", None) == "1980s"
    assert build_action(GeneralizeAction(keep_chars=3), keys).apply("94105", None) == "941**"
    assert build_action(GeneralizeAction(keep_chars=4), keys).apply("SW1A 1AA", None) == "SW1A ***"


def test_anonymizer_is_sklearn_like_and_keeps_the_input_type(mixed_table, data_key) -> None:
    frame = mixed_table.table.slice(0, 300).select(["customer_name", "email", "order_id"]).to_pandas()
    anonymizer = Anonymizer(PiiPolicy.default(), data_key)
    out = anonymizer.fit_transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(frame.columns)
    assert set(anonymizer.plan_) == {"customer_name", "email"}
    assert anonymizer.plan_["email"].source == "by_entity"
    assert out["email"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert (out["order_id"] == frame["order_id"]).all()
    polars_out = Anonymizer(PiiPolicy.default(), data_key).fit_transform(pl.from_pandas(frame))
    assert isinstance(polars_out, pl.DataFrame)
    assert polars_out["email"].to_list() == out["email"].tolist()  # same key, same hashes


def test_drop_and_default_action(data_key) -> None:
    table = pa.table({"ssn": ["536-90-4399"] * 20, "email": ["ada@example.com"] * 20})
    policy = PiiPolicy.model_validate({"by_column": {"ssn": "drop"}})
    out = Anonymizer(policy, data_key).fit_transform(table)
    assert out.column_names == ["email"]
    assert set(out.column("email").to_pylist()) == {"[EMAIL]"}  # default_action: redact
    keep_policy = PiiPolicy.model_validate({"default_action": None})
    assert Anonymizer(keep_policy, data_key).fit_transform(table).equals(table)


def test_protect_streams_a_dataset_to_parquet_and_reveals(tmp_path: Path, mixed_table, data_key) -> None:
    source = tmp_path / "customers.csv"
    mixed_table.table.slice(0, 800).select(["email", "phone", "notes"]).to_pandas().to_csv(
        source, index=False
    )
    output = tmp_path / "out" / "customers.parquet"
    result, protected = protect(source, FULL_POLICY, data_key, output)
    assert protected is None and result.rows == 800 and output.exists()
    assert not [p for p in output.parent.iterdir() if p.name.endswith(".part")]
    metadata = json.loads(pq.read_schema(output).field("email").metadata[b"mlward.pii"])
    assert metadata["action"] == "tokenize" and "key" not in json.dumps(metadata).replace("key_id", "")
    assert scan(output).column("email").protection == "tokenize"
    restored = reveal(pq.read_table(output), None, data_key, columns=["email", "phone"])
    expected = pd.read_csv(source)
    assert restored.column("email").to_pylist() == expected["email"].tolist()
    with pytest.raises(ConfigError, match="output"):
        protect(source, FULL_POLICY, data_key)


def test_keyed_actions_need_a_key() -> None:
    with pytest.raises(ConfigError, match="data key"):
        Anonymizer({"by_column": {"email": "hash"}}).fit_transform(pa.table({"email": ["a@b.co"] * 3}))


def test_policy_yaml_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "mlward.yaml"
    path.write_text("pii:\n  by_entity:\n    EMAIL: hash\n    PHONE: {action: mask, keep_last: 2}\n")
    policy = load_policy(path)
    assert policy.by_entity[EntityType.EMAIL].action == "hash"
    assert policy.by_entity[EntityType.PHONE].keep_last == 2  # type: ignore[union-attr]
    path.write_text("by_entity:\n  EMAIL: {action: hash, lenght: 8}\n")
    with pytest.raises(ConfigError, match=r"by_entity\.EMAIL"):
        load_policy(path)
    path.write_text("by_column:\n  x: shred\n")
    with pytest.raises(ConfigError, match="invalid PII policy"):
        load_policy(path)


def test_k_anonymity_and_l_diversity() -> None:
    table = pa.table(
        {
            "zip": ["941**"] * 5 + ["100**"] * 2 + ["606**"],
            "birth_year": ["1980"] * 5 + ["1990"] * 2 + ["1970"],
            "diagnosis": ["flu", "cold", "flu", "asthma", "flu", "flu", "flu", "cold"],
        }
    )
    report = k_anonymity(table, ["zip", "birth_year"], sensitive="diagnosis", k_target=2)
    assert (report.k, report.classes, report.unique_rows, report.rows_at_risk) == (1, 3, 1, 1)
    assert not report.satisfied
    assert report.l_distinct == 1 and report.l_entropy == 1.0
    assert report.size_histogram == ((1, 1), (2, 1), (5, 1))
    generalized = k_anonymity(table, ["zip"], k_target=1)
    assert generalized.satisfied and generalized.to_dict()["k"] == 1
    with pytest.raises(InputError, match="nope"):
        k_anonymity(table, ["nope"])
