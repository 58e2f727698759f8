"""Finding and parsing contracts: ``mlward.yaml`` sections, contract files, mappings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from mlward.core.config import CONFIG_FILE, format_validation_error
from mlward.core.errors import ConfigError, InputError, NotFound
from mlward.data.contract.schema import Contract, ContractFile

if TYPE_CHECKING:
    from mlward.workspace import Workspace

ContractSource = Contract | Mapping[str, Any] | str | os.PathLike[str]
"""A contract object, its mapping, a contract name in mlward.yaml, or a YAML file path."""


def parse_contracts(raw: Any, source: str) -> dict[str, Contract]:
    """Validate a ``contracts:`` mapping; errors name ``source: contracts.<name>.<key>``."""
    try:
        return ContractFile.model_validate({"contracts": raw if raw is not None else {}}).contracts
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def parse_contract(raw: Any, source: str) -> Contract:
    """Validate one contract mapping; errors name ``source: <key path>``."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping (a contract), got {type(raw).__name__}")
    try:
        return Contract.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file safely; errors name the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path}: contract file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


def read_contract_file(path: str | os.PathLike[str], name: str | None = None) -> tuple[str, Contract]:
    """Load a contract file: one contract, or ``contracts: {name: ...}`` (pick ``name``)."""
    file = Path(path)
    raw = read_yaml(file)
    if isinstance(raw, Mapping) and "contracts" in raw:
        extra = sorted(set(raw) - {"contracts", "version"})
        if extra:
            raise ConfigError(f"{file}: {extra[0]}: unknown key (a contracts file holds only 'contracts:')")
        contracts = parse_contracts(raw["contracts"], str(file))
        if name is None:
            if len(contracts) != 1:
                listed = ", ".join(sorted(contracts)) or "none"
                raise ConfigError(f"{file}: holds several contracts ({listed}); name one as {file}#<name>")
            name = next(iter(contracts))
        if name not in contracts:
            raise NotFound(
                f"{file}: no contract named {name!r} (has: {', '.join(sorted(contracts)) or 'none'})"
            )
        return name, contracts[name]
    return name or file.stem.removesuffix(".contract"), parse_contract(raw, str(file))


def resolve_contract(source: ContractSource, workspace: Workspace | None = None) -> tuple[str, Contract]:
    """Resolve ``source`` to ``(name, contract)``.

    A string is first a contract name in the workspace's ``mlward.yaml``, then a file
    path (relative paths are tried from the current directory, then the workspace
    root); ``file.yaml#name`` picks one contract of a file holding several.
    """
    if isinstance(source, Contract):
        return "contract", source
    if isinstance(source, Mapping):
        return "contract", parse_contract(source, "contract")
    text = os.fspath(source)
    if workspace is not None and text in workspace.config.contracts:
        return text, workspace_contract(workspace, text)
    path_text, _, member = text.partition("#")
    path = Path(path_text)
    if not path.exists() and workspace is not None and not path.is_absolute():
        path = workspace.root / path
    if not path.exists():
        known = ", ".join(sorted(workspace.config.contracts)) if workspace is not None else ""
        hint = (
            f"contracts in mlward.yaml: {known}"
            if known
            else "give a contract file or a name from mlward.yaml"
        )
        raise NotFound(f"no contract named {text!r} and no such file", hint=hint)
    return read_contract_file(path, member or None)


def load_contract(
    source: ContractSource, name: str | None = None, *, workspace: Workspace | None = None
) -> Contract:
    """Load a contract from a file, a mapping, or a name in ``workspace``'s mlward.yaml."""
    if name is not None and isinstance(source, str | os.PathLike):
        source = f"{os.fspath(source)}#{name}"
    return resolve_contract(source, workspace)[1]


def workspace_contract(workspace: Workspace, name: str) -> Contract:
    """The contract named ``name`` under ``contracts:`` in mlward.yaml, validated.

    The one place that reads a ``contracts:`` entry, for every door (validate, pipeline
    stages, the model server): an entry is the contract itself (a mapping) or the path of
    its YAML file, relative to the workspace root and inside the workspace; a path that
    leads outside is refused, so mlward.yaml cannot point a server at any file on the host.
    """
    contracts = workspace.config.contracts
    if name not in contracts:
        known = ", ".join(sorted(contracts)) or "none"
        raise NotFound(f"no contract named {name!r} under 'contracts:' (has: {known})")
    value = contracts[name]
    if isinstance(value, str | os.PathLike):
        root = workspace.root.resolve()
        path = (root / os.fspath(value)).resolve()
        if not path.is_relative_to(root):
            raise ConfigError(
                f"{workspace.root / CONFIG_FILE}: contracts.{name}: the contract file {value} is "
                "outside the workspace",
                hint="keep contract files inside the workspace, or write the contract inline",
            )
        return read_contract_file(path)[1]
    return parse_contracts({name: value}, str(workspace.root / CONFIG_FILE))[name]
