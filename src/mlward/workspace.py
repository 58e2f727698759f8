"""A mlward workspace: ``mlward.yaml`` plus the ``.mlward/`` state directory.

``Workspace.init`` creates both; ``Workspace.open`` finds a workspace at or above a
directory and lazily connects its stores. Every state-changing service records an
audit event through ``Workspace.audit``.
"""

from __future__ import annotations

import getpass
import os
import shutil
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from mlward.core.errors import ConfigError, IntegrityError, WorkspaceNotFound
from mlward.core.layout import CONFIG_FILE, STATE_DIR

# The config schema (pydantic, yaml) is imported when a workspace is opened, not with this
# module: commands that only look for a workspace (``model scan`` outside one) start fast.
if TYPE_CHECKING:
    from mlward.audit.log import AuditLog
    from mlward.core.config import MlwardConfig
    from mlward.crypto.keys import KeyRing
    from mlward.lineage.graph import Lineage
    from mlward.store.metadata import MetadataStore
    from mlward.store.objects import ObjectStore

AUDIT_KEY_PURPOSE = "mlward audit seal v1"


def current_principal() -> str:
    """The local principal: ``MLWARD_PRINCIPAL`` or the OS user name."""
    explicit = os.environ.get("MLWARD_PRINCIPAL")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


class Workspace:
    """An opened workspace."""

    def __init__(self, root: Path, config: MlwardConfig) -> None:
        self.root = root
        self.config = config
        self.read_only = False
        """Open the metadata database read-only (commands that only look)."""
        self._creating = False

    @property
    def state_dir(self) -> Path:
        """The ``.mlward`` directory."""
        return self.root / STATE_DIR

    @property
    def config_path(self) -> Path:
        """The ``mlward.yaml`` file."""
        return self.root / CONFIG_FILE

    @classmethod
    def find_root(cls, start: Path) -> Path:
        """The nearest directory at or above ``start`` holding ``mlward.yaml``."""
        start = start.resolve()
        for candidate in (start, *start.parents):
            if (candidate / CONFIG_FILE).is_file():
                return candidate
        raise WorkspaceNotFound(
            f"{start} is not inside a mlward workspace (no {CONFIG_FILE} found here or above)",
            hint="run 'mlward init' or pass --workspace DIR",
        )

    @classmethod
    def open(cls, start: Path | str | None = None) -> Workspace:
        """Open the workspace at or above ``start`` (default: the current directory)."""
        root = cls.find_root(Path(start) if start else Path.cwd())
        from mlward.core.config import load_config

        config = load_config(root / CONFIG_FILE)
        workspace = cls(root, config)
        if not workspace.state_dir.is_dir():
            raise WorkspaceNotFound(
                f"{root} has {CONFIG_FILE} but no {STATE_DIR}/ directory",
                hint="run 'mlward init' there to create the state directory and keys",
            )
        return workspace

    @classmethod
    def init(cls, directory: Path | str, *, project: str | None = None, force: bool = False) -> Workspace:
        """Create a workspace in ``directory``; never overwrites an existing one."""
        from mlward.core.config import load_config
        from mlward.crypto.keys import KeyRing

        root = Path(directory).resolve()
        config_path = root / CONFIG_FILE
        state = root / STATE_DIR
        if state.exists() and not force:
            raise ConfigError(f"{root} is already a mlward workspace ({STATE_DIR}/ exists)")
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / ".mlward-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"cannot write to {root}: {exc.strerror}", hint="choose a writable directory"
            ) from exc
        created_config = False
        try:
            if not config_path.exists():
                template = resources.files("mlward.core").joinpath("template.yaml").read_text()
                name = project or root.name or "mlward-project"
                config_path.write_text(
                    template.replace("{project}", _yaml_string(name)).replace(
                        "{principal}", _yaml_string(current_principal())
                    )
                )
                created_config = True
            config = load_config(config_path)
            state.mkdir(mode=0o700, exist_ok=True)
            KeyRing(state / "keys").create()
            workspace = cls(root, config)
            workspace._creating = True
            workspace.metadata  # noqa: B018 - creates and migrates the database
            workspace.objects  # noqa: B018
            _ensure_gitignore(root)
            workspace.audit.append(
                current_principal(), "workspace.init", str(root), details={"project": config.project}
            )
        except BaseException:
            # Leave nothing half-written: a failed init removes what it created.
            shutil.rmtree(state, ignore_errors=True)
            if created_config:
                config_path.unlink(missing_ok=True)
            raise
        return workspace

    @cached_property
    def metadata_url(self) -> str:
        """The metadata database URL in effect."""
        return self.config.metadata_url or f"sqlite:///{self.state_dir / 'mlward.db'}"

    @property
    def anchor_path(self) -> Path:
        """The sealed audit-chain head kept beside the database."""
        from mlward.audit.anchor import ANCHOR_FILE

        return self.state_dir / ANCHOR_FILE

    @property
    def default_database(self) -> Path | None:
        """The SQLite file of the default metadata store (``None`` with ``metadata_url``)."""
        return None if self.config.metadata_url else self.state_dir / "mlward.db"

    @cached_property
    def metadata(self) -> MetadataStore:
        """The metadata store, migrated; refused when it is not the database the audit anchor records."""
        from mlward.audit.anchor import read_anchor_file
        from mlward.audit.log import chain_head
        from mlward.store.metadata import MetadataStore

        recorded = read_anchor_file(self.anchor_path)
        database = self.default_database
        if database is not None and not self._creating:
            missing = not database.exists() or database.stat().st_size == 0
            if missing and (recorded is not None or (self.state_dir / "keys").is_dir()):
                # Opening would silently create a fresh, empty database and a fresh chain.
                events = f"the audit anchor records {recorded.seq} events" if recorded else "keys exist"
                raise IntegrityError(
                    f"the metadata database {database} is missing or empty but this workspace "
                    f"has one ({events}): it was deleted, replaced or truncated",
                    hint="restore .mlward/mlward.db from a backup; mlward will not create a fresh one",
                )
        store = MetadataStore.open(
            self.metadata_url,
            lock_dir=self.state_dir,
            read_only=self.read_only,
            busy_timeout=self.config.metadata_busy_timeout,
        )
        if recorded is not None:
            head = chain_head(store)
            if head < recorded.seq:
                store.close()
                raise IntegrityError(
                    f"the metadata database records {head} audit events but the audit anchor "
                    f"{self.anchor_path} records {recorded.seq}: the database was replaced or truncated",
                    hint="restore the database from a backup; 'mlward audit verify' tells the details",
                )
        return store

    @cached_property
    def objects(self) -> ObjectStore:
        """The content-addressed object store."""
        from mlward.store.objects import ObjectStore

        return ObjectStore(self.config.object_store or self.state_dir / "objects")

    @cached_property
    def keys(self) -> KeyRing:
        """The keyring."""
        from mlward.crypto.keys import KeyRing

        return KeyRing(self.state_dir / "keys")

    @cached_property
    def audit(self) -> AuditLog:
        """The hash-chained audit log."""
        from mlward.audit.log import AuditLog

        # The seal key is derived from the first data key, so rotation keeps old
        # events verifiable.
        first = next(info.kid for info in self.keys.list() if info.kind == "data")
        return AuditLog(
            self.metadata, self.keys.derive(AUDIT_KEY_PURPOSE, kid=first), anchor_path=self.anchor_path
        )

    @cached_property
    def lineage(self) -> Lineage:
        """Lineage records."""
        from mlward.lineage.graph import Lineage

        return Lineage(self.metadata, namespace=self.config.project)

    def close(self) -> None:
        """Release database connections."""
        if "metadata" in self.__dict__:
            self.metadata.close()


def _yaml_string(value: str) -> str:
    import json

    return json.dumps(value)


def _ensure_gitignore(root: Path) -> None:
    gitignore = root / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    if f"{STATE_DIR}/" not in lines and STATE_DIR not in lines:
        with gitignore.open("a") as handle:
            if lines and lines[-1] != "":
                handle.write("\n")
            handle.write(
                f"# mlward state: database, object store and keys (never commit keys)\n{STATE_DIR}/\n"
            )
