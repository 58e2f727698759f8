"""The allowlist of globals a pickle may import and call, and the classifier over it.

The list is data: ``allowlist.yaml`` next to this module (versioned, one justification per
entry) proposes names, and ``allowlist_census.json`` (generated from the real libraries by
``python -m mlward.model.scan.census``) keeps those whose object is really defined inside
its package. A global is SAFE only when its full dotted name is in the census, exactly;
the shipped list has no patterns, so a re-export (``pkg.mod.Client`` that is really
``multiprocessing.connection.Client``) is never admitted by the name it is written under.
Globals that are known to run code, touch files or reach the network are CRITICAL;
everything else is UNKNOWN (reported HIGH: "unknown callable, review"). Critical always
wins: an extension entry cannot make ``os.system`` safe.
"""

from __future__ import annotations

import _compat_pickle
import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from mlward.core.errors import ConfigError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAMEL = re.compile(r"^_?[A-Z][A-Za-z0-9_]*$")
# TorchScript's name mangling of recompiled classes (``__torch__.m.___torch_mangle_3.Linear``).
_TORCH_MANGLE = re.compile(r"^___torch_mangle_[0-9]+$")
SPEC_PATH = Path(__file__).with_name("allowlist.yaml")
CENSUS_PATH = Path(__file__).with_name("allowlist_census.json")


class GlobalStatus(enum.Enum):
    """Classification of one imported global."""

    SAFE = "safe"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AllowEntry:
    """One exactly named safe global."""

    name: str
    """Full dotted name, ``module.qualname``."""
    why: str
    """One-line justification."""
    callable_args: tuple[int, ...] = ()
    """Argument positions this function calls or instantiates: they must be safe globals."""


@dataclass(frozen=True)
class ClassPattern:
    """A workspace wildcard: CamelCase class names directly in the user's own module."""

    prefix: str
    """Dotted package prefix ending with a dot (``sklearn.``)."""
    why: str
    """One-line justification."""
    exclude: tuple[str, ...] = ()
    """Sub-prefixes that are never accepted by this pattern."""

    def matches(self, module: str, name: str) -> bool:
        """True when ``module.name`` is a plausible class under the prefix."""
        full = f"{module}."
        if not full.startswith(self.prefix) or any(full.startswith(e) for e in self.exclude):
            return False
        # One class name, no attribute traversal, no dunders: a class is safe to construct
        # through __new__/__setstate__, an arbitrary function under the package is not.
        if "." in name or not _CAMEL.match(name) or name.startswith("__"):
            return False
        return all(_IDENT.match(p) and not p.startswith("__") for p in module.split("."))


@dataclass(frozen=True)
class Allowlist:
    """Safe globals plus the knowledge of which unsafe globals are critical."""

    version: int
    """Version of the shipped list."""
    exact: Mapping[str, AllowEntry]
    """Safe globals by full dotted name."""
    patterns: tuple[ClassPattern, ...]
    """Workspace wildcards (``mypkg.models.*``); the shipped list has none."""
    critical_modules: frozenset[str]
    """Modules (and their submodules) whose members are all critical."""
    critical_names: frozenset[str]
    """Individual critical globals outside critical modules."""
    critical_attrs: frozenset[str]
    """Attribute names that are critical wherever they are reached (``system``, ``eval``)."""
    trusted_prefixes: tuple[str, ...] = ()
    """Name prefixes resolved by a non-Python loader in this context (TorchScript)."""
    _cache: dict[tuple[str, str, bool], GlobalStatus] = field(
        default_factory=dict, compare=False, repr=False, init=False
    )

    def classify(self, module: str, name: str, proto: int = 4) -> GlobalStatus:
        """Classify ``module``/``name`` as a pickle of protocol ``proto`` would resolve them."""
        key = (module, name, proto < 3)
        status = self._cache.get(key)
        if status is None:
            status = self._classify(module, name, proto)
            if len(self._cache) < 100_000:
                self._cache[key] = status
        return status

    @staticmethod
    def py2_mapping(module: str, name: str) -> tuple[str, str] | None:
        """The Python 3 name the unpickler substitutes below protocol 3, if any."""
        # Python 2 names (``__builtin__``, ``copy_reg``) are mapped by the unpickler for
        # protocols < 3 (and Python 3 writes them at protocol 2).
        if (module, name) in _compat_pickle.NAME_MAPPING:
            return _compat_pickle.NAME_MAPPING[(module, name)]
        if module in _compat_pickle.IMPORT_MAPPING:
            return _compat_pickle.IMPORT_MAPPING[module], name
        return None

    def effective_name(self, module: str, name: str, proto: int) -> str:
        """The dotted name the unpickler resolves for ``module``/``name``."""
        mapped = self.py2_mapping(module, name) if proto < 3 else None
        return ".".join(mapped) if mapped else f"{module}.{name}"

    def _trusted(self, module: str, name: str) -> bool:
        """A TorchScript class name, resolved by TorchScript's compiler and never imported."""
        if not self.trusted_prefixes or not f"{module}.{name}".startswith(self.trusted_prefixes):
            return False
        parts = module.split(".")[1:] if module.startswith("__torch__") else module.split(".")
        return all(
            _IDENT.match(p) and (not p.startswith("__") or _TORCH_MANGLE.match(p)) for p in [*parts, name]
        ) and not name.startswith("__")

    def _classify(self, module: str, name: str, proto: int) -> GlobalStatus:
        if self._trusted(module, name):
            return GlobalStatus.SAFE
        raw = (module, name)
        mapped = self.py2_mapping(module, name)
        candidates = [raw] + ([mapped] if mapped else [])
        if any(self.is_critical_global(m, n) for m, n in candidates):
            return GlobalStatus.CRITICAL
        eff_module, eff_name = mapped if (mapped and proto < 3) else raw
        if f"{eff_module}.{eff_name}" in self.exact:
            return GlobalStatus.SAFE
        if any(p.matches(eff_module, eff_name) for p in self.patterns):
            return GlobalStatus.SAFE
        return GlobalStatus.UNKNOWN

    def is_critical(self, dotted: str) -> bool:
        """True when a dotted ``module.name`` path reaches something critical."""
        module, _, name = dotted.rpartition(".")
        return self.is_critical_global(module, name)

    def is_critical_global(self, module: str, name: str) -> bool:
        """True when importing ``module`` and walking ``name`` reaches a critical object."""
        mparts = module.split(".") if module else []
        nparts = name.split(".")
        parts = mparts + nparts
        if any(p.startswith("__") and p.endswith("__") and p not in _HARMLESS_DUNDERS for p in parts):
            return True
        if nparts[-1] in self.critical_attrs:
            return True
        # The module and every package above it, then the fully qualified name.
        for i in range(1, len(parts) + 1):
            if ".".join(parts[:i]) in self.critical_modules:
                return True
        if ".".join(parts) in self.critical_names:
            return True
        # Attribute traversal (``pathlib`` + ``os.system``): whatever the name walks
        # through is reached as if imported directly.
        for i in range(len(nparts) - 1):
            if self.is_critical_global(nparts[i], ".".join(nparts[i + 1 :])):
                return True
        return False

    def entry(self, dotted: str) -> AllowEntry | None:
        """The exact allowlist entry for ``dotted``, if any."""
        return self.exact.get(dotted)

    def extended(self, extra: Iterable[str | Mapping[str, Any]] | None) -> Allowlist:
        """Return a copy with workspace entries added (``pkg.mod.Name`` or ``pkg.mod.*``)."""
        if not extra:
            return self
        exact = dict(self.exact)
        patterns = list(self.patterns)
        for item in extra:
            if isinstance(item, str):
                item = {"name": item, "why": "workspace allowlist"}
            name = str(item.get("name", ""))
            why = str(item.get("why", "workspace allowlist"))
            if name.endswith(".*"):
                prefix = name[:-1]
                if prefix.count(".") < 2 and not item.get("allow_top_level"):
                    raise ConfigError(
                        f"allowlist wildcard {name!r} is too broad",
                        hint="name a module, e.g. mypkg.models.*",
                    )
                patterns.append(ClassPattern(prefix=prefix, why=why))
            elif "." in name and all(_IDENT.match(p) for p in name.split(".")):
                args = tuple(int(a) for a in item.get("callable_args", ()))
                exact[name] = AllowEntry(name=name, why=why, callable_args=args)
            else:
                raise ConfigError(f"invalid allowlist entry {name!r}", hint="use module.Name")
        return Allowlist(
            version=self.version,
            exact=exact,
            patterns=tuple(patterns),
            critical_modules=self.critical_modules,
            critical_names=self.critical_names,
            critical_attrs=self.critical_attrs,
        )


# Dunder names that appear in legitimate reconstruction globals.
_HARMLESS_DUNDERS = frozenset({"__builtin__", "__newobj__", "__newobj_ex__", "__main__", "__torch__"})


def parse_allowlist(data: dict[str, Any], census: Mapping[str, Any] | None = None) -> Allowlist:
    """The allowlist of spec ``data``: SAFE names are those the ``census`` allowed."""
    proposed = {item["name"]: item for group in data.get("safe", {}).values() for item in group}
    rules = {rule["id"]: rule for rule in data.get("census", [])}
    exact: dict[str, AllowEntry] = {}
    for name, record in (census or {}).get("allowed", {}).items():
        item = proposed.get(name) or rules.get(record.split(" ")[0])
        if item is None:
            continue  # the census is newer than the spec: a name no one proposes is not safe
        exact[name] = AllowEntry(
            name=name, why=item["why"], callable_args=tuple(item.get("callable_args", ()))
        )
    crit = data.get("critical", {})
    return Allowlist(
        version=int(data["version"]),
        exact=exact,
        patterns=(),
        critical_modules=frozenset(crit.get("modules", [])),
        critical_names=frozenset(crit.get("names", [])),
        critical_attrs=frozenset(crit.get("attributes", [])),
    )


@lru_cache(maxsize=1)
def allowlist_spec() -> dict[str, Any]:
    """The shipped ``allowlist.yaml``: proposed names, census rules and critical globals."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
    return dict(yaml.load(SPEC_PATH.read_text("utf-8"), Loader=loader))  # noqa: S506 - safe loader


@lru_cache(maxsize=1)
def default_allowlist() -> Allowlist:
    """Load the allowlist shipped with mlward: the spec, restricted to what the census kept."""
    census = json.loads(CENSUS_PATH.read_text("utf-8")) if CENSUS_PATH.exists() else None
    return parse_allowlist(allowlist_spec(), census)
