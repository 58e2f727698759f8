"""The ``mlward.yaml`` schema, loading and validation.

The file is parsed with PyYAML's safe loader and validated with pydantic; every
section forbids unknown keys so a typo is an error that names the key path.
Environment variables ``MLWARD_<SECTION>__<KEY>`` override file values (for example
``MLWARD_SERVE__PORT=9000`` or ``MLWARD_METADATA_URL=postgresql+psycopg://...``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlward.core.errors import ConfigError
from mlward.core.layout import CONFIG_FILE as CONFIG_FILE

SEVERITIES = ("info", "low", "medium", "high", "critical")
ENV_PREFIX = "MLWARD_"


class Section(BaseModel):
    """Base for every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RoleSpec(Section):
    """A role: the permissions it grants and the local principals that hold it."""

    description: str = ""
    permissions: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)


class ModelSection(Section):
    """Model supply-chain settings."""

    block_on: Literal["info", "low", "medium", "high", "critical"] = "high"
    allowlist: list[str] = Field(default_factory=list)
    """Extra pickle globals (``module.qualname``) trusted in this workspace."""
    require_signature: bool = True


class DataSection(Section):
    """DataOps settings."""

    encrypt_sensitive: bool = False
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None


class ServeSection(Section):
    """Inference gateway settings."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    rate_limit: str = "100/second"
    rate_limit_storage: str = "memory://"
    refresh_interval: float = Field(default=0, ge=0, description="seconds; 0 disables")
    integrity_interval: float = Field(default=60, ge=0)
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_batch: int = Field(default=1000, ge=1)
    require_signed_requests: bool = False
    api_docs: Literal["auth", "public", "off"] = "auth"
    abuse_policy: Literal["log", "flag", "block"] = "flag"
    jwt: dict[str, Any] = Field(default_factory=dict)
    rate_limit_strategy: Literal["sliding-window", "moving-window", "fixed-window"] = "sliding-window"
    rate_limit_prefix: str = "mlward"
    model_rate_limit: str = "1000/second"
    rows_rate_limit: str = "10000/second"
    unauthenticated_rate_limit: str = "30/minute"
    auth_denial_summary_interval: float = Field(default=60, gt=0, le=3600)
    registry_poll_interval: float = Field(default=5, ge=0)
    token_cache_seconds: float = Field(default=2.0, ge=0)
    signature_skew_seconds: int = Field(default=300, ge=1)
    journal_flush_interval: float = Field(default=0.25, gt=0)
    audit_shipper: Literal["process", "thread"] = "process"
    audit_durability: Literal["process", "disk"] = "process"
    journal_sync_interval: float = Field(default=0.05, gt=0, le=10)
    # Typed by mlward.inference.settings (ModelServeSpec / GuardSettings) when served.
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    guards: dict[str, Any] = Field(default_factory=dict)


class DatasetSpec(Section):
    """A dataset declared in the workspace."""

    path: str
    description: str = ""
    owner: str = ""
    tags: list[str] = Field(default_factory=list)
    contract: str | None = None


class MlwardConfig(Section):
    """The whole ``mlward.yaml``."""

    version: Literal[1] = 1
    project: str = "mlward-project"
    metadata_url: str | None = None
    """SQLAlchemy URL; default SQLite at ``.mlward/mlward.db``."""
    metadata_busy_timeout: float = Field(default=5.0, ge=0, le=600)
    """Seconds to wait for a locked SQLite database before giving up (exit 3)."""
    object_store: str | None = None
    """fsspec URL of the blob store; default ``.mlward/objects``."""
    roles: dict[str, RoleSpec] = Field(default_factory=dict)
    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection = Field(default_factory=DataSection)
    serve: ServeSection = Field(default_factory=ServeSection)
    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    # Sections whose detailed schemas belong to their own packages; each package
    # validates its part with its own pydantic model when it reads it.
    contracts: dict[str, Any] = Field(default_factory=dict)
    pii: dict[str, Any] = Field(default_factory=dict)
    drift: dict[str, Any] = Field(default_factory=dict)
    pipeline: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] = Field(default_factory=dict)

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice (PyYAML would silently keep the last)."""

    def __init__(self, key: object, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(problem=f"duplicate key {key!r}", problem_mark=again)
        self.key = key
        self.first_line = first.line + 1
        self.line = again.line + 1


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key repeated in any mapping at any depth."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<' merges are meant to be overridden by the keys beside them
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base loader reports it
            if first is not None:
                raise DuplicateKeyError(key, first, key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse YAML with the safe loader; a repeated mapping key raises ``DuplicateKeyError``."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def _format_location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def format_validation_error(source: str, error: ValidationError) -> str:
    """Render a pydantic error as ``file: key.path: problem`` lines."""
    lines = []
    for item in error.errors():
        where = _format_location(tuple(item["loc"]))
        problem = item["msg"]
        if item["type"] == "extra_forbidden":
            problem = "unknown key (check the spelling; see docs/configuration.md)"
        got = item.get("input")
        if item["type"] != "extra_forbidden" and isinstance(got, str | int | float | bool):
            problem += f" (got {got!r})"
        lines.append(f"{source}: {where}: {problem}")
    return "; ".join(lines)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """Turn ``MLWARD_A__B=v`` variables into a nested dict ``{"a": {"b": v}}``."""
    overrides: dict[str, Any] = {}
    top = set(MlwardConfig.model_fields)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in top:
            continue  # other MLWARD_* variables (MLWARD_PRINCIPAL, ...) are not config
        node = overrides
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = yaml.safe_load(value) if value else value
    return overrides


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_config(text: str, source: str = CONFIG_FILE, environ: dict[str, str] | None = None) -> MlwardConfig:
    """Parse and validate YAML text, applying ``MLWARD_*`` overrides from ``environ``."""
    try:
        raw = load_yaml(text)
    except DuplicateKeyError as exc:
        raise ConfigError(
            f"{source}: duplicate key {exc.key!r} at line {exc.line} (first given at line "
            f"{exc.first_line}); YAML would silently keep only the last one",
            hint="merge the two entries into one",
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    data = _deep_merge(raw, _env_overrides(dict(os.environ) if environ is None else environ))
    try:
        return MlwardConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from exc


def load_config(path: Path, environ: dict[str, str] | None = None) -> MlwardConfig:
    """Read and validate ``mlward.yaml`` at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found", hint="run 'mlward init' to create a workspace") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_config(text, str(path), environ)
