"""Precision and recall of the scan on labelled tables, per entity type.

Column level: a (column, entity) pair is a true positive when the scan lists the entity
for a column whose ground truth holds it. Cell level (free text): per cell and entity.
"""

from __future__ import annotations

from collections import Counter

from mlward.data.pii import EntityType, default_detectors, find_hits, scan
from mlward.data.pii.synthetic import LabelledTable


def _column_counts(
    tables: list[LabelledTable],
) -> tuple[Counter[EntityType], Counter[EntityType], Counter[EntityType]]:
    tp: Counter[EntityType] = Counter()
    fp: Counter[EntityType] = Counter()
    fn: Counter[EntityType] = Counter()
    for labelled in tables:
        result = scan(labelled.table)
        for column in result.columns:
            found, truth = set(column.entity_types), labelled.truth[column.name]
            tp.update(found & truth)
            fp.update(found - truth)
            fn.update(truth - found)
    return tp, fp, fn


def test_column_precision_recall_per_entity(locale_tables, negatives, mixed_table) -> None:
    tables = [*locale_tables.values(), negatives, mixed_table]
    tp, fp, fn = _column_counts(tables)
    for entity in set(tp) | set(fp) | set(fn):
        precision = tp[entity] / max(1, tp[entity] + fp[entity])
        recall = tp[entity] / max(1, tp[entity] + fn[entity])
        assert precision == 1.0, f"{entity}: false positives {fp[entity]}"
        assert recall == 1.0, f"{entity}: missed {fn[entity]}"
    # Every locale's national id and the multi-locale columns were exercised.
    expected = {
        EntityType.US_SSN, EntityType.UK_NINO, EntityType.DE_TAX_ID, EntityType.FR_NIR,
        EntityType.ES_DNI, EntityType.IT_FISCAL_CODE, EntityType.IN_AADHAAR, EntityType.IBAN,
        EntityType.CREDIT_CARD, EntityType.IP_ADDRESS, EntityType.ADDRESS, EntityType.PERSON,
        EntityType.DATE_OF_BIRTH, EntityType.PHONE, EntityType.EMAIL,
    }  # fmt: skip
    assert expected <= set(tp)


def test_tricky_negatives_are_not_classified(negatives) -> None:
    result = scan(negatives.table, sample_cells=0)
    assert result.entities_by_column() == {}
    # The traps really are traps: the Luhn references pass Luhn, order ids look like cards.
    assert result.column("luhn_ref").cells_candidate == negatives.table.num_rows
    assert result.column("order_date").kind == "structured"


def test_free_text_cell_precision_recall(mixed_table) -> None:
    detectors = default_detectors()
    notes = mixed_table.table.column("notes").to_pylist()[:1500]
    truth = mixed_table.cell_truth["notes"][:1500]
    tp: Counter[EntityType] = Counter()
    fp: Counter[EntityType] = Counter()
    fn: Counter[EntityType] = Counter()
    for text, expected in zip(notes, truth, strict=True):
        found = {hit.span.entity for hit in find_hits(text, detectors) if hit.strong}
        tp.update(found & expected)
        fp.update(found - expected)
        fn.update(expected - found)
    for entity in set(tp) | set(fn):
        precision = tp[entity] / max(1, tp[entity] + fp[entity])
        recall = tp[entity] / max(1, tp[entity] + fn[entity])
        assert precision >= 0.97, f"{entity}: precision {precision:.3f} ({fp[entity]} false positives)"
        assert recall >= 0.9, f"{entity}: recall {recall:.3f} ({fn[entity]} missed)"


def test_free_text_column_lists_embedded_entities(mixed_table) -> None:
    report = scan(mixed_table.table, columns=["notes"]).column("notes")
    assert report.kind == "free_text"
    assert set(report.entity_types) == mixed_table.truth["notes"]
    assert all(entity.mode == "text" for entity in report.entities)
