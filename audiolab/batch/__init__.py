"""audiolab.batch: runs a chain over a corpus of files, on local processes or a Dask cluster.

Input collection (files, folders, globs), per-file isolation of failures, the level options of
offline commands, the manifest written beside the outputs, and the progress bar.

May import: ``audiolab.models``, ``audiolab.audiology``, ``audiolab.calibration``, ``audiolab.dsp``
and the private base modules. Dask is imported only when a scheduler is given.
"""

from audiolab.batch._batch import (
    BatchReport,
    FileResult,
    LevelOptions,
    collect_inputs,
    run_batch,
    simulation_chain,
)

__all__ = [
    "BatchReport",
    "FileResult",
    "LevelOptions",
    "collect_inputs",
    "run_batch",
    "simulation_chain",
]
