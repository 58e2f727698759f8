"""The import rules of the house (docs/architecture.md, "Import rules"), checked on the source.

Every ``import`` and ``from ... import`` of every module under ``src/mlward`` counts, those
under ``if TYPE_CHECKING:`` and inside functions included: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import mlward

SRC = Path(mlward.__file__).parent
DOORS = ("mlward.cli", "mlward.serve", "mlward.web", "mlward.ui")
"""The adapters over the domain: the CLI, the HTTP server and the web UI."""


@dataclass(frozen=True)
class Rule:
    """Modules under ``scope`` may not import a module under ``forbidden``, unless under ``allowed``."""

    scope: tuple[str, ...]
    forbidden: tuple[str, ...]
    why: str
    allowed: tuple[str, ...] = ()


RULES = (
    Rule(("mlward.core",), ("mlward",), "core/ is the ground floor: only mlward.core", ("mlward.core",)),
    Rule(
        ("mlward.access", "mlward.audit", "mlward.store", "mlward.crypto"),
        ("mlward.cli", "mlward.serve", "mlward.pipeline", "mlward.web"),
        "the foundations never reach up into a door or the pipeline",
    ),
    Rule(
        ("mlward.store", "mlward.crypto", "mlward.audit", "mlward.lineage"),
        ("mlward.workspace",),
        "the composition root opens these; they never reach up to it",
    ),
    Rule(("mlward.workspace",), DOORS, "the composition root is built by the doors, not the other way round"),
)


def _packages() -> list[str]:
    return sorted(f"mlward.{p.name}" for p in SRC.iterdir() if (p / "__init__.py").is_file())


DOMAIN = tuple(p for p in _packages() if p not in DOORS)
RULES += (Rule(DOMAIN, ("mlward.cli", "mlward.serve"), "a domain package never imports a door"),)


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = ("mlward", *path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import statement in the file, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            # ``from mlward import serve`` imports mlward.serve: each name may be a submodule.
            found.append((node.lineno, source))
            found += [(node.lineno, f"{source}.{alias.name}") for alias in node.names]
    return found


def violations() -> list[str]:
    """One line per import that breaks a rule, naming the module, the line and the import."""
    broken = []
    for module, path in _modules().items():
        for rule in RULES:
            if not _under(module, rule.scope):
                continue
            reported: set[int] = set()
            for line, name in imports_of(module, path):
                if name == "mlward" or not _under(name, rule.forbidden) or _under(name, rule.allowed):
                    continue
                if line in reported:
                    continue  # ``from a.b import c``: a.b already named
                reported.add(line)
                broken.append(f"{module} ({path.relative_to(SRC.parent)}:{line}) imports {name}: {rule.why}")
    return broken


def test_every_module_keeps_the_import_rules():
    assert violations() == []


def test_the_rules_see_lazy_and_type_checking_imports(tmp_path: Path):
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from mlward.store.metadata import MetadataStore\n"
        "def f():\n    from mlward.serve import rbac\n    import mlward.cli.app\n"
        "from . import sibling\n"
    )
    found = [name for _, name in imports_of("mlward.core.probe", source)]
    assert {"mlward.store.metadata", "mlward.serve", "mlward.cli.app"} <= set(found)
    assert "mlward.core.sibling" in found


def test_domain_covers_the_packages_and_the_composition_root_exists():
    assert {"mlward.core", "mlward.access", "mlward.data", "mlward.model"} <= set(DOMAIN)
    assert not set(DOORS) & set(DOMAIN)
    assert "mlward.workspace" in _modules() and "mlward.core.workspace" not in _modules()
