"""Make tests/data/haspi_hasqi_pyclarity_0.9.0.json: pyclarity's HASPI v2 and HASQI v2 on pairs
made here, the reference that tests/test_haspi.py and tests/test_hasqi.py compare against (the
tests do not need pyclarity).

pyclarity 0.9.0's HASPI and HASQI (clarity/evaluator/haspi, clarity/evaluator/hasqi) never import
torch; they need numpy, scipy and numba. Run once, in the worktree's venv or a scratch one:

    .venv/bin/pip install --no-deps pyclarity==0.9.0
    .venv/bin/pip install numba
    .venv/bin/python tests/data/make_haspi_hasqi_reference.py

pyclarity draws its internal noise from NumPy's global generator without a seed; here the
generator is seeded (``np.random.seed(s)``) before each call, for each of ``SEEDS``, so that the
values are reproducible and their spread over seeds is on record. With seed ``SEEDS[0]`` the tests
replay the very same normal deviates through audiolab (``pyclarity_stream=True`` and a
``RandomState`` of that seed), which must then give the same numbers to rounding.

pyclarity rounds rates to whole kHz before resampling to 24 kHz; the pairs are at 24 and 16 kHz,
where that changes nothing, and a few at 44.1 kHz (treated by pyclarity as 44 kHz) record by how
much the rounding moves its scores (docs/metrics.md; not a test bar).

The pairs (``make_pair``, imported by the tests): a bundled sentence at ``level`` dB SPL as the
reference and as processed the same sentence identical, in white noise at +5, 0 and -5 dB SNR
(noise from ``numpy.random.default_rng(SIGNAL_SEED)``), low-passed at 1.5 kHz (4th-order
Butterworth) or peak-clipped at a fifth of its peak. Audiograms: normal (0 dB HL), moderate
sloping (Bisgaard N3) and steep high-frequency (Bisgaard S2), at 250-6000 Hz.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal

SEEDS = (0, 1, 2)
SIGNAL_SEED = 20261207
FREQUENCIES_HZ = (250, 500, 1000, 2000, 4000, 6000)
# dB HL at FREQUENCIES_HZ: Bisgaard, Vlaming & Dahlquist (2010) N3 and S2 (REFERENCE.md).
AUDIOGRAMS = {
    "normal": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "N3": (35.0, 35.0, 40.0, 50.0, 60.0, 65.0),
    "S2": (20.0, 20.0, 25.0, 55.0, 95.0, 95.0),
}
CONDITIONS = ("identical", "snr+5", "snr0", "snr-5", "lowpass", "clipped")
SENTENCE = 0


def make_pair(condition: str, fs: int, level_db_spl: float) -> tuple[np.ndarray, np.ndarray]:
    """Reference and processed (float64, mono) for ``condition`` at ``fs``; the reference's RMS
    is 1.0 (pyclarity's and audiolab's level argument then is the reference's level)."""
    from audiolab.audiology import load_speech_corpus

    x = load_speech_corpus().sentences[SENTENCE].load(fs=fs).astype(np.float64)
    x = x / np.sqrt(np.mean(x**2))
    rng = np.random.default_rng(SIGNAL_SEED)
    if condition == "identical":
        y = x.copy()
    elif condition.startswith("snr"):
        snr_db = float(condition[3:])
        y = x + 10 ** (-snr_db / 20) * rng.standard_normal(x.size)
    elif condition == "lowpass":
        sos = scipy.signal.butter(4, 1500.0, fs=fs, output="sos")
        y = scipy.signal.sosfilt(sos, x)
    elif condition == "clipped":
        peak = 0.2 * np.max(np.abs(x))
        y = np.clip(x, -peak, peak)
    else:
        raise ValueError(condition)
    return x, y


def _cases() -> list[dict]:
    cases = []
    for audiogram in AUDIOGRAMS:
        for condition in CONDITIONS:
            cases.append({"condition": condition, "audiogram": audiogram, "fs": 24000,
                          "level_db_spl": 65.0})
    for audiogram in ("normal", "N3"):
        for condition in ("identical", "snr0"):
            cases.append({"condition": condition, "audiogram": audiogram, "fs": 24000,
                          "level_db_spl": 80.0})
            cases.append({"condition": condition, "audiogram": audiogram, "fs": 16000,
                          "level_db_spl": 65.0})
    for condition in ("identical", "snr0"):
        cases.append({"condition": condition, "audiogram": "N3", "fs": 44100,
                      "level_db_spl": 65.0, "rate_rounding": True})
    return cases


def main() -> None:
    from importlib.metadata import version

    import numba
    from clarity.evaluator.haspi import haspi_v2
    from clarity.evaluator.hasqi import hasqi_v2
    from clarity.utils.audiogram import Audiogram

    out = {
        "source": "pyclarity 0.9.0 clarity.evaluator.haspi.haspi_v2 and "
                  "clarity.evaluator.hasqi.hasqi_v2 (equalisation 1 and 2)",
        "made_by": "tests/data/make_haspi_hasqi_reference.py",
        "versions": {"pyclarity": version("pyclarity"), "numpy": np.__version__,
                     "scipy": scipy.__version__, "numba": numba.__version__,
                     "python": sys.version.split()[0]},
        "seeds": list(SEEDS), "signal_seed": SIGNAL_SEED, "sentence": SENTENCE,
        "frequencies_hz": list(FREQUENCIES_HZ),
        "audiograms": {k: list(v) for k, v in AUDIOGRAMS.items()},
        "cases": [],
    }
    t_start = time.time()
    for case in _cases():
        x, y = make_pair(case["condition"], case["fs"], case["level_db_spl"])
        ag = Audiogram(levels=np.array(AUDIOGRAMS[case["audiogram"]]),
                       frequencies=np.array(FREQUENCIES_HZ))
        row = dict(case, haspi=[], hasqi=[], hasqi_eq2=[])
        for seed in SEEDS:
            np.random.seed(seed)  # noqa: NPY002 (pyclarity's global generator)
            score, raw = haspi_v2(x, case["fs"], y, case["fs"], ag, level1=case["level_db_spl"])
            row["haspi"].append(float(score))
            if seed == SEEDS[0]:
                row["haspi_modulation_correlations"] = [float(v) for v in raw]
            for eq, key in ((1, "hasqi"), (2, "hasqi_eq2")):
                np.random.seed(seed)  # noqa: NPY002 (pyclarity's global generator)
                combined, nonlin, lin, raw_q = hasqi_v2(
                    x, case["fs"], y, case["fs"], ag, equalisation=eq,
                    level1=case["level_db_spl"])
                row[key].append(float(combined))
                if seed == SEEDS[0] and eq == 1:
                    row["hasqi_terms"] = {
                        "nonlinear": float(nonlin), "linear": float(lin),
                        "cepstral_correlation": float(raw_q[0]),
                        "bm_coherence": float(raw_q[1]), "spectrum_term": float(raw_q[2]),
                        "slope_term": float(raw_q[3]),
                    }
        out["cases"].append(row)
        print(f"{time.time() - t_start:6.0f} s  {case}  haspi {row['haspi']}  "
              f"hasqi {row['hasqi']}", flush=True)
    path = Path(__file__).with_name("haspi_hasqi_pyclarity_0.9.0.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
