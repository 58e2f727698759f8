"""Mergeable dataset profiles: per-column counts, moments and sketches.

A ``DatasetProfile`` summarizes a dataset column by column so that two profiles can be
merged (partitions, days of traffic) and compared (drift) without the raw rows:

* every column: rows, nulls, Arrow type, distinct count (HyperLogLog, exact when small);
* numeric columns: min / max / mean / std (Welford, merged with Chan's formula), a
  deterministic quantile histogram (``QuantileHistogram``: the same data gives the same
  summary on every engine and run), exact value counts while there are at most 64 distinct
  values, and the values themselves while there are at most ``exact_limit`` of them;
* categorical columns (strings, booleans, dictionaries): exact category counts up to
  ``category_cap`` distinct values, then a DataSketches frequent-items sketch.

Profiles serialize to JSON (sketches as base64 of their own binary formats), never pickle,
so a reference profile can be stored and shipped to a serving process. PII and
identifier-like columns are *withheld*: ``ProfileComputation`` runs the PII scan in the same
pass and keeps only their counts (``data/sensitive.py``). For the other columns a profile
holds a bounded sample of values (the quantile histogram keeps the smallest and largest
value of up to 2048 buckets, frequent items keep category names): treat it as a small
sample of non-personal data. The exact values are left out of ``to_json`` unless asked for.
"""

from mlward.data.profile.column import (
    CATEGORICAL,
    NUMERIC,
    NUMERIC_COUNTS_CAP,
    OTHER,
    ColumnProfile,
    column_kind,
)
from mlward.data.profile.dataset import (
    DEFAULT_CATEGORY_CAP,
    DEFAULT_EXACT_LIMIT,
    PROFILE_SCHEMA_VERSION,
    DatasetProfile,
    ProfileComputation,
    profile_dataset,
    run_computation,
    run_in_memory,
)
from mlward.data.profile.quantiles import QuantileHistogram
from mlward.data.profile.sketches import (
    HLL_P,
    hash_floats,
    hash_strings,
    hll_add,
    hll_estimate,
    mix64,
)

__all__ = [
    "CATEGORICAL",
    "DEFAULT_CATEGORY_CAP",
    "DEFAULT_EXACT_LIMIT",
    "HLL_P",
    "NUMERIC",
    "NUMERIC_COUNTS_CAP",
    "OTHER",
    "PROFILE_SCHEMA_VERSION",
    "ColumnProfile",
    "DatasetProfile",
    "ProfileComputation",
    "QuantileHistogram",
    "column_kind",
    "hash_floats",
    "hash_strings",
    "hll_add",
    "hll_estimate",
    "mix64",
    "profile_dataset",
    "run_computation",
    "run_in_memory",
]
