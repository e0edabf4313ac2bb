"""Bench cases: HASPI v2 and HASQI v2, audiolab vs pyclarity 0.9.0.

One 10 s speech-in-noise pair at 24 kHz (issue 17's bar: HASPI at least 20x faster than
pyclarity's ``haspi_v2``).

pyclarity is a test-only reference: imported inside the case; without it the case times ours
alone and says so in its row. Its generator is seeded before each call so both runs do the same
work every repeat.
"""

import numpy as np

from audiolab.audiology import Audiogram, haspi, hasqi
from audiolab.bench._runner import BenchCase
from audiolab.bench._stoi import speech_in_noise_pairs

__all__ = ["cases"]

_FS = 24000
_AUDIOGRAM = Audiogram.symmetric([250, 500, 1000, 2000, 4000, 6000],
                                 [35, 35, 40, 50, 60, 65], name="N3")


def _pair(duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Sentences joined to ``duration_s`` seconds, in white noise at 0 dB SNR."""
    pairs = speech_in_noise_pairs(fs=_FS, snr_db=0.0, n_pairs=8)
    clean = np.concatenate([c for c, _ in pairs])
    noisy = np.concatenate([p for _, p in pairs])
    n = int(duration_s * _FS)
    if clean.size < n:
        reps = -(-n // clean.size)
        clean, noisy = np.tile(clean, reps), np.tile(noisy, reps)
    return clean[:n], noisy[:n]


def cases(quick: bool) -> list[BenchCase]:
    """HASPI and HASQI of one pair, 10 s (3 s if quick), N3 audiogram, 65 dB SPL."""
    duration_s = 3.0 if quick else 10.0
    clean, noisy = _pair(duration_s)
    return [_case("HASPI v2", clean, noisy, duration_s),
            _case("HASQI v2", clean, noisy, duration_s)]


def _case(metric: str, clean: np.ndarray, noisy: np.ndarray, duration_s: float) -> BenchCase:
    name = f"{metric} of a {duration_s:g} s speech pair, 24 kHz, N3"
    score = haspi if metric == "HASPI v2" else hasqi

    def ours() -> float:
        return score(clean, noisy, _FS, audiogram=_AUDIOGRAM, level_db_spl=65.0)

    try:
        from clarity.evaluator.haspi import haspi_v2
        from clarity.evaluator.hasqi import hasqi_v2
        from clarity.utils.audiogram import Audiogram as ClarityAudiogram
    except ImportError:
        return BenchCase(
            name=name, audio_s=duration_s, ours=ours,
            note="pyclarity is not installed (pip install --no-deps pyclarity==0.9.0 numba): "
                 "no reference timing",
        )
    ag = ClarityAudiogram(levels=_AUDIOGRAM.left.thresholds_db_hl,
                          frequencies=_AUDIOGRAM.left.frequencies_hz)

    def reference() -> float:
        np.random.seed(0)  # noqa: NPY002 (pyclarity draws from the global generator)
        if metric == "HASPI v2":
            return float(haspi_v2(clean, _FS, noisy, _FS, ag, level1=65.0)[0])
        return float(hasqi_v2(clean, _FS, noisy, _FS, ag, level1=65.0)[0])

    return BenchCase(
        name=name, audio_s=duration_s, ours=ours, reference=reference,
        reference_name=f"pyclarity 0.9.0 {metric.split()[0].lower()}_v2",
        target_ratio=20.0 if metric == "HASPI v2" else None,
        note="same numbers: tests/test_haspi.py and tests/test_hasqi.py (1e-6 given "
             "pyclarity's noise deviates)",
    )
