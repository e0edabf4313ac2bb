"""audiolab.batch: runs a chain over a corpus of files, on local processes or a Dask cluster.

Input collection (files, folders, globs), per-file isolation of failures, the level options of
offline commands, the manifest written beside the outputs, and the progress bar.

May import: ``audiolab.models``, ``audiolab.audiology``, ``audiolab.calibration``, ``audiolab.dsp``
and the private base modules. Dask is imported only when a scheduler is given.
"""

from audiolab.batch._batch import BatchReport, run_batch, simulation_chain
from audiolab.batch._inputs import collect_inputs
from audiolab.batch._job import FileResult, LevelOptions

__all__ = [
    "BatchReport",
    "FileResult",
    "LevelOptions",
    "collect_inputs",
    "run_batch",
    "simulation_chain",
]
