"""The dataset catalogue: content-addressed dataset versions with profiles and PII labels.

``add_dataset`` versions a CSV, Parquet or JSON Lines file or a partitioned directory in
the workspace's object store (deduplicated by content, encrypted when sensitive and
``data.encrypt_sensitive`` is on) with its schema, profile, PII classification, owner,
tags and lineage; ``get_dataset`` / ``list_datasets`` / ``describe_dataset`` read it
back, ``diff_datasets`` compares two versions, ``checkout_dataset`` restores the exact
bytes (verified), ``search_datasets`` finds versions, ``tag_dataset`` labels them.
"""

from __future__ import annotations

from mlward.data.catalog.checkout import checkout_dataset
from mlward.data.catalog.diff import diff_datasets
from mlward.data.catalog.manifest import check_dataset_name, dataset_digest, parse_dataset_ref
from mlward.data.catalog.results import (
    CheckoutResult,
    ColumnChange,
    ColumnInfo,
    ColumnSummary,
    DatasetDetails,
    DatasetDiff,
    DatasetFile,
    DatasetVersion,
    SearchHit,
)
from mlward.data.catalog.search import search_datasets
from mlward.data.catalog.service import (
    add_dataset,
    describe_dataset,
    get_dataset,
    list_datasets,
    load_profile,
    tag_dataset,
)

__all__ = [
    "CheckoutResult",
    "ColumnChange",
    "ColumnInfo",
    "ColumnSummary",
    "DatasetDetails",
    "DatasetDiff",
    "DatasetFile",
    "DatasetVersion",
    "SearchHit",
    "add_dataset",
    "check_dataset_name",
    "checkout_dataset",
    "dataset_digest",
    "describe_dataset",
    "diff_datasets",
    "get_dataset",
    "list_datasets",
    "load_profile",
    "parse_dataset_ref",
    "search_datasets",
    "tag_dataset",
]
