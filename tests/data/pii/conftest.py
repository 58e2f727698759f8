"""Labelled synthetic tables, generated once per session (Faker, several locales)."""

from __future__ import annotations

import os

import pytest

from mlward.data.pii.synthetic import LOCALES, LabelledTable, benchmark_table, locale_table, negatives_table


@pytest.fixture(scope="session")
def locale_tables() -> dict[str, LabelledTable]:
    return {locale: locale_table(locale, 300, seed=100 + i) for i, locale in enumerate(LOCALES)}


@pytest.fixture(scope="session")
def negatives() -> LabelledTable:
    return negatives_table(800)


@pytest.fixture(scope="session")
def mixed_table() -> LabelledTable:
    return benchmark_table(4000, seed=3, pool=1500)


@pytest.fixture(scope="session")
def data_key() -> bytes:
    return os.urandom(32)
