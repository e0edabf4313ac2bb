"""audiolab.cli: the ``audiolab`` command; parses, calls the layers below, prints.

May import every layer except ``audiolab.gui``.
"""

from audiolab.cli._main import main, run

__all__ = ["main", "run"]
