"""The ``audiolab`` command."""

from audiolab.cli._main import main, run

__all__ = ["main", "run"]
