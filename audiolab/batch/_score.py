"""Scoring of reference/processed pairs on the batch runner's executors.

The metrics: STOI, ESTOI, SII, HASPI and HASQI.

A :class:`ScoreTask` is one pair; :meth:`ScoreTask.run` reads both files, aligns them by the
chain's delay, scores them and never raises for a bad pair (its result says why it failed).
The same executors as ``process`` run it (local processes or Dask; see
:func:`audiolab.batch._job.process_file`), so the numbers do not depend on where a pair ran.
"""

import csv
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from audiolab._audio_io import read_audio
from audiolab._errors import AudiolabError, ConfigError, SignalError
from audiolab._validate import check_int
from audiolab.audiology import (
    EARS_CHOICES,
    STANDARD_AUDIOGRAMS,
    AudiogramLike,
    haspi_details,
    hasqi_details,
    load_audiogram,
    sii_from_signals,
)
from audiolab.batch._executors import connect_dask, hear_ctrl_c, run_dask, run_local
from audiolab.batch._inputs import collect_inputs
from audiolab.batch._job import FileResult, FileTask
from audiolab.batch._manifest import MANIFEST_NAME, normalised, read_manifest
from audiolab.batch._progress import Progress
from audiolab.calibration import digital_to_pa_scale
from audiolab.dsp import stoi

__all__ = [
    "EAR_COLUMNS",
    "LISTENER_METRICS",
    "METRICS",
    "SCORE_COLUMNS",
    "ListenerOptions",
    "ScoreReport",
    "ScoreTask",
    "add_scores_to_manifest",
    "pair_files",
    "read_pairs_csv",
    "run_scoring",
    "score_summary",
    "tasks_from_batch",
    "write_scores_csv",
]

METRICS: tuple[str, ...] = ("stoi", "estoi", "sii", "haspi", "hasqi")
"""Metrics a pair can be scored on."""

LISTENER_METRICS: tuple[str, ...] = ("haspi", "hasqi")
"""The metrics that need the listener's audiogram and the presentation level."""

EAR_COLUMNS: tuple[str, ...] = tuple(
    f"{m}_{e}" for m in LISTENER_METRICS for e in ("left", "right"))
"""Per-ear HASPI and HASQI (empty for an ear not scored)."""

SCORE_COLUMNS: tuple[str, ...] = (
    "reference", "processed", "condition", "status", "error", "fs", "n_samples",
    "n_channels", "delay_samples", *METRICS, *EAR_COLUMNS, "level_db_spl", "seconds",
)
"""Columns of the scores CSV, in order (one row per pair)."""

_PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ScoreTask:
    """One pair to score: ``input`` is the reference (clean), ``output`` the processed file.

    The names follow :class:`~audiolab.batch._job.FileTask` (a processing run's input is the
    reference of its output), so the executors handle both kinds alike.

    Parameters
    ----------
    input : str
        Reference (clean) sound file.
    output : str
        Processed sound file, same sample rate.
    metrics : tuple of str
        Some of :data:`METRICS`.
    delay_samples : int
        The processed file lags the reference by this many samples (the chain's delay at the
        files' rate); the first ``delay_samples`` of it and the last of the reference are cut.
    condition : str
        Label of the pair's condition (chain, SNR, ...), for the summary; may be empty.
    full_scale_db_spl : float
        dB SPL of a full-scale sine in both files (SII, and HASPI/HASQI without
        ``level_db_spl``: they need absolute levels).
    audiogram : Audiogram or str or dict, optional
        The listener of HASPI and HASQI (preset, file or audiogram); required for them. A
        preset or file is loaded when the pair is scored, so one that does not load fails
        this pair only.
    ear : {"better", "left", "right"}
        Ear of HASPI/HASQI (see :func:`audiolab.audiology.haspi`).
    level_db_spl : float, optional
        RMS level of the whole reference file in dB SPL for HASPI/HASQI; default: what
        ``full_scale_db_spl`` makes of the file.
    processed_level_db_spl : float, optional
        RMS level of the whole processed file in dB SPL (a processing run's output level);
        default: the processed file keeps its digital level relative to the reference.
    seed : int
        Seed of HASPI's and HASQI's internal noise.
    """

    input: str
    output: str
    metrics: tuple[str, ...] = ("stoi", "estoi")
    delay_samples: int = 0
    condition: str = ""
    full_scale_db_spl: float = 100.0
    audiogram: AudiogramLike | None = None
    ear: str = "better"
    level_db_spl: float | None = None
    processed_level_db_spl: float | None = None
    seed: int = 0

    def run(self) -> FileResult:
        """Score the pair; status "scored", or "failed" with a one-line ``error``."""
        t0 = time.perf_counter()
        info: dict[str, Any] = {"condition": self.condition, "delay_samples": self.delay_samples}
        try:
            _score_into(self, info)
            status, error = "scored", None
        except AudiolabError as exc:
            status, error = "failed", str(exc)
        except OSError as exc:
            status, error = "failed", f"{exc.strerror or exc}"
        except MemoryError:
            status, error = "failed", "out of memory"
        except Exception as exc:  # a bug must not stop the other pairs; report it in full
            status, error = "failed", f"internal error ({type(exc).__name__}: {exc})"
        fs = info.pop("fs", None)
        n = info.pop("n_samples", None)
        return FileResult(
            input=self.input, output=self.output, status=status, error=error, fs=fs,
            n_frames=n, seconds=time.perf_counter() - t0, extra=info,
        )


def _score_into(task: ScoreTask, info: dict[str, Any]) -> None:
    """Read, check, align and score one pair; scores and what was learnt go into ``info``."""
    ref = read_audio(task.input)
    proc = read_audio(task.output)
    if ref.fs != proc.fs:
        raise SignalError(
            f"sample rates differ: reference {ref.fs} Hz, processed {proc.fs} Hz"
        )
    if ref.n_channels not in (1, proc.n_channels):
        raise SignalError(
            f"channels differ: reference has {ref.n_channels}, processed {proc.n_channels} "
            "(a mono reference is compared with every processed channel)"
        )
    if ref.n_frames != proc.n_frames:
        raise SignalError(
            f"lengths differ: reference {ref.n_frames} samples, processed {proc.n_frames}; "
            "pairs must be time-aligned (a processing manifest gives the chain's delay)"
        )
    d = task.delay_samples
    if not 0 <= d < ref.n_frames:
        raise SignalError(f"delay of {d} samples does not fit in {ref.n_frames} samples")
    x = ref.data[:, : ref.n_frames - d].astype(np.float64)
    y = proc.data[:, d:].astype(np.float64)
    if x.shape[0] == 1:
        x = np.repeat(x, y.shape[0], axis=0)
    info.update(fs=ref.fs, n_samples=x.shape[1], n_channels=y.shape[0])
    for metric in task.metrics:
        if metric in LISTENER_METRICS:
            continue
        # One score per pair: the mean over the processed channels (ears).
        per_channel = [_metric(metric, xc, yc, ref.fs, task.full_scale_db_spl)
                       for xc, yc in zip(x, y, strict=True)]
        info[metric] = float(np.mean(per_channel))
    if any(m in LISTENER_METRICS for m in task.metrics):
        _listener_metrics(task, info, x, y, fs=ref.fs, ref_file=ref.data, proc_file=proc.data)


def _listener_metrics(
    task: ScoreTask, info: dict[str, Any], x: np.ndarray, y: np.ndarray, *, fs: float,
    ref_file: np.ndarray, proc_file: np.ndarray,
) -> None:
    """HASPI and HASQI of the aligned pair (one or two ears) at the task's levels."""
    if task.audiogram is None:
        raise ConfigError("no audiogram for this pair: fill its audiogram cell in the pairs "
                          "CSV or give --audiogram")
    audiogram = load_audiogram(task.audiogram)
    if y.shape[0] > 2:
        raise SignalError(f"haspi and hasqi score 1 or 2 channels (ears), got {y.shape[0]}")
    ref_rms = _rms(ref_file)
    if ref_rms == 0.0:
        raise SignalError("reference is silent (all zeros): HASPI and HASQI are undefined")
    # Level of the whole reference file; the aligned (trimmed) pair keeps the files' scale.
    level = (task.level_db_spl if task.level_db_spl is not None
             else task.full_scale_db_spl + 20 * math.log10(math.sqrt(2) * ref_rms))
    if task.processed_level_db_spl is not None:
        proc_rms = _rms(proc_file)
        if proc_rms > 0.0:  # physical level of the output relative to the input
            y = y * (10 ** ((task.processed_level_db_spl - level) / 20) * ref_rms / proc_rms)
    level_pair = level + 20 * math.log10(max(_rms(x), 1e-300) / ref_rms)
    info["level_db_spl"] = level_pair
    for metric in (m for m in task.metrics if m in LISTENER_METRICS):
        if metric == "haspi":
            d = haspi_details(x, y, fs, audiogram=audiogram, ear=task.ear,
                              level_db_spl=level_pair, seed=task.seed)
        else:
            d = hasqi_details(x, y, fs, audiogram=audiogram, ear=task.ear,
                              level_db_spl=level_pair, seed=task.seed)
        info[metric] = d.score
        for side, result in d.ears.items():
            info[f"{metric}_{side}"] = float(result.score)


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))


def _metric(
    metric: str, x: np.ndarray, y: np.ndarray, fs: float, full_scale_db_spl: float
) -> float:
    """One metric of one channel pair."""
    if metric == "stoi":
        return stoi(x, y, fs)
    if metric == "estoi":
        return stoi(x, y, fs, extended=True)
    # SII (ANSI S3.5-1997) of the reference speech in the processed signal's residual: the
    # processed signal is split into g * reference (g by least squares) and what is left,
    # which counts as noise; normal hearing (0 dB HL).
    energy = float(np.dot(x, x))
    if energy == 0.0:
        raise SignalError("reference is silent (all zeros): SII is undefined")
    g = float(np.dot(x, y)) / energy
    scale = digital_to_pa_scale(full_scale_db_spl)
    return sii_from_signals(g * x * scale, (y - g * x) * scale, fs=fs)


@dataclass(frozen=True)
class ScoreReport:
    """The results of a scoring run, one per pair in pairing order."""

    results: tuple[FileResult, ...]
    metrics: tuple[str, ...]
    failed: tuple[FileResult, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "failed", tuple(r for r in self.results if r.status == "failed")
        )

    @property
    def exit_code(self) -> int:
        """1 if any pair failed, else 0."""
        return 1 if self.failed else 0

    def rows(self) -> list[dict[str, Any]]:
        """One dict per pair with the :data:`SCORE_COLUMNS` (missing scores are None)."""
        out = []
        for r in self.results:
            row: dict[str, Any] = {
                "reference": r.input, "processed": r.output,
                "condition": r.extra.get("condition", ""), "status": r.status,
                "error": r.error or "", "fs": r.fs, "n_samples": r.n_frames,
                "n_channels": r.extra.get("n_channels"),
                "delay_samples": r.extra.get("delay_samples"),
                "level_db_spl": r.extra.get("level_db_spl"),
                "seconds": r.seconds,
            }
            row.update({m: r.extra.get(m) for m in (*METRICS, *EAR_COLUMNS)})
            out.append(row)
        return out


def _failed_pair(reference: str, processed: str, error: str) -> FileResult:
    return FileResult(input=reference, output=processed, status="failed", error=error)


def read_pairs_csv(path: str | os.PathLike[str]) -> list[tuple[str, str, str, str]]:
    """``(reference, processed, condition, audiogram)`` rows of a pairs CSV.

    The CSV has a header with the columns ``reference`` and ``processed`` and optionally
    ``condition`` and ``audiogram`` (the pair's listener: a preset N1..N7, S1..S3 or an
    audiogram file, ``listeners.json#ID`` picking one Clarity listener); relative paths are
    relative to the CSV's folder. Missing optional cells are empty strings.

    Raises
    ------
    ConfigError
        A missing file, a missing column or an empty list.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = set(reader.fieldnames or ())
            if not {"reference", "processed"} <= fields:
                raise ConfigError(
                    f"--pairs {p} needs the columns reference,processed[,condition,audiogram], "
                    f"got {','.join(reader.fieldnames or ()) or 'no header'}"
                )
            rows = [tuple((r.get(k) or "").strip() if k == "audiogram" else (r.get(k) or "")
                          for k in ("reference", "processed", "condition", "audiogram"))
                    for r in reader]
    except OSError as exc:
        raise ConfigError(f"--pairs {p}: {exc.strerror or exc}") from None
    if not rows:
        raise ConfigError(f"--pairs {p} lists no pairs")
    base = p.resolve().parent
    return [(str(base / a), str(base / b), c, _audiogram_cell(g, base)) for a, b, c, g in rows]


def _audiogram_cell(cell: str, base: Path) -> str:
    """A pairs CSV's audiogram cell: a preset as is, a file relative to the CSV's folder."""
    if not cell or cell.upper() in STANDARD_AUDIOGRAMS:
        return cell
    return str(base / cell)


def _manifest_records(processed: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """What processing manifests beside the processed files say about each output, by path.

    Each record has the reference (the run's input), the chain's delay at the file's rate and
    the condition (the manifest's ``condition``, else its chain file's stem, else its folder).
    """
    records: dict[str, dict[str, Any]] = {}
    for folder in sorted({p.parent for p in processed}):
        doc = read_manifest(folder / MANIFEST_NAME)
        if doc is None:
            continue
        condition = doc.get("condition") or (
            Path(doc["chain_file"]).stem if doc.get("chain_file") else folder.name
        )
        for f in doc.get("files", []):
            if not isinstance(f, dict) or f.get("status") == "failed" or not f.get("output"):
                continue
            records[str(Path(f["output"]).resolve())] = {
                "reference": f.get("input"), "condition": str(condition),
                "delay_samples": _delay_at_file_rate(f),
            }
    return records


def _delay_at_file_rate(f: dict[str, Any]) -> int:
    """The chain's delay in samples of the output file (it ran at ``processing_fs``)."""
    latency = f.get("latency_samples") or 0
    fs, rate = f.get("fs"), f.get("processing_fs")
    if fs and rate and rate != fs:
        return int(round(latency * fs / rate))
    return int(latency)


def pair_files(
    reference: str | None,
    processed: str | None,
    *,
    pairs_csv: str | None = None,
    metrics: Sequence[str] = ("stoi", "estoi"),
    full_scale_db_spl: float = 100.0,
    listener: "ListenerOptions | None" = None,
) -> tuple[list[ScoreTask], list[FileResult]]:
    """Pair reference and processed files: by the CSV, else by file name (stem).

    A processing manifest (``manifest.json``) beside processed files gives each one's delay and
    condition. Files that find no partner are returned as failed results (one line each).

    Parameters
    ----------
    reference, processed : str or None
        File, folder or glob of each side (both needed without ``pairs_csv``).
    pairs_csv : str, optional
        CSV of ``reference,processed[,condition,audiogram]`` rows (see
        :func:`read_pairs_csv`); a row's audiogram overrides ``listener.audiogram`` for that
        pair, and one that does not load fails that pair only.
    metrics : sequence of str
        Some of :data:`METRICS`.
    full_scale_db_spl : float
        dB SPL of a full-scale sine in the files (for SII, and for HASPI/HASQI without a
        level).
    listener : ListenerOptions, optional
        Audiogram, ear, level and seed of HASPI and HASQI (required for them unless the pairs
        CSV gives audiograms).

    Returns
    -------
    tasks : list of ScoreTask
        The pairs to score.
    unpaired : list of FileResult
        Failed results for files without a partner.

    Raises
    ------
    ConfigError
        Bad metrics, missing inputs, a bad ``listener.audiogram``, or two references with
        the same name.
    """
    metrics = _check_metrics(metrics)
    unpaired: list[FileResult] = []
    rows = read_pairs_csv(pairs_csv) if pairs_csv is not None else []
    per_pair = any(g for *_, g in rows) and any(m in LISTENER_METRICS for m in metrics)
    listener = _check_listener(metrics, listener, per_pair=per_pair)
    if pairs_csv is not None:
        triples = [(a, b, c) for a, b, c, _ in rows]
    else:
        if reference is None or processed is None:
            raise ConfigError("give --reference and --processed, or --pairs CSV")
        refs = collect_inputs([reference])
        procs = collect_inputs([processed])
        by_stem: dict[str, Path] = {}
        for r in refs:
            if r.stem in by_stem:
                raise ConfigError(
                    f"references {by_stem[r.stem]} and {r} have the same name; pair them "
                    "with --pairs CSV"
                )
            by_stem[r.stem] = r
        triples = []
        matched: set[str] = set()
        for p in procs:
            if p.stem in by_stem:
                triples.append((str(by_stem[p.stem]), str(p), ""))
                matched.add(p.stem)
            else:
                unpaired.append(_failed_pair("", str(p), f"no reference named {p.stem}.*"))
        for stem, r in by_stem.items():
            if stem not in matched:
                unpaired.append(_failed_pair(str(r), "", f"no processed file named {stem}.*"))
    records = _manifest_records([Path(b) for _, b, _ in triples])
    audiograms = _row_audiograms([g for *_, g in rows] if per_pair else [], listener)
    tasks = []
    for i, (a, b, c) in enumerate(triples):
        rec = records.get(str(Path(b).resolve()), {})
        tasks.append(ScoreTask(
            input=a, output=b, metrics=metrics, delay_samples=rec.get("delay_samples", 0),
            condition=c or rec.get("condition", ""), full_scale_db_spl=full_scale_db_spl,
            audiogram=audiograms[i] if per_pair else listener.audiogram, ear=listener.ear,
            level_db_spl=listener.level_db_spl, seed=listener.seed,
        ))
    return tasks, unpaired


def _row_audiograms(cells: Sequence[str], listener: "ListenerOptions"
                    ) -> list[AudiogramLike | None]:
    """Each row's audiogram (its cell, else the listener's), each distinct one loaded once.

    A cell that does not load stays as given: the pair fails with the loader's message when it
    is scored, and the other pairs are scored.
    """
    loaded: dict[str, AudiogramLike] = {}
    for cell in dict.fromkeys(c for c in cells if c):
        try:
            loaded[cell] = load_audiogram(cell)
        except AudiolabError:
            loaded[cell] = cell
    return [loaded[c] if c else listener.audiogram for c in cells]


@dataclass(frozen=True)
class ListenerOptions:
    """Who HASPI and HASQI score for, and at what level.

    Parameters
    ----------
    audiogram : Audiogram or str or pathlib.Path or dict, optional
        The listener (preset, file or :class:`~audiolab.audiology.Audiogram`); loaded and
        checked once, before any pair is scored.
    ear : {"better", "left", "right"}
        See :func:`audiolab.audiology.haspi`.
    level_db_spl : float, optional
        RMS level of each whole reference file in dB SPL; default: the files' full-scale level.
    seed : int
        Seed of the models' internal noise.
    """

    audiogram: AudiogramLike | None = None
    ear: str = "better"
    level_db_spl: float | None = None
    seed: int = 0


def _check_listener(
    metrics: tuple[str, ...], listener: ListenerOptions | None, *, per_pair: bool = False
) -> ListenerOptions:
    """``listener`` with its audiogram loaded; an error if HASPI/HASQI lack one.

    ``per_pair``: the pairs give their own audiograms, so the listener's may be missing.
    """
    listener = listener or ListenerOptions()
    if listener.ear not in EARS_CHOICES:
        raise ConfigError(f"ear must be one of {', '.join(EARS_CHOICES)}, got {listener.ear!r}")
    if listener.audiogram is None:
        if any(m in LISTENER_METRICS for m in metrics) and not per_pair:
            raise ConfigError(
                "metrics haspi and hasqi need the listener's audiogram: give --audiogram "
                "(preset N1..N7, S1..S3 or a file) or an audiogram column in --pairs"
            )
        return listener
    return ListenerOptions(audiogram=load_audiogram(listener.audiogram), ear=listener.ear,
                           level_db_spl=listener.level_db_spl, seed=listener.seed)


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    out = tuple(metrics)
    if not out:
        raise ConfigError(f"metrics must name at least one of {', '.join(METRICS)}, got none")
    bad = [m for m in out if m not in METRICS]
    if bad:
        raise ConfigError(f"metric must be one of {', '.join(METRICS)}, got {bad[0]!r}")
    return tuple(dict.fromkeys(out))


def tasks_from_batch(
    results: Sequence[FileResult], *, metrics: Sequence[str] = ("stoi", "estoi"),
    condition: str = "", listener: ListenerOptions | None = None,
) -> list[ScoreTask]:
    """One task per processed (or up-to-date) file of a ``process`` run: input vs output.

    The delay is the chain's reported ``latency_samples``, converted to the file's rate. HASPI
    and HASQI hear each pair at the levels the run presented and wrote it at (the results'
    ``input_level_db_spl`` and ``output_level_db_spl``) unless ``listener`` sets a level.
    """
    metrics = _check_metrics(metrics)
    listener = _check_listener(metrics, listener)
    tasks = []
    for r in results:
        if r.status == "failed":
            continue
        level = listener.level_db_spl
        out_level = None
        if level is None and r.input_level_db_spl is not None:
            level, out_level = r.input_level_db_spl, r.output_level_db_spl
        tasks.append(ScoreTask(
            input=r.input, output=r.output, metrics=metrics, condition=condition,
            delay_samples=_delay_at_file_rate(r.as_dict()), audiogram=listener.audiogram,
            ear=listener.ear, level_db_spl=level, processed_level_db_spl=out_level,
            seed=listener.seed,
        ))
    return tasks


def run_scoring(
    tasks: Sequence[ScoreTask],
    *,
    unpaired: Sequence[FileResult] = (),
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: IO[str] | None = None,
    label: str = "score",
) -> ScoreReport:
    """Score the pairs on local processes (``jobs``) or a Dask cluster (``scheduler``).

    Parameters
    ----------
    tasks : sequence of ScoreTask
        The pairs.
    unpaired : sequence of FileResult
        Failures found while pairing, reported with the rest.
    jobs : int, optional
        Local worker processes (default: all cores); 1 scores in this process.
    scheduler : str, optional
        Dask scheduler address or scheduler file: score on that cluster instead.
    progress : file-like, optional
        Stream for the progress bar.
    label : str
        The progress bar's label.

    Returns
    -------
    ScoreReport
        One result per pair in the order of ``tasks``, then the unpaired files.

    Examples
    --------
    >>> from audiolab.batch import run_scoring
    >>> run_scoring([]).results
    ()
    """
    jobs = check_int("jobs", (os.cpu_count() or 1) if jobs is None else jobs, low=1)
    metrics = tasks[0].metrics if tasks else ()
    results: dict[int, FileResult] = {}
    by_key = {(t.input, t.output): i for i, t in enumerate(tasks)}
    bar = Progress(len(tasks), stream=progress, label=label)

    def emit(result: FileResult) -> None:
        results[by_key[(result.input, result.output)]] = result
        bar.update(result)

    # The executors run any task with a run() method (see process_file); they are typed for
    # FileTask, the batch's own kind.
    todo = cast(Sequence[FileTask], list(tasks))
    if not todo:
        pass  # run_local would start a pool of no workers (ValueError)
    elif scheduler is not None:
        client = connect_dask(scheduler, probe_timeout_s=_PROBE_TIMEOUT_S)
        try:
            run_dask(client, todo, emit=emit)
        finally:
            client.close()
    else:
        run_local(todo, jobs=jobs, emit=emit, worker_init=hear_ctrl_c)
    ordered = tuple(results[i] for i in sorted(results)) + tuple(unpaired)
    return ScoreReport(results=ordered, metrics=metrics)


def write_scores_csv(report: ScoreReport, path: str | os.PathLike[str]) -> None:
    """Write one row per pair with :data:`SCORE_COLUMNS` (pandas reads it as is)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.part")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(SCORE_COLUMNS))
        w.writeheader()
        for row in report.rows():
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    os.replace(tmp, p)


def score_summary(report: ScoreReport) -> dict[str, dict[str, dict[str, float]]]:
    """Mean, SD (n - 1) and count of each metric, over all pairs and per condition.

    Returns
    -------
    dict
        ``{condition: {metric: {"mean", "sd", "n"}}}``; the condition ``"all"`` covers every
        scored pair. The SD of a single pair is NaN.
    """
    groups: dict[str, list[FileResult]] = {"all": []}
    for r in report.results:
        if r.status != "scored":
            continue
        groups["all"].append(r)
        c = r.extra.get("condition") or ""
        if c:
            groups.setdefault(c, []).append(r)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, rs in groups.items():
        out[name] = {}
        for m in report.metrics:
            v = np.array([r.extra[m] for r in rs], dtype=np.float64)
            out[name][m] = {
                "mean": float(v.mean()) if v.size else math.nan,
                "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan,
                "n": int(v.size),
            }
    return out


def add_scores_to_manifest(manifest_path: str | os.PathLike[str], report: ScoreReport) -> None:
    """Add each output's scores (``"scores": {metric: value}`` or ``"score_error"``) to a manifest.

    Raises
    ------
    ConfigError
        If the manifest cannot be read.
    """
    p = Path(manifest_path)
    doc = read_manifest(p)
    if doc is None:
        raise ConfigError(f"{p}: no readable manifest to add scores to")
    by_output = {r.output: r for r in report.results}
    for f in doc.get("files", []):
        r = by_output.get(f.get("output"))
        if r is None:
            continue
        if r.status == "scored":
            f["scores"] = {m: r.extra[m] for m in report.metrics}
            f["score_delay_samples"] = r.extra.get("delay_samples")
        else:
            f["score_error"] = r.error
    doc["score_metrics"] = list(report.metrics)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(normalised(doc), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, p)
