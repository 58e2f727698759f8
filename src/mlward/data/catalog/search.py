"""``search``: find dataset versions by name, tag, description, column and PII label.

Filters combine with AND and run in SQL (the per-column rows make column and entity
searches indexable); the reasons shown for each hit are worked out from the loaded
version. ``label`` is either a PII entity type (``EMAIL``: versions with a column
holding it) or a sensitivity label (``confidential``: versions labelled at least that).
By default each dataset appears once, as its newest matching version.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select

from mlward.core.errors import ConfigError
from mlward.data.catalog.models import DatasetColumnRow, DatasetRow, DatasetTagRow, DatasetVersionRow
from mlward.data.catalog.records import load_versions
from mlward.data.catalog.results import DatasetVersion, SearchHit
from mlward.workspace import Workspace

LABELS = ("public", "internal", "confidential", "restricted")


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_column(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(DatasetColumnRow.version_id == DatasetVersionRow.id, *conditions)


def _has_tag(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(DatasetTagRow.version_id == DatasetVersionRow.id, *conditions)


def _label_filter(label: str) -> tuple[ColumnElement[bool], str | None, str | None]:
    """SQL condition for ``label``; returns it with the sensitivity or the entity it names."""
    if label.lower() in LABELS:
        wanted = LABELS[LABELS.index(label.lower()) :]
        return DatasetVersionRow.sensitivity.in_(wanted), label.lower(), None
    from mlward.data.pii.entities import EntityType

    entity = label.upper()
    if entity not in EntityType.__members__:
        raise ConfigError(
            f"unknown label {label!r}",
            hint=f"use a sensitivity ({', '.join(LABELS)}) or an entity type such as EMAIL or US_SSN",
        )
    return _has_column(DatasetColumnRow.entities.like(f"%|{entity}|%")), None, entity


def _text_filter(text: str) -> ColumnElement[bool]:
    pattern = _like(text)
    return or_(
        DatasetRow.name.ilike(pattern, escape="\\"),
        DatasetVersionRow.description.ilike(pattern, escape="\\"),
        DatasetVersionRow.owner.ilike(pattern, escape="\\"),
        DatasetVersionRow.sensitivity == text.lower(),
        _has_tag(DatasetTagRow.tag.ilike(pattern, escape="\\")),
        _has_column(DatasetColumnRow.name.ilike(pattern, escape="\\")),
        _has_column(DatasetColumnRow.entities.ilike(pattern, escape="\\")),
    )


def _reasons(
    version: DatasetVersion,
    text: str | None,
    sensitivity: str | None,
    entity: str | None,
    column: str | None,
    tag: str | None,
) -> tuple[str, ...]:
    found: list[str] = []
    needle = text.lower() if text else None
    if needle and needle in version.name.lower():
        found.append(f"name {version.name}")
    if needle and needle in version.description.lower():
        found.append("description")
    if needle and needle in version.owner.lower():
        found.append(f"owner {version.owner}")
    for item in version.tags:
        if item == tag or (needle and needle in item.lower()):
            found.append(f"tag {item}")
    if sensitivity or (needle and needle == version.sensitivity):
        found.append(f"sensitivity {version.sensitivity}")
    for col in version.columns:
        hits = [e for e in col.entities if e == entity or (needle and needle in e.lower())]
        by_name = (column and column.lower() in col.name.lower()) or (needle and needle in col.name.lower())
        if hits or by_name:
            found.append(f"column {col.name}" + (f": {', '.join(col.entities)}" if col.entities else ""))
    return tuple(dict.fromkeys(found))


def search_datasets(
    workspace: Workspace,
    text: str | None = None,
    *,
    label: str | None = None,
    column: str | None = None,
    tag: str | None = None,
    owner: str | None = None,
    all_versions: bool = False,
) -> list[SearchHit]:
    """Versions matching every given filter (free ``text`` matches names, descriptions,
    owners, tags, column names, entity types and labels), by name, newest first.
    """
    conditions: list[Any] = []
    sensitivity = entity = None
    if text:
        conditions.append(_text_filter(text))
    if label:
        condition, sensitivity, entity = _label_filter(label)
        conditions.append(condition)
    if column:
        conditions.append(_has_column(DatasetColumnRow.name.ilike(_like(column), escape="\\")))
    if tag:
        conditions.append(_has_tag(DatasetTagRow.tag == tag))
    if owner:
        conditions.append(DatasetVersionRow.owner == owner)
    statement = (
        select(DatasetVersionRow, DatasetRow.name)
        .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
        .where(*conditions)
        .order_by(DatasetRow.name, DatasetVersionRow.version.desc())
    )
    with workspace.metadata.session() as session:
        rows = [(row, name) for row, name in session.execute(statement).all()]
        if not all_versions:
            # Rows come newest first per name: keep the first of each.
            newest: dict[str, DatasetVersionRow] = {}
            for row, name in rows:
                newest.setdefault(name, row)
            rows = [(row, name) for name, row in newest.items()]
        versions = load_versions(session, rows)
    return [SearchHit(v, _reasons(v, text, sensitivity, entity, column, tag)) for v in versions]
