"""audiolab.batch: runs a chain over a corpus of files, on local processes or a Dask cluster.

Input collection (files, folders, globs), per-file isolation of failures, the level options of
offline commands, the manifest written beside the outputs, the progress bar, and the
scoring of reference/processed pairs (STOI, ESTOI, SII, HASPI, HASQI).

May import: ``audiolab.models``, ``audiolab.audiology``, ``audiolab.calibration``, ``audiolab.dsp``
and the private base modules. Dask is imported only when a scheduler is given.
"""

from audiolab.batch._batch import BatchReport, run_batch, simulation_chain
from audiolab.batch._inputs import collect_inputs
from audiolab.batch._job import FileResult, LevelOptions
from audiolab.batch._score import (
    LISTENER_METRICS,
    METRICS,
    SCORE_COLUMNS,
    ListenerOptions,
    ScoreReport,
    ScoreTask,
    add_scores_to_manifest,
    pair_files,
    run_scoring,
    score_summary,
    tasks_from_batch,
    write_scores_csv,
)

__all__ = [
    "LISTENER_METRICS",
    "METRICS",
    "SCORE_COLUMNS",
    "BatchReport",
    "FileResult",
    "LevelOptions",
    "ListenerOptions",
    "ScoreReport",
    "ScoreTask",
    "add_scores_to_manifest",
    "collect_inputs",
    "pair_files",
    "run_batch",
    "run_scoring",
    "score_summary",
    "simulation_chain",
    "tasks_from_batch",
    "write_scores_csv",
]
