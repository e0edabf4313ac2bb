"""Benchmark: the C cochlear-implant vocoder against the same vocoder written with SciPy."""

from typing import Any

import numpy as np

from audiolab.bench._runner import BenchCase

__all__ = ["cases"]

FS = 44100


def _scipy_vocoder(ci: Any, x: np.ndarray, seed: int) -> np.ndarray:
    """The vocoder as a user would write it: sosfilt per band, NumPy noise and sines."""
    from scipy.signal import sosfilt

    from audiolab.models._ci import ENVELOPE_GAIN

    d, cfg = ci.design, ci.config
    rng = np.random.default_rng(seed)
    n = x.shape[1]
    t = np.arange(n) / ci.fs
    out = np.zeros(x.shape)
    for c in range(x.shape[0]):
        env = np.stack([sosfilt(d.envelope_sos, np.abs(sosfilt(s, x[c])))
                        for s in d.analysis_sos])
        env = np.maximum(env, 0.0) * ENVELOPE_GAIN
        if d.spread is not None:
            env = d.spread @ env
        for b in range(cfg.n_bands):
            if cfg.carrier == "noise":
                y = sosfilt(d.synthesis_sos[b], env[b] * rng.standard_normal(n))
            else:
                y = env[b] * np.sin(2 * np.pi * d.carrier_frequencies_hz[b] * t)
            out[c] += d.carrier_gain[b] * y
    return out.astype(np.float32)


def cases(quick: bool) -> list[BenchCase]:
    """CI vocoder cases on 10 s (quick: 2 s) of 44.1 kHz stereo noise."""
    from audiolab.models import CochlearImplantSimulator

    seconds = 2.0 if quick else 10.0
    x = (0.1 * np.random.default_rng(0).standard_normal((2, int(seconds * FS)))).astype(
        np.float32)
    out = []
    settings: list[tuple[str, dict[str, Any]]] = [
        ("8-channel noise vocoder", {"n_bands": 8, "carrier": "noise"}),
        ("22-channel sine vocoder, current spread 2 dB/mm",
         {"n_bands": 22, "carrier": "sine", "spread_db_per_mm": 2.0}),
    ]
    for label, kwargs in settings:
        ci = CochlearImplantSimulator(fs=FS, seed=1, **kwargs)

        def ours(ci: Any = ci) -> Any:
            ci.reset()
            return ci.process(x)

        def reference(ci: Any = ci) -> Any:
            return _scipy_vocoder(ci, x, 1)

        out.append(BenchCase(
            name=f"CI vocoder: {label}, {seconds:g} s 44.1 kHz stereo",
            audio_s=seconds,
            ours=ours,
            reference=reference,
            reference_name="scipy.signal.sosfilt per band + NumPy carriers (same filters)",
        ))
    return out
