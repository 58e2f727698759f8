"""Static scanning of model files for code execution and malformed content.

``scan(path)`` / ``scan_path`` / ``scan_paths`` return a ``ScanReport``; nothing is ever
deserialized. See docs/model-scan.md for formats, the allowlist and rule ids.
"""

from mlward.model.scan.allowlist import Allowlist, GlobalStatus, default_allowlist
from mlward.model.scan.api import collect_files, scan, scan_file, scan_path, scan_paths
from mlward.model.scan.interface import FileReport, ScanLimits, ScanReport, Verdict
from mlward.model.scan.rules import RULES

__all__ = [
    "RULES",
    "Allowlist",
    "FileReport",
    "GlobalStatus",
    "ScanLimits",
    "ScanReport",
    "Verdict",
    "collect_files",
    "default_allowlist",
    "scan",
    "scan_file",
    "scan_path",
    "scan_paths",
]
