"""Global CLI state: the options given before the command, and the open workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlward.cli.options import TABLE_JSON
from mlward.cli.output import OutputFormat
from mlward.workspace import Workspace


@dataclass
class CliState:
    """Options shared by every command."""

    workspace_dir: Path | None = None
    format: OutputFormat = OutputFormat.table
    debug: bool = False
    _workspace: Workspace | None = None

    def workspace(self) -> Workspace:
        """Open (once) the workspace named by ``--workspace`` or found from the cwd."""
        if self._workspace is None:
            self._workspace = Workspace.open(self.workspace_dir)
        return self._workspace

    def close(self) -> None:
        """Release the workspace's connections."""
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None


STATE = CliState()


def resolve_format(local: OutputFormat | None, allowed: tuple[str, ...] = TABLE_JSON) -> OutputFormat:
    """The command's ``--format`` if given, else the global one; refuse unsupported ones."""
    from mlward.core.errors import ConfigError

    chosen = local or STATE.format
    if chosen.value not in allowed:
        raise ConfigError(
            f"--format {chosen.value} is not available here; choose one of: {', '.join(allowed)}"
        )
    return chosen
