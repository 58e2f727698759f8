"""Reading catalogue rows back as ``DatasetVersion`` values (children loaded in bulk)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mlward.core.errors import NotFound
from mlward.crypto.digests import path_sort_key
from mlward.data.catalog.models import (
    DatasetColumnRow,
    DatasetFileRow,
    DatasetRow,
    DatasetTagRow,
    DatasetVersionRow,
)
from mlward.data.catalog.results import ColumnInfo, DatasetFile, DatasetVersion


def load_versions(session: Session, rows: Sequence[tuple[DatasetVersionRow, str]]) -> list[DatasetVersion]:
    """Build ``DatasetVersion`` values for ``(row, dataset name)`` pairs, in order."""
    ids = [row.id for row, _ in rows]
    files: dict[int, list[DatasetFile]] = defaultdict(list)
    columns: dict[int, list[tuple[int, ColumnInfo]]] = defaultdict(list)
    tags: dict[int, list[str]] = defaultdict(list)
    if ids:
        for f in session.scalars(select(DatasetFileRow).where(DatasetFileRow.version_id.in_(ids))):
            files[f.version_id].append(DatasetFile(f.path, f.digest, f.size, f.blob, f.encrypted))
        for c in session.scalars(select(DatasetColumnRow).where(DatasetColumnRow.version_id.in_(ids))):
            entities = tuple(e for e in c.entities.split("|") if e)
            columns[c.version_id].append((c.position, ColumnInfo(c.name, c.type, entities, c.sensitivity)))
        for t in session.scalars(select(DatasetTagRow).where(DatasetTagRow.version_id.in_(ids))):
            tags[t.version_id].append(t.tag)
    return [
        _version(
            row,
            name,
            tuple(sorted(files[row.id], key=lambda f: path_sort_key(f.path))),
            tuple(info for _, info in sorted(columns[row.id], key=lambda pair: pair[0])),
            tuple(sorted(tags[row.id])),
        )
        for row, name in rows
    ]


def _version(
    row: DatasetVersionRow,
    name: str,
    files: tuple[DatasetFile, ...],
    columns: tuple[ColumnInfo, ...],
    tags: tuple[str, ...],
) -> DatasetVersion:
    return DatasetVersion(
        name=name,
        version=row.version,
        digest=row.digest,
        layout=row.layout,
        format=row.format,
        size=row.size,
        rows=row.rows,
        schema=dict(row.schema),
        columns=columns,
        sensitivity=row.sensitivity,
        encrypted=row.encrypted,
        files=files,
        profile_blob=row.profile_blob,
        tags=tags,
        owner=row.owner,
        description=row.description,
        source=row.source,
        created_by=row.created_by,
        created=row.created,
        lineage_run=row.lineage_run,
        produced_by=row.produced_by,
        producing_run=row.producing_run,
        key_id=row.key_id,
        pii=dict(row.pii),
    )


def find_version_row(
    session: Session, name: str, selector: str | int | None
) -> tuple[DatasetVersionRow, DatasetRow]:
    """The row named by ``selector``: a number, ``latest`` / None, or a tag (newest tagged)."""
    dataset = session.scalars(select(DatasetRow).where(DatasetRow.name == name)).first()
    if dataset is None:
        raise NotFound(f"no dataset named {name!r} in the catalogue", hint="see 'mlward data ls'")
    statement = select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == dataset.id)
    text = str(selector) if selector is not None else "latest"
    if text == "latest":
        statement = statement.order_by(DatasetVersionRow.version.desc())
    elif text.isdigit():
        statement = statement.where(DatasetVersionRow.version == int(text))
    else:
        statement = (
            statement.join(DatasetTagRow, DatasetTagRow.version_id == DatasetVersionRow.id)
            .where(DatasetTagRow.tag == text)
            .order_by(DatasetVersionRow.version.desc())
        )
    row = session.scalars(statement.limit(1)).first()
    if row is None:
        what = f"no version {text}" if text.isdigit() else f"no version tagged {text!r}"
        raise NotFound(f"dataset {name!r} has {what}", hint=f"see 'mlward data ls {name}'")
    return row, dataset


def latest_rows(session: Session, name: str | None = None) -> list[tuple[DatasetVersionRow, str]]:
    """The newest version row of every dataset (or of ``name``), by name."""
    newest = (
        select(DatasetVersionRow.dataset_id, func.max(DatasetVersionRow.version).label("top"))
        .group_by(DatasetVersionRow.dataset_id)
        .subquery()
    )
    statement: Any = (
        select(DatasetVersionRow, DatasetRow.name)
        .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
        .join(
            newest,
            (newest.c.dataset_id == DatasetVersionRow.dataset_id)
            & (newest.c.top == DatasetVersionRow.version),
        )
        .order_by(DatasetRow.name)
    )
    if name is not None:
        statement = statement.where(DatasetRow.name == name)
    return [(row, dataset_name) for row, dataset_name in session.execute(statement).all()]


def all_rows(session: Session, name: str | None = None) -> list[tuple[DatasetVersionRow, str]]:
    """Every version row (of ``name``), by name then version."""
    statement: Any = (
        select(DatasetVersionRow, DatasetRow.name)
        .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
        .order_by(DatasetRow.name, DatasetVersionRow.version)
    )
    if name is not None:
        statement = statement.where(DatasetRow.name == name)
    return [(row, dataset_name) for row, dataset_name in session.execute(statement).all()]
