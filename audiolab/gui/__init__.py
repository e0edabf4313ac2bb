"""audiolab.gui: the Qt application (PySide6 + pyqtgraph), the only place that imports Qt.

Filled in by its issue. May import every layer.
"""

__all__: list[str] = []
