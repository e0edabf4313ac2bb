"""audiolab.experiments: listening-experiment procedures, listeners and the runner.

Filled in by its issue. May import: ``audiolab.store``, ``audiolab.engine`` and the layers below.
"""

__all__: list[str] = []
