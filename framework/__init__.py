"""Spark Stacker: a plugin kernel for trading crypto perpetual futures with hedged positions.

Plugins need only ``from sparkstacker import hookimpl`` plus the contracts they implement.
"""

from importlib.metadata import PackageNotFoundError, version

from sparkstacker.hookspecs import hookimpl

try:
    __version__ = version("spark-stacker")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+local"

__all__ = ["__version__", "hookimpl"]
