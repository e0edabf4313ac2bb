"""audiolab.bench: benchmarks of audiolab's kernels against what a user would otherwise write.

Each area contributes a module listed in :data:`CASE_MODULES` with a function
``cases(quick: bool) -> list[BenchCase]``.

May import every layer below the command line.
"""

from audiolab.bench._runner import (
    BenchCase,
    BenchResult,
    compare_results,
    machine_info,
    run_cases,
)

__all__ = [
    "CASE_MODULES", "BenchCase", "BenchResult", "compare_results", "machine_info", "run_cases",
]

CASE_MODULES: tuple[str, ...] = (
    "audiolab.bench._filterbanks",
    "audiolab.bench._octave",
    "audiolab.bench._hearing_aid",
    "audiolab.bench._ci",
    "audiolab.bench._batch",
    "audiolab.bench._engine",
    "audiolab.bench._hearing_loss",
    "audiolab.bench._stoi",
    "audiolab.bench._haspi",
    "audiolab.bench._capacity",
)
