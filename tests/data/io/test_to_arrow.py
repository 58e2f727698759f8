"""pandas frames as people really have them: mixed-type object columns."""

from __future__ import annotations

import warnings

import pandas as pd
import pyarrow as pa
import pytest

from mlward.core.errors import InputError
from mlward.data.contract import validate
from mlward.data.csv_dialect import InputWarning
from mlward.data.drift import DriftDetector
from mlward.data.io import to_arrow
from mlward.data.pii import EntityType, scan
from mlward.data.profile.dataset import profile_dataset


def _mixed() -> pd.DataFrame:
    emails = [f"user{i}@example.com" for i in range(40)]
    return pd.DataFrame({"code": [1, 2, "abc", None] * 10, "email": emails, "age": range(40)})


def test_mixed_object_column_is_text_with_a_warning() -> None:
    with pytest.warns(InputWarning, match="'code'"):
        table = to_arrow(_mixed())

    assert table.schema.field("code").type == pa.string()
    assert table.column("code").to_pylist()[:4] == ["1", "2", "abc", None]
    assert table.schema.field("age").type == pa.int64()


@pytest.mark.parametrize(
    "call",
    [
        lambda frame: scan(frame),
        lambda frame: validate(frame, {"columns": {"age": {"min": 0}}}),
        lambda frame: profile_dataset(frame),
        lambda frame: DriftDetector().fit(frame).compare(frame),
    ],
    ids=["scan", "validate", "profile_dataset", "drift"],
)
def test_public_entry_points_accept_mixed_frames(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.warns(InputWarning, match="'code'"):
        result = call(_mixed())

    assert result is not None


def test_scan_of_mixed_frame_still_finds_pii() -> None:
    with pytest.warns(InputWarning):
        result = scan(_mixed())

    assert EntityType.EMAIL in result.column("email").entity_types


def test_other_conversion_failures_name_the_column() -> None:
    frame = pd.DataFrame({"ok": [1, 2], "bad": pd.Series([1 + 2j, 3 + 4j], dtype="complex128")})

    with pytest.raises(InputError, match="'bad'"):
        to_arrow(frame)


def test_clean_frames_convert_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = to_arrow(pd.DataFrame({"a": [1, 2], "b": ["x", None]}))

    assert table.column_names == ["a", "b"]
