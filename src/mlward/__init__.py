"""mlward: DevSecOps for machine learning.

The public surface is small: the error hierarchy and the workspace entry point.
Domain packages (``mlward.model``, ``mlward.data``, ...) expose their own service
functions.
"""

from mlward.core.errors import (
    AccessDenied,
    ConfigError,
    IntegrityError,
    MlwardError,
    PolicyViolation,
    ScanError,
)

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "ConfigError",
    "IntegrityError",
    "MlwardError",
    "PolicyViolation",
    "ScanError",
    "__version__",
]
