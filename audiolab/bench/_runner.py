"""Timing of benchmark cases: best of several runs, ours and the reference in the same run."""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BenchCase", "BenchResult", "run_cases", "time_best"]


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
            )
        )
    return results
