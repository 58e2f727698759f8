"""Optional dependencies: the one place that imports a package behind an extra.

The default install (``pip install mlward``) runs every command on SQLite, the local
object store and the local engine. Other backends need an extra from pyproject.toml;
when its package is missing, ``require`` raises ``MissingDependency`` whose one-line
message names the extra, and the CLI prints it with exit code 2 (a ``ConfigError``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mlward.core.errors import ConfigError

EXTRAS: dict[str, tuple[str, ...]] = {
    "s3": ("s3fs",),
    "postgres": ("psycopg",),
    "redis": ("redis",),
    "dask": ("dask", "distributed"),
    "demo": ("faker",),
    "torch": ("torch",),
    "tensorflow": ("tensorflow",),
    "sql": ("duckdb",),
    "privacy": ("art",),
}
"""The top-level modules each extra of pyproject.toml installs (a test checks they agree)."""

MODULES_BEHIND_EXTRAS: dict[str, str] = {}
"""mlward modules that cannot be imported without an extra (module -> extra).

Empty on purpose: every optional package is imported inside the function that needs it,
through ``require``, so ``import mlward.<anything>`` works on the default install. The
clean-install test (tests/packaging/test_clean_install.py) imports every module except
these; add one here only with a reason, and list it in README ("Optional extras").
"""


class MissingDependency(ConfigError):
    """A feature needs a package that is not installed (named with its extra)."""

    def __init__(
        self, module: str, *, feature: str, extra: str | None, package: str | None, reason: str
    ) -> None:
        install = f"mlward[{extra}]" if extra else (package or module)
        super().__init__(f"install {install} to use {feature} ({reason})")
        self.module = module
        self.extra = extra


def extra_of(module: str) -> str | None:
    """The extra that installs ``module`` (or its top-level package), if any."""
    top = module.partition(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)


def require(module: str, *, feature: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise ``MissingDependency`` naming its extra (else pip ``package``).

    ``feature`` completes "install mlward[extra] to use ...", e.g. "s3:// object stores".
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # A package that is installed but broken (a missing shared library, a bad
        # transitive import) says why; a missing one just "is not installed".
        missing = exc.name is not None and (exc.name == module or module.startswith(exc.name + "."))
        reason = (
            f"{exc.name} is not installed"
            if missing
            else f"{module} cannot be imported: {str(exc).strip().splitlines()[0]}"
        )
        raise MissingDependency(
            module, feature=feature, extra=extra_of(module), package=package, reason=reason
        ) from exc


def optional(module: str) -> ModuleType | None:
    """Import ``module`` if it is installed, else None (for features that degrade gracefully)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
