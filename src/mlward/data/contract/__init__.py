"""Data contracts and quality checks.

``validate(data_or_path, contract)`` checks a table or a dataset on disk (local or
Dask engine) against a contract declared in ``mlward.yaml`` or in its own YAML file;
``infer_contract`` proposes a contract from data; ``import_odcs`` converts an Open
Data Contract Standard v3 document. See docs/contracts.md.
"""

from __future__ import annotations

from mlward.data.contract.api import validate
from mlward.data.contract.infer import infer_contract
from mlward.data.contract.loader import load_contract, parse_contracts, resolve_contract, workspace_contract
from mlward.data.contract.odcs import OdcsImport, import_odcs
from mlward.data.contract.result import ValidationResult
from mlward.data.contract.rules.interface import Example, RuleResult
from mlward.data.contract.schema import ColumnSpec, Contract

__all__ = [
    "ColumnSpec",
    "Contract",
    "Example",
    "OdcsImport",
    "RuleResult",
    "ValidationResult",
    "import_odcs",
    "infer_contract",
    "load_contract",
    "parse_contracts",
    "resolve_contract",
    "validate",
    "workspace_contract",
]
