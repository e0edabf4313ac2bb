"""Bench cases: SOS cascade and the gammatone filterbank against SciPy equivalents."""

import numpy as np
import scipy.signal

from audiolab.bench._runner import BenchCase
from audiolab.dsp import GammatoneFilterbank, SOSConfig, SOSFilter

__all__ = ["cases"]

FS = 48000


def _scipy_gammatone_sos(fb: GammatoneFilterbank) -> list[np.ndarray]:
    # What a user would write: each band as 4 complex first-order sections for sosfilt.
    d = fb.design
    return [
        np.array([[n, 0, 0, 1, -c, 0]] + [[1, 0, 0, 1, -c, 0]] * 3, dtype=np.complex64)
        for c, n in zip(d.coefficients, d.normalization, strict=True)
    ]


def cases(quick: bool) -> list[BenchCase]:
    """Gammatone analyze / process and an SOS cascade, 10 s of 48 kHz audio (2 s if quick)."""
    seconds = 2.0 if quick else 10.0
    x = np.random.default_rng(1).standard_normal(int(seconds * FS)).astype(np.float32)

    fb = GammatoneFilterbank(fs=FS, f_low_hz=100, f_high_hz=8000, bands_per_erb=1.0)
    sos_bands = _scipy_gammatone_sos(fb)
    weights = fb.design.weights.astype(np.complex64)
    delays = fb.design.band_delays_samples

    def scipy_analyze() -> np.ndarray:
        xc = x.astype(np.complex64)
        return np.stack([scipy.signal.sosfilt(s, xc) for s in sos_bands])

    def scipy_analysis_synthesis() -> np.ndarray:
        xc = x.astype(np.complex64)
        y = np.zeros(x.size, np.float32)
        for s, w, k in zip(sos_bands, weights, delays, strict=True):
            r = (w * scipy.signal.sosfilt(s, xc)).real
            y[k:] += r[: x.size - k]
        return y

    fb_stream = GammatoneFilterbank(fs=FS, f_low_hz=100, f_high_hz=8000, bands_per_erb=1.0)
    bank = f"{fb.n_bands} bands 100-8000 Hz, 1/ERB, 48 kHz"

    butter = scipy.signal.butter(8, [300, 3000], btype="band", fs=FS, output="sos")
    stereo = np.stack([x, x[::-1]])
    sos_filter = SOSFilter(SOSConfig(sos=butter, fs=FS))

    return [
        BenchCase(
            name=f"gammatone analyze ({bank})",
            audio_s=seconds,
            ours=lambda: fb.analyze(x),
            reference=scipy_analyze,
            reference_name="scipy.signal.sosfilt per band, 4 complex64 sections",
            target_ratio=3.0,
        ),
        BenchCase(
            name=f"gammatone analysis+resynthesis, streaming ({bank})",
            audio_s=seconds,
            ours=lambda: fb_stream.process(x),
            reference=scipy_analysis_synthesis,
            reference_name="sosfilt per band + NumPy delay/phase/gain/sum",
            target_ratio=10.0,
            target_x_real_time=1000.0,
        ),
        BenchCase(
            name="SOS cascade, 16th-order band-pass, stereo 48 kHz",
            audio_s=seconds,
            ours=lambda: sos_filter.process(stereo),
            reference=lambda: scipy.signal.sosfilt(butter, stereo, axis=-1),
            reference_name="scipy.signal.sosfilt (float32 in, float64 inside)",
            target_ratio=3.0,
        ),
    ]
