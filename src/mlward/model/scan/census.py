"""The allowlist census: resolve every allowlisted name in the real libraries, keep the exact ones.

A pickle names a global by where it is *written* (``sklearn.utils._joblib.Parallel``); what
runs is the object that name *resolves* to (``joblib.parallel.Parallel``). The census imports
the libraries installed here, resolves each candidate name, records the ``__module__`` and
``__qualname__`` of the object, and keeps a name only when that object is defined inside the
package the name belongs to and nowhere near a dangerous module (process, network, threads,
files, introspection, code loading). Candidates come from ``allowlist.yaml``: the exact
``safe`` entries and the ``census`` rules, which enumerate the classes *defined* in the
modules they list; re-exports are never enumerated. The result is checked in next to the
YAML (``allowlist_census.json``) and is the only source of SAFE names the scanner uses.

Run: ``python -m mlward.model.scan.census`` (rewrites the checked-in file) or ``--check``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import inspect
import json
import pkgutil
import platform
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlward.model.scan.allowlist import CENSUS_PATH, allowlist_spec, parse_allowlist

_MISSING = object()
# Module components that hold tests, never model state.
_TEST_PARTS = frozenset({"tests", "test", "testing", "_testing", "conftest"})


@dataclass(frozen=True)
class Resolution:
    """What one written name resolves to, and the census verdict on it."""

    name: str
    """The name as a pickle writes it, ``module.qualname``."""
    kind: str
    """``class``, ``function``, ``constant``, ``module``, ``legacy`` or ``missing``."""
    defined: str
    """``__module__.__qualname__`` of the resolved object (of its type for a constant)."""
    source: str
    """The YAML group or census rule that proposed the name."""
    refused: str | None = None
    """Why the name is not allowed; ``None`` when it is."""


def resolve(name: str) -> Any:
    """Import the longest importable module prefix of ``name`` and walk the rest as attributes."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj: Any = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: S112 - any import failure means "not this prefix"
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated aliases warn on access
            for attr in parts[cut:]:
                obj = getattr(obj, attr, _MISSING)
                if obj is _MISSING:
                    break
            else:
                return obj
    return _MISSING


def describe(obj: Any) -> tuple[str, str]:
    """``(kind, defining module.qualname)`` of a resolved object."""
    if inspect.ismodule(obj):
        return "module", obj.__name__
    if isinstance(obj, type):
        return "class", f"{obj.__module__}.{obj.__qualname__}"
    if callable(obj):
        module = getattr(obj, "__module__", None) or "?"
        qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?")
        return "function", f"{module}.{qual}"
    kind = type(obj)
    return "constant", f"{kind.__module__}.{kind.__qualname__}"


class Census:
    """Runs the checks of one census over the candidates of ``allowlist.yaml``."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        allow = parse_allowlist(dict(spec))  # its critical globals; no census needed
        self.spec = spec
        self.danger = tuple(sorted(set(allow.critical_modules) | set(spec.get("refuse_defined_in", ()))))
        self.critical_names = allow.critical_names
        self.allowlist = allow

    def dangerous(self, module: str) -> bool:
        """True when ``module`` is, or is inside, a module the scanner treats as critical."""
        return any(module == d or module.startswith(f"{d}.") for d in self.danger)

    def check(self, name: str, obj: Any, source: str, *, same_module: bool) -> Resolution:
        """The verdict on ``name`` resolving to ``obj``."""
        kind, defined = describe(obj)
        result = Resolution(name=name, kind=kind, defined=defined, source=source)
        home = name.split(".")[0]
        module = defined.rpartition(".")[0] if kind != "module" else defined
        if kind == "module":
            return _refuse(result, "is a module, not a class or function")
        if self.allowlist.is_critical(name) or defined in self.critical_names:
            return _refuse(result, f"resolves to {defined}, a critical global")
        if self.dangerous(module):
            return _refuse(result, f"re-export of {defined}, defined in a dangerous module")
        if same_module and defined != name:
            return _refuse(result, f"re-export of {defined}")
        if module.split(".")[0] != home:
            return _refuse(result, f"re-export of {defined}, defined outside {home}")
        if isinstance(obj, type):
            for base in obj.__mro__[1:]:
                if self.dangerous(base.__module__):
                    return _refuse(result, f"subclasses {base.__module__}.{base.__qualname__}")
        return result

    def exact(self) -> Iterator[Resolution]:
        """Verdicts on the exact ``safe`` entries (legacy names through their current name)."""
        legacy: list[tuple[str, str, str]] = []
        done: dict[str, Resolution] = {}
        for group, items in self.spec.get("safe", {}).items():
            for item in items:
                name = item["name"]
                obj = resolve(name)
                if obj is _MISSING and item.get("legacy_of"):
                    legacy.append((name, item["legacy_of"], group))
                    continue
                if obj is _MISSING:
                    done[name] = Resolution(
                        name, "missing", "?", group, "does not resolve in the installed libraries"
                    )
                else:
                    done[name] = self.check(name, obj, group, same_module=False)
        for name, current, group in legacy:
            # A name older versions wrote: allowed only as an alias of an allowed current name.
            target = done.get(current)
            if target is None or target.refused:
                done[name] = Resolution(
                    name, "legacy", current, group, f"legacy alias of {current}, which is not allowed"
                )
            else:
                done[name] = Resolution(name, "legacy", target.defined, group)
        yield from done.values()

    def enumerated(self) -> Iterator[Resolution]:
        """Verdicts on the classes defined in the modules each ``census`` rule lists."""
        for rule in self.spec.get("census", ()):
            excludes = tuple(rule.get("exclude", ()))
            for modname in _modules(rule.get("walk", ()), rule.get("modules", ()), excludes):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        module = importlib.import_module(modname)
                except Exception:  # noqa: S112 - optional submodules may fail to import
                    continue
                for attr, obj in sorted(vars(module).items()):
                    if attr.startswith("__") or not (
                        _class_like(obj) or (rule.get("functions") and callable(obj))
                    ):
                        continue
                    res = self.check(f"{modname}.{attr}", obj, rule["id"], same_module=True)
                    if res.refused is None:
                        yield res
                    elif self.dangerous(res.defined.rpartition(".")[0]) or (
                        res.refused.startswith("subclasses")
                    ):
                        yield res  # what the old pattern let through: recorded as refused


def _refuse(result: Resolution, reason: str) -> Resolution:
    return Resolution(result.name, result.kind, result.defined, result.source, reason)


def _class_like(obj: Any) -> bool:
    # The CamelCase-name pattern this census replaces admitted any callable with a class-like
    # name; only real classes are enumerated, callables are listed only to show refusals.
    return isinstance(obj, type) or (callable(obj) and getattr(obj, "__name__", "x")[:1].isupper())


def _modules(walk: Iterable[str], listed: Iterable[str], excludes: tuple[str, ...]) -> list[str]:
    names = list(listed)
    for root in walk:
        names.append(root)
        try:
            package = importlib.import_module(root)
        except Exception:  # noqa: S112 - the library is not installed here
            continue
        path = getattr(package, "__path__", None)
        if path is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names += [m.name for m in pkgutil.walk_packages(path, f"{root}.", onerror=lambda _: None)]
    return sorted(
        {n for n in names if not _TEST_PARTS.intersection(n.split(".")) and not f"{n}.".startswith(excludes)}
    )


def _version(top: str) -> str:
    if top in sys.stdlib_module_names:
        return f"python {platform.python_version()}"
    try:
        return importlib.metadata.version({"sklearn": "scikit-learn"}.get(top, top))
    except importlib.metadata.PackageNotFoundError:
        module = sys.modules.get(top)
        return str(getattr(module, "__version__", "?"))


def build_census(spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run the census over the installed libraries and return the data to check in."""
    census = Census(spec if spec is not None else allowlist_spec())
    allowed: dict[str, str] = {}
    refused: dict[str, str] = {}
    for res in [*census.exact(), *census.enumerated()]:
        if res.refused is None:
            # "<source> <kind> [<defining module.qualname> when it is not the name itself]"
            where = "" if res.defined == res.name else f" {res.defined}"
            allowed[res.name] = f"{res.source} {res.kind}{where}"
        else:
            refused[res.name] = f"{res.refused} ({res.source})"
    tops = sorted({n.split(".")[0] for n in [*allowed, *refused]})
    return {
        "generated_by": "python -m mlward.model.scan.census",
        "libraries": {top: _version(top) for top in tops},
        "allowed": dict(sorted(allowed.items())),
        "refused": dict(sorted(refused.items())),
    }


def dumps(data: Mapping[str, Any]) -> str:
    """The checked-in text of a census: one entry a line, so diffs read entry by entry."""
    lines = ["{"]
    keys = list(data)
    for i, key in enumerate(keys):
        value = data[key]
        end = "," if i < len(keys) - 1 else ""
        if isinstance(value, dict) and value:
            lines.append(f"  {json.dumps(key)}: {{")
            items = list(value.items())
            for j, (k, v) in enumerate(items):
                sep = "," if j < len(items) - 1 else ""
                lines.append(f"    {json.dumps(k)}: {json.dumps(v)}{sep}")
            lines.append(f"  }}{end}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Regenerate the checked-in census, or compare it with a fresh one (``--check``)."""
    parser = argparse.ArgumentParser(
        prog="python -m mlward.model.scan.census", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--output", type=Path, default=CENSUS_PATH)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the file differs from a fresh census"
    )
    args = parser.parse_args(argv)
    text = dumps(build_census())
    if args.check:
        same = args.output.exists() and args.output.read_text("utf-8") == text
        print("census up to date" if same else f"census differs from {args.output}")
        return 0 if same else 1
    args.output.write_text(text, "utf-8")
    data = json.loads(text)
    print(f"{args.output}: {len(data['allowed'])} allowed, {len(data['refused'])} refused")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
