"""CSV files as people really have them: other delimiters, other encodings."""

from __future__ import annotations

import codecs
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from mlward.core.errors import InputError
from mlward.data.csv_dialect import InputWarning, detect_dialect, detect_encoding, sniff_delimiter
from mlward.data.drift import DriftDetector
from mlward.data.io import open_dataset
from mlward.data.pii import EntityType, scan

FIRST = ["José", "Zoë", "François", "Søren", "Müller", "Ángela", "Øyvind", "Renée"]


def _people(count: int, *, offset: int = 0) -> list[tuple[int, str, str, str]]:
    rows = []
    for i in range(count):
        name = f"{FIRST[i % len(FIRST)]} Pérez{i + offset}"
        rows.append((i, name, f"user{i + offset}@example.com", ["Köln", "Málaga", "Zürich"][i % 3]))
    return rows


def _write(path: Path, rows: list[tuple[object, ...]], delimiter: str, encoding: str) -> Path:
    lines = [delimiter.join(["id", "name", "email", "city"])]
    lines += [delimiter.join(str(v) for v in row) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_semicolon_csv_is_split_and_its_emails_found(tmp_path: Path) -> None:
    path = _write(tmp_path / "people.csv", _people(200), ";", "utf-8")

    result = scan(path)

    assert [c.name for c in result.columns] == ["id", "name", "email", "city"]
    assert EntityType.EMAIL in result.column("email").entity_types
    assert result.sensitivity.label != "public"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = _write(tmp_path / "people.txt.csv", _people(30), delimiter, "utf-8")

    table = open_dataset(path).read()

    assert table.column_names == ["id", "name", "email", "city"]
    assert table.num_rows == 30


def test_latin1_csv_reads_as_text_scanned_and_in_drift(tmp_path: Path) -> None:
    reference = _write(tmp_path / "ref.csv", _people(200), ",", "latin-1")
    current = _write(tmp_path / "cur.csv", _people(200, offset=500), ",", "latin-1")

    table = open_dataset(reference).read()
    assert table.schema.field("name").type == pa.string()
    assert table.column("name")[0].as_py() == "José Pérez0"
    result = scan(reference)
    assert EntityType.EMAIL in result.column("email").entity_types
    assert result.column("name").kind != "skipped"
    report = DriftDetector().fit(reference).compare(current)
    tested = {c.column for c in report.columns}
    assert {"name", "email", "city"} <= tested
    assert not [name for name, _ in report.skipped if name in ("name", "city")]


def test_cp1252_and_utf16_and_bom(tmp_path: Path) -> None:
    rows = [(1, "“Zoë”", "a@example.com", "€uro")]
    cp = _write(tmp_path / "cp.csv", rows, ";", "cp1252")
    u16 = _write(tmp_path / "u16.csv", rows, "\t", "utf-16")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF8 + _write(tmp_path / "plain.csv", rows, ",", "utf-8").read_bytes())

    for path in (cp, u16, bom):
        table = open_dataset(path).read()
        assert table.column_names == ["id", "name", "email", "city"], path
        assert table.column("name")[0].as_py() == "“Zoë”", path
        assert table.column("city")[0].as_py() == "€uro", path


def test_detect_encoding_rules() -> None:
    assert detect_encoding("é".encode(), complete=True) == "utf-8"
    # a multi-byte character cut at the end of a partial sample is still UTF-8
    assert detect_encoding("aé".encode()[:-1], complete=False) == "utf-8"
    assert detect_encoding("é".encode("latin-1"), complete=True) == "latin-1"
    assert detect_encoding("€é".encode("cp1252"), complete=True) == "cp1252"
    assert detect_encoding(b"\x81\xe9", complete=True) == "latin-1"  # 0x81 undefined in cp1252
    assert detect_encoding(codecs.BOM_UTF16_LE + "a".encode("utf-16-le"), complete=True) == "utf-16"


def test_delimiter_in_values_does_not_win() -> None:
    text = 'id,comment\n1,"a;b;c"\n2,"d; e"\n3,plain\n'

    assert sniff_delimiter(text, complete=True) == ","


def test_quoted_newlines_and_tsv_preference(tmp_path: Path) -> None:
    text = 'id;note\n1;"line one\nline two"\n2;x\n'
    assert sniff_delimiter(text, complete=True) == ";"
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\t2\n", encoding="utf-8")
    assert detect_dialect(tsv).delimiter == "\t"


def test_overrides_win(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes("a;b|c\n1;x|y\n2;é|z\n".encode("latin-1"))
    assert open_dataset(path).read().column_names == ["a", "b|c"]

    dataset = open_dataset(path, delimiter="|", encoding="latin-1")
    table = dataset.read()

    assert table.column_names == ["a;b", "c"]
    assert table.column("a;b").to_pylist() == ["1;x", "2;é"]
    assert dataset.partitions[0].encoding == "iso8859-1"
    assert open_dataset(path, delimiter="tab").partitions[0].delimiter == "\t"
    with pytest.raises(InputError, match="unknown encoding"):
        open_dataset(path, encoding="klingon")
    with pytest.raises(InputError, match="invalid delimiter"):
        open_dataset(path, delimiter=";;")


def test_opened_dataset_is_accepted_where_a_path_is(tmp_path: Path) -> None:
    path = tmp_path / "forced.csv"
    path.write_text("id|email\n" + "".join(f"{i}|u{i}@example.com\n" for i in range(50)), encoding="utf-8")

    result = scan(open_dataset(path, delimiter="|"))

    assert result.source == str(path)
    assert EntityType.EMAIL in result.column("email").entity_types


def test_one_column_with_alternative_delimiter_in_values_warns(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("note\nfoo; bar\nbaz\nqux; quux; corge\nplain\n", encoding="utf-8")

    with pytest.warns(InputWarning, match="one column"):
        dataset = open_dataset(path)

    assert dataset.read().column_names == ["note"]


def test_real_one_column_file_does_not_warn(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id\n1\n2\n3\n", encoding="utf-8")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_dataset(path).read().column_names == ["id"]


def test_latin1_past_the_sniff_sample_is_still_detected(tmp_path: Path) -> None:
    row = "1,plain text value,x@example.com\n"
    path = tmp_path / "late.csv"
    path.write_bytes(("id,name,email\n" + row * 4000).encode() + "2,José,y@example.com\n".encode("latin-1"))

    table = open_dataset(path).read()

    assert table.schema.field("name").type == pa.string()
    assert table.column("name")[-1].as_py() == "José"


def test_undecodable_text_past_the_first_block_is_a_clear_error(tmp_path: Path) -> None:
    row = "1,plain text value here,x@example.com\n"
    body = "id,name,email\n" + row * ((9 << 20) // len(row))
    path = tmp_path / "huge.csv"
    path.write_bytes(body.encode() + "2,José,y@example.com\n".encode("latin-1"))

    with pytest.raises(InputError, match="invalid UTF8") as caught:
        open_dataset(path).read()

    assert caught.value.hint is not None and "--encoding" in caught.value.hint
    assert open_dataset(path, encoding="latin-1").read().column("name")[-1].as_py() == "José"
