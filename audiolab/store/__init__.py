"""audiolab.store: the SQLite results store.

Filled in by its issue. May import: the private base modules only (stdlib ``sqlite3``).
"""

__all__: list[str] = []
