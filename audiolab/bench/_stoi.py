"""Bench cases: STOI and ESTOI of speech-in-noise pairs, :func:`audiolab.dsp.stoi` vs pystoi.

pystoi is a test-only dependency: it is imported inside the case, and without it the case runs
ours alone and says so in its row.
"""


import numpy as np

from audiolab.audiology import load_speech_corpus
from audiolab.bench._runner import BenchCase
from audiolab.dsp import stoi

__all__ = ["cases", "speech_in_noise_pairs"]


def speech_in_noise_pairs(
    *, fs: float, snr_db: float, n_pairs: int, seed: int = 15
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(clean, noisy)`` float64 pairs: bundled sentences plus white noise at ``snr_db``.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    snr_db : float
        Speech-to-noise ratio of the whole recording in dB (RMS over RMS).
    n_pairs : int
        Number of pairs, cycling through the corpus's sentences.
    seed : int
        Seed of the noise.

    Returns
    -------
    list of tuple of numpy.ndarray
        Each pair 1-D float64 of the same length.

    Examples
    --------
    >>> from audiolab.bench._stoi import speech_in_noise_pairs
    >>> clean, noisy = speech_in_noise_pairs(fs=10000, snr_db=0.0, n_pairs=1)[0]
    >>> clean.shape == noisy.shape
    True
    """
    rng = np.random.default_rng(seed)
    sentences = load_speech_corpus().sentences
    pairs = []
    for i in range(n_pairs):
        clean = sentences[i % len(sentences)].load(fs=fs).astype(np.float64)
        noise = rng.standard_normal(clean.size)
        noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
        pairs.append((clean, clean + noise))
    return pairs


def cases(quick: bool) -> list[BenchCase]:
    """STOI and ESTOI over 12 sentence pairs (4 if quick) at 16 kHz and at 10 kHz, 0 dB SNR."""
    n_pairs = 4 if quick else 12
    out = []
    for fs in (16000, 10000):
        pairs = speech_in_noise_pairs(fs=fs, snr_db=0.0, n_pairs=n_pairs)
        audio_s = sum(c.size for c, _ in pairs) / fs
        for extended in (False, True):
            out.append(_case(pairs, fs, extended, audio_s))
    return out


def _case(
    pairs: list[tuple[np.ndarray, np.ndarray]], fs: float, extended: bool, audio_s: float
) -> BenchCase:
    metric = "ESTOI" if extended else "STOI"
    name = f"{metric} of {len(pairs)} speech pairs, {fs / 1000:g} kHz"

    def ours() -> list[float]:
        return [stoi(c, p, fs, extended=extended) for c, p in pairs]

    try:
        from pystoi import stoi as pystoi_stoi
    except ImportError:
        return BenchCase(
            name=name, audio_s=audio_s, ours=ours,
            note="pystoi is not installed (pip install pystoi): no reference timing",
        )

    def reference() -> list[float]:
        return [pystoi_stoi(c, p, fs, extended=extended) for c, p in pairs]

    worst = max(abs(a - b) for a, b in zip(ours(), reference(), strict=True))
    return BenchCase(
        name=name,
        audio_s=audio_s,
        ours=ours,
        reference=reference,
        reference_name="pystoi.stoi per pair",
        target_ratio=5.0,
        note=f"largest |ours - pystoi| on these pairs: {worst:.1e}",
    )


