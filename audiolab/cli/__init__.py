"""The ``audiolab`` command."""

from audiolab.cli._main import main

__all__ = ["main"]
