"""Batch scaling: the same `audiolab process` batch on two local worker processes versus one.

The chain is a hearing aid fitted to N3 (NAL-R, WDRC), what ``audiolab fit N3 --write-chain``
produces. Inputs are mono 48 kHz noise files at 65 dB SPL, outputs stereo float32 WAV, so the
figure includes reading, level scaling, processing and writing, as a user's batch would.
"""

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from audiolab.bench._runner import BenchCase

__all__ = ["cases"]

FS = 48000
CHAIN = {"stage": [{"type": "hearing-aid", "audiogram": "N3", "rule": "nal-r",
                    "compression": "wdrc"}]}


class _Corpus:
    """Input files written on first use (not when the bench lists its cases), removed at exit."""

    def __init__(self, n_files: int, duration_s: float) -> None:
        self.n_files = n_files
        self.duration_s = duration_s
        self._root: Path | None = None

    def root(self) -> Path:
        if self._root is None:
            import soundfile as sf

            self._root = Path(tempfile.mkdtemp(prefix="audiolab-bench-batch-"))
            atexit.register(shutil.rmtree, self._root, True)
            rng = np.random.default_rng(1)
            (self._root / "in").mkdir()
            n = int(self.duration_s * FS)
            for i in range(self.n_files):
                x = 0.05 * rng.standard_normal(n)
                sf.write(self._root / "in" / f"file{i:02d}.wav", x, FS, subtype="PCM_16")
        return self._root

    def run(self, jobs: int) -> Any:
        from audiolab.batch import LevelOptions, run_batch

        root = self.root()
        report = run_batch(
            [root / "in"], chain=CHAIN, out_dir=root / f"out{jobs}", jobs=jobs, force=True,
            levels=LevelOptions(level_db_spl=65.0),
        )
        if report.failed:
            raise RuntimeError(f"bench batch failed: {report.failed[0].error}")
        return report


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def _cpu_bound(jobs: int, n: int) -> None:
    """Four pure-Python loops on ``jobs`` processes: what this machine gives a second process."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        list(pool.map(_spin, [n] * 4))


def cases(quick: bool) -> list[BenchCase]:
    """20 files of 30 s (``quick``: 6 files of 5 s) with ``--jobs 2`` against ``--jobs 1``."""
    n_files, duration_s = (6, 5.0) if quick else (20, 30.0)
    n_spin = 1_000_000 if quick else 5_000_000
    corpus = _Corpus(n_files, duration_s)
    return [
        BenchCase(
            name=f"batch process {n_files} x {duration_s:g} s, hearing aid N3, --jobs 2",
            audio_s=n_files * duration_s,
            ours=lambda: corpus.run(2),
            reference=lambda: corpus.run(1),
            reference_name="the same batch with --jobs 1 (ratio = speed-up from a second process)",
            target_ratio=1.7,
            note="mono 48 kHz in, stereo float32 WAV out, level 65 dB SPL",
        ),
        # On a shared machine other processes may take the second core: this control measures
        # the speed-up any CPU-bound work gets from a second process in the same run.
        BenchCase(
            name="batch ceiling of this machine: CPU-bound loop, 2 processes vs 1",
            audio_s=1.0,
            ours=lambda: _cpu_bound(2, n_spin),
            reference=lambda: _cpu_bound(1, n_spin),
            reference_name="the same loops in 1 process (no audio: read the ratio only)",
            note="upper bound for the batch speed-up on this machine at this time",
        ),
    ]
