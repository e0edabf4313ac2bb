"""audiolab.store: the SQLite results store of listening experiments.

One database file holds subjects (pseudonyms only), sessions (experiment file and its hash,
calibration, software version, seed, listener, live audio set-up, status), trials (one committed
transaction each) and session events. It is crash-safe (WAL, ``synchronous=FULL``), shared by
several processes at once, created readable by its owner only, versioned with numbered
migrations, and exports one row per trial to CSV and JSON.

May import: the private base modules only (stdlib ``sqlite3``).

Examples
--------
>>> import os, tempfile
>>> from audiolab.store import ResultsStore, VIRTUAL_IDEAL_CALIBRATION
>>> with ResultsStore(os.path.join(tempfile.mkdtemp(), "results.sqlite")) as store:
...     sid = store.start_session(
...         subject="P01", experiment_name="demo", experiment_toml="",
...         calibration=VIRTUAL_IDEAL_CALIBRATION, software_version="0.1.0", seed=3,
...         listener="simulated:N3")
...     store.session(sid).subject
'P01'
"""

from audiolab._errors import StoreError
from audiolab.store._pseudonym import MAX_PSEUDONYM_CHARS, check_pseudonym
from audiolab.store._schema import SCHEMA_VERSION
from audiolab.store._store import (
    EVENT_KINDS,
    EXPORT_COLUMNS,
    SESSION_STATUSES,
    VIRTUAL_IDEAL_CALIBRATION,
    Event,
    LiveRun,
    ResultsStore,
    Session,
    Trial,
    default_path,
)

__all__ = [
    "EVENT_KINDS",
    "EXPORT_COLUMNS",
    "MAX_PSEUDONYM_CHARS",
    "SCHEMA_VERSION",
    "SESSION_STATUSES",
    "VIRTUAL_IDEAL_CALIBRATION",
    "Event",
    "LiveRun",
    "ResultsStore",
    "Session",
    "StoreError",
    "Trial",
    "check_pseudonym",
    "default_path",
]
