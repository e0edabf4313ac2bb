"""The manifest written beside a batch's outputs, and the up-to-date check that reads it back.

``manifest.json`` records the setup (version, chain, levels, executor), the level convention of
the files, and one entry per input; a later run with the same setup skips the inputs whose entry
says their output is still up to date (docs/readme/batch.md, "Up to date").
"""

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audiolab.batch._job import FileResult, FileTask

__all__ = [
    "CONVENTION",
    "MANIFEST_NAME",
    "file_stat",
    "normalised",
    "read_manifest",
    "reusable_results",
    "stamped",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
_OK_STATUSES = ("processed", "up-to-date")
# The keys of the setup that must match for a previous run's outputs to stand.
_SETUP_KEYS = ("audiolab_version", "chain", "levels")

CONVENTION = (
    "Samples in the input and output files are digital full scale 1.0; a full-scale sine "
    "(peak 1.0) stands for levels.full_scale_db_spl dB SPL on input (unless levels.level_db_spl "
    "sets each file's RMS over all channels) and for levels.output_full_scale_db_spl dB SPL in "
    "the outputs. Outputs are float32 WAV, never clipped, stereo (left, right), with the input's "
    "sample rate and frame count; the chain's delay (latency_samples) is not compensated."
)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path`` as a dict, or None if it is missing or not a JSON object."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def normalised(value: Any) -> Any:
    """``value`` as it reads back from JSON; non-finite numbers (silence is -inf dB) as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): normalised(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalised(v) for v in value]
    return json.loads(json.dumps(value))


def _up_to_date(
    entry: Mapping[str, Any] | None, task: FileTask, chain_file: Path | None
) -> bool:
    """Whether a previous run's output can stand (see docs/readme/batch.md, "Up to date")."""
    if not entry or entry.get("status") not in _OK_STATUSES or entry.get("input") != task.input:
        return False
    try:
        src = os.stat(task.input)
        dst = os.stat(task.output)
    except OSError:
        return False
    if entry.get("input_size") != src.st_size or entry.get("input_mtime_ns") != src.st_mtime_ns:
        return False
    newest_source = src.st_mtime_ns
    if chain_file is not None:
        try:
            newest_source = max(newest_source, os.stat(chain_file).st_mtime_ns)
        except OSError:
            return False
    return dst.st_mtime_ns >= newest_source and entry.get("output_size") == dst.st_size


def reusable_results(
    manifest_path: Path,
    header: Mapping[str, Any],
    tasks: Sequence[FileTask],
    *,
    chain_file: Path | None,
) -> dict[str, FileResult]:
    """The "up-to-date" results, by input, of the tasks a previous run already did.

    A previous run counts only if its manifest records the same setup (version, chain, levels);
    then each of its entries is checked against the files as they are now.
    """
    old = read_manifest(manifest_path)
    if old is None or any(normalised(header[k]) != old.get(k) for k in _SETUP_KEYS):
        return {}
    old_entries: dict[str, Any] = {}
    for e in old.get("files", []):
        if isinstance(e, dict) and isinstance(e.get("output"), str):
            old_entries[e["output"]] = e
    results: dict[str, FileResult] = {}
    for t in tasks:
        entry = old_entries.get(t.output)
        if entry is not None and _up_to_date(entry, t, chain_file):
            keep = {k: v for k, v in entry.items() if k in FileResult.__dataclass_fields__}
            keep.update(status="up-to-date", error=None)
            results[t.input] = FileResult(**keep)
    return results


def file_stat(path: str) -> tuple[int, int]:
    """``(size, mtime_ns)`` of a file, ``(0, 0)`` if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


def write_manifest(
    path: Path, results: Sequence[FileResult], header: Mapping[str, Any], *, complete: bool
) -> None:
    """Write the manifest atomically: ``header``, the convention, a summary and every result.

    Parameters
    ----------
    path : Path
        Where the manifest goes (``out_dir / MANIFEST_NAME``).
    results : sequence of FileResult
        One per input handled so far, in input order.
    header : mapping
        The run's setup (version, command, chain, levels, executor).
    complete : bool
        Whether every input has a result (False after an interrupted run).
    """
    failed = [r for r in results if r.status == "failed"]
    manifest = {
        **header,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "convention": CONVENTION,
        "complete": complete,
        "summary": {
            "inputs": len(results),
            "processed": sum(r.status == "processed" for r in results),
            "up_to_date": sum(r.status == "up-to-date" for r in results),
            "failed": len(failed),
        },
        "files": [r.as_dict() for r in results],
        "failures": [{"input": r.input, "error": r.error} for r in failed],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(normalised(manifest), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def stamped(r: FileResult, before: tuple[int, int]) -> FileResult:
    """Add the input's size and time (as before the run) and the output's size."""
    if r.status == "failed":
        return r
    extra = dict(r.extra)
    extra.update(input_size=before[0], input_mtime_ns=before[1])
    try:
        extra["output_size"] = os.stat(r.output).st_size
    except OSError:
        pass
    return FileResult(**{**asdict(r), "extra": extra})
