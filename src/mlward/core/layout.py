"""The names of a workspace's files, in a module of their own so that finding a
workspace does not import the config schema (pydantic) or anything else."""

from __future__ import annotations

CONFIG_FILE = "mlward.yaml"
"""The workspace configuration file; its directory is the workspace root."""

STATE_DIR = ".mlward"
"""The state directory (database, objects, keys) next to ``CONFIG_FILE``."""
