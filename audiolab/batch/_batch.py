"""The batch runner: a chain over a corpus, on local processes or a Dask cluster, with a manifest.

:func:`run_batch` collects the inputs (:mod:`._inputs`), skips those whose output is up to date
(:mod:`._manifest`), hands the rest to an executor (:mod:`._executors`) that runs the per-file
job (:mod:`._job`) on each, shows progress (:mod:`._progress`), and records every result in the
manifest, also when interrupted.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audiolab._errors import ConfigError
from audiolab._validate import check_int
from audiolab.batch._executors import (
    connect_dask,
    hear_ctrl_c,
    run_dask,
    run_local,
)
from audiolab.batch._inputs import collect_inputs, output_paths
from audiolab.batch._job import FileResult, FileTask, LevelOptions, process_file
from audiolab.batch._manifest import (
    MANIFEST_NAME,
    file_stat,
    reusable_results,
    stamped,
    write_manifest,
)
from audiolab.batch._progress import Progress
from audiolab.models._chain import ChainSpec, load_chain

__all__ = [
    "MANIFEST_NAME",
    "BatchReport",
    "FileResult",
    "FileTask",
    "LevelOptions",
    "collect_inputs",
    "process_file",
    "run_batch",
    "simulation_chain",
]

# How long a tcp:// scheduler has to answer the probe before it is taken as not a scheduler.
_PROBE_TIMEOUT_S = 5.0
# The executors' settings are read from this module when a batch starts, so that a test can
# replace them here (tests/test_cli_hostile.py).
_hear_ctrl_c = hear_ctrl_c


@dataclass(frozen=True)
class BatchReport:
    """Outcome of :func:`run_batch`: one result per input, in input order."""

    results: tuple[FileResult, ...]
    manifest_path: Path
    out_dir: Path

    def _with(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def processed(self) -> list[FileResult]:
        """Files processed in this run."""
        return self._with("processed")

    @property
    def skipped(self) -> list[FileResult]:
        """Files whose output was already up to date."""
        return self._with("up-to-date")

    @property
    def failed(self) -> list[FileResult]:
        """Files that could not be processed (``error`` says why)."""
        return self._with("failed")

    @property
    def exit_code(self) -> int:
        """1 if any file failed, else 0 (the CLI's exit code)."""
        return 1 if self.failed else 0


def simulation_chain(
    audiogram: str | os.PathLike[str], *, ci_channels: int | None = None
) -> ChainSpec:
    """The chain ``audiolab simulate`` runs: hearing-loss simulation, optionally a CI vocoder.

    Parameters
    ----------
    audiogram : str or path-like
        Preset name (``"N1"``..``"N7"``, ``"S1"``..``"S3"``) or audiogram file; a file path is
        made absolute so that workers in other folders (or on a cluster) find it.
    ci_channels : int, optional
        If given, an ``n_channels``-channel cochlear-implant vocoder (seed 1) follows the
        hearing-loss stage.

    Returns
    -------
    ChainSpec
        Validated like a chain file (an unknown preset or a bad file is a ConfigError).
    """
    text = os.fspath(audiogram)
    if Path(text).is_file():
        text = str(Path(text).resolve())
    stages: list[dict[str, Any]] = [{"type": "hearing-loss", "audiogram": text}]
    if ci_channels is not None:
        n = check_int("ci_channels", ci_channels, low=1)
        stages.append({"type": "ci-vocoder", "n_channels": n, "seed": 1})
    return load_chain({"stage": stages})


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    chain: "ChainSpec | str | os.PathLike[str] | Mapping[str, Any]",
    out_dir: str | os.PathLike[str],
    levels: LevelOptions | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    command: str = "process",
    progress: IO[str] | None = None,
) -> BatchReport:
    """Run a chain over files, folders or globs; write ``out_dir/<stem>.wav`` and a manifest.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Files, folders (searched recursively for sound files) or glob patterns.
    chain : ChainSpec, path or dict
        The chain (see :func:`audiolab.models.load_chain`).
    out_dir : str or path-like
        Output folder (created if missing); files inside it are never taken as inputs.
    levels : LevelOptions, optional
        Input and output level convention (default: a full-scale sine is 100 dB SPL).
    jobs : int, optional
        Local worker processes (default: all cores); 1 processes in this process.
    scheduler : str, optional
        Dask scheduler address (``tcp://HOST:PORT``) or scheduler-file path: run on that
        cluster instead of local processes. Workers must see the input and output paths.
    force : bool
        Process every file even if its output is up to date.
    command : str
        Name recorded in the manifest (``"process"`` or ``"simulate"``).
    progress : file-like, optional
        Stream for the progress bar (e.g. ``sys.stderr``); None for no progress output.

    Returns
    -------
    BatchReport
        One result per input; ``exit_code`` is 1 if any file failed.

    Raises
    ------
    ConfigError
        Before anything runs: a bad chain, a missing input, two inputs with the same stem, bad
        options, or an unreachable scheduler.
    """
    levels = LevelOptions() if levels is None else levels
    if not isinstance(levels, LevelOptions):
        raise ConfigError(f"levels must be a LevelOptions, got {type(levels).__name__}")
    jobs = check_int("jobs", (os.cpu_count() or 1) if jobs is None else jobs, low=1)
    chain_file = None if isinstance(chain, ChainSpec | Mapping) else Path(chain).resolve()
    spec = load_chain(chain)
    tasks, out = _plan(inputs, spec=spec, levels=levels, out_dir=Path(out_dir))
    client = None
    if scheduler is not None:
        client = connect_dask(scheduler, probe_timeout_s=_PROBE_TIMEOUT_S)
    try:
        out.mkdir(parents=True, exist_ok=True)
        header = _header(spec, levels, chain_file=chain_file, command=command)
        header["executor"] = _executor_record(scheduler, jobs)
        return _run_tasks(
            tasks, out=out, header=header, client=client, jobs=jobs, chain_file=chain_file,
            force=force, progress=progress, label=command,
        )
    finally:
        if client is not None:
            client.close()


def _plan(
    inputs: Sequence[str | os.PathLike[str]], *, spec: ChainSpec, levels: LevelOptions,
    out_dir: Path,
) -> tuple[list[FileTask], Path]:
    """One task per input, and the output folder resolved; nothing is written yet."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} exists and is not a folder")
    files = collect_inputs(inputs, exclude=out_dir)
    out = out_dir.resolve()
    tasks = [
        FileTask(input=str(f), output=str(o), chain=spec, levels=levels)
        for f, o in zip(files, output_paths(files, out), strict=True)
    ]
    return tasks, out


def _header(
    spec: ChainSpec, levels: LevelOptions, *, chain_file: Path | None, command: str
) -> dict[str, Any]:
    """The manifest's record of the setup (the executor is added by the caller)."""
    from audiolab import __version__

    return {
        "audiolab_version": __version__,
        "command": command,
        "chain": spec.to_dict(),
        "chain_file": None if chain_file is None else str(chain_file),
        "levels": levels.as_dict(),
    }


def _executor_record(scheduler: str | None, jobs: int) -> dict[str, Any]:
    """The manifest's ``executor``: local processes and how many, or the Dask scheduler."""
    if scheduler is None:
        return {"kind": "local", "jobs": jobs}
    return {"kind": "dask", "scheduler": scheduler}


def _run_tasks(
    tasks: list[FileTask],
    *,
    out: Path,
    header: dict[str, Any],
    client: Any,
    jobs: int,
    chain_file: Path | None,
    force: bool,
    progress: IO[str] | None,
    label: str,
) -> BatchReport:
    """Run the tasks not up to date, and write the manifest of all of them (also if interrupted)."""
    manifest_path = out / MANIFEST_NAME
    results = {} if force else reusable_results(
        manifest_path, header, tasks, chain_file=chain_file
    )
    # Inputs are stat'ed before they are read: a file changed during the run is then stale.
    before = {t.input: file_stat(t.input) for t in tasks}
    todo = [t for t in tasks if t.input not in results]
    # Biggest first: a long file started last would leave the other workers idle at the end.
    todo.sort(key=lambda t: -before[t.input][0])
    bar = Progress(len(todo), stream=progress, label=label)

    def emit(result: FileResult) -> None:
        results[result.input] = result
        bar.update(result)

    try:
        if client is not None:
            run_dask(client, todo, emit=emit)
        else:
            run_local(todo, jobs=jobs, emit=emit, worker_init=_hear_ctrl_c)
    finally:
        # Also when interrupted: what finished is recorded, so the next run skips it.
        ordered = tuple(
            stamped(results[t.input], before[t.input]) for t in tasks if t.input in results
        )
        write_manifest(manifest_path, ordered, header, complete=len(ordered) == len(tasks))
    return BatchReport(results=ordered, manifest_path=manifest_path, out_dir=out)
