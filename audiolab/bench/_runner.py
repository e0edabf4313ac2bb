"""Timing of benchmark cases: best of several runs, ours and the reference in the same run."""

import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BenchCase",
    "BenchResult",
    "compare_results",
    "live_capacity",
    "machine_info",
    "run_cases",
    "time_best",
]


@dataclass(frozen=True)
class BenchCase:
    """One measured comparison.

    ``ours`` and ``reference`` are zero-argument callables doing the same work on ``audio_s``
    seconds of audio. ``target_ratio`` is the quality bar (reference time / our time), if any.
    """

    name: str
    audio_s: float
    ours: Callable[[], Any]
    reference: Callable[[], Any] | None = None
    reference_name: str = ""
    target_ratio: float | None = None
    target_x_real_time: float | None = None
    note: str = ""
    long_runs: int = 2  # runs of a case whose single run exceeds the time budget
    # Set for a case that runs one processing chain through the engine's C callback in blocks
    # of this many frames: the result then also says how many such chains fit live (see
    # live_capacity).
    live_block_frames: int | None = None
    live_fs: float = 48000.0


@dataclass(frozen=True)
class BenchResult:
    """Measured figures of one case (seconds are the best of the repeats)."""

    name: str
    audio_s: float
    ours_s: float
    reference_s: float | None
    reference_name: str
    target_ratio: float | None
    target_x_real_time: float | None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ours_x_real_time(self) -> float:
        """Seconds of audio processed per second of wall-clock time by our code."""
        return self.audio_s / self.ours_s

    @property
    def reference_x_real_time(self) -> float | None:
        """The same for the reference code."""
        return None if self.reference_s is None else self.audio_s / self.reference_s

    @property
    def ratio(self) -> float | None:
        """How many times faster ours is than the reference."""
        return None if self.reference_s is None else self.reference_s / self.ours_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "audio_s": self.audio_s,
            "ours_s": self.ours_s,
            "ours_x_real_time": self.ours_x_real_time,
            "reference_name": self.reference_name,
            "reference_s": self.reference_s,
            "reference_x_real_time": self.reference_x_real_time,
            "ratio": self.ratio,
            "target_ratio": self.target_ratio,
            "target_x_real_time": self.target_x_real_time,
            "note": self.note,
            **self.extra,
        }


def time_best(
    fn: Callable[[], Any], *, min_repeats: int = 3, budget_s: float = 0.5, long_runs: int = 2
) -> float:
    """Best wall-clock time of ``fn``: after one warm-up run, repeat for about ``budget_s``.

    A case whose warm-up run alone takes ``budget_s`` or more is measured by the fastest of
    ``long_runs`` runs, the warm-up included (a run that long pays no one-time cost worth
    mentioning); this keeps the whole bench under a minute.
    """
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first >= budget_s:
        best = first
        for _ in range(long_runs - 1):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best
    best = float("inf")
    spent = 0.0
    n = 0
    while n < min_repeats or (spent < budget_s and n < 20):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        n += 1
        if spent > budget_s * 3:
            break
    return best


def live_capacity(x_real_time: float, *, load_fraction: float = 0.5) -> int:
    """How many chains one core runs live, each block within ``load_fraction`` of the period.

    A chain processed at ``x_real_time`` times real time takes ``period / x_real_time`` of CPU
    per period (block) of any length; ``n`` chains take ``n`` times that, so
    ``floor(load_fraction * x_real_time)`` fit in ``load_fraction`` of the period. Half the
    period leaves the rest for the driver, the host and the spread of the callback's time
    (its p99.9 in ``audiolab live --stats-json`` is the live check). The figure is a best case
    per block: measured over many blocks with warm caches.

    Examples
    --------
    >>> from audiolab.bench._runner import live_capacity
    >>> live_capacity(31.0)
    15
    """
    return max(0, math.floor(load_fraction * x_real_time))


def run_cases(
    cases: Iterable[BenchCase],
    *,
    budget_s: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> list[BenchResult]:
    """Time every case, ours then the reference."""
    results = []
    for case in cases:
        if progress:
            progress(case.name)
        ours = time_best(case.ours, budget_s=budget_s, long_runs=case.long_runs)
        ref = None
        if case.reference is not None:
            ref = time_best(
                case.reference, min_repeats=2, budget_s=budget_s, long_runs=case.long_runs
            )
        extra: dict[str, Any] = {}
        if case.live_block_frames is not None:
            extra = {
                "live_block_frames": case.live_block_frames,
                "live_period_ms": 1000.0 * case.live_block_frames / case.live_fs,
                "live_chains_in_half_period": live_capacity(case.audio_s / ours),
            }
        results.append(
            BenchResult(
                name=case.name,
                audio_s=case.audio_s,
                ours_s=ours,
                reference_s=ref,
                reference_name=case.reference_name,
                target_ratio=case.target_ratio,
                target_x_real_time=case.target_x_real_time,
                note=case.note,
                extra=extra,
            )
        )
    return results


def machine_info() -> dict[str, Any]:
    """Where the figures were measured: machine, processor, Python and the kernels' CPU path.

    ``cpu_path`` is the instruction set the C kernels were compiled for (``al_cpu_path()`` in
    csrc/common.c); ``n_cpus`` the processors the process may run on.

    Examples
    --------
    >>> from audiolab.bench import machine_info
    >>> sorted(machine_info())[:3]
    ['audiolab_version', 'cpu_path', 'machine']
    """
    from audiolab import __version__
    from audiolab._ckernel import ffi, lib

    return {
        "audiolab_version": __version__,
        "cpu_path": ffi.string(lib.al_cpu_path()).decode(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "n_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def compare_results(
    old: Mapping[str, Any], new: Iterable[BenchResult]
) -> list[tuple[str, float | None, float, float | None]]:
    """Change of each case's speed against an earlier ``audiolab bench --json`` document.

    Parameters
    ----------
    old : mapping
        The earlier run's JSON document (its ``"results"`` list of ``as_dict()`` entries).
    new : iterable of BenchResult
        This run's results.

    Returns
    -------
    list of (name, old x real time, new x real time, change in percent)
        One row per case of ``new`` in its order; the old figure and the change are None for
        a case the earlier run did not have. A positive change is faster.

    Examples
    --------
    >>> from audiolab.bench import BenchResult, compare_results
    >>> r = BenchResult("k", 10.0, 0.1, None, "", None, None)
    >>> compare_results({"results": [{"name": "k", "ours_x_real_time": 50.0}]}, [r])
    [('k', 50.0, 100.0, 100.0)]
    """
    before = {
        str(d.get("name")): d.get("ours_x_real_time") for d in old.get("results", [])
        if isinstance(d, Mapping)
    }
    rows: list[tuple[str, float | None, float, float | None]] = []
    for r in new:
        was = before.get(r.name)
        was_f = float(was) if isinstance(was, int | float) and was > 0 else None
        now = r.ours_x_real_time
        change = None if was_f is None else 100.0 * (now / was_f - 1.0)
        rows.append((r.name, was_f, now, change))
    return rows
