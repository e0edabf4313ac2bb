"""Virtual test box: an ANSI S3.22-style battery run on any chain (``audiolab verify``).

The chain is a processor on sound pressure in Pa; the box presents calibrated pure tones (and
speech-shaped noise for the SII) as a one-channel signal (the ear a mono signal means: left by
default) and measures the output, as a coupler measurement would, with the processing delay
taken into account. Measurements follow ANSI S3.22-2014 (Specification of hearing aid
characteristics):

- OSPL90: output SPL for a 90 dB SPL tone at the one-third-octave frequencies 200-8000 Hz;
  HFA-OSPL90 is its average at 1000, 1600 and 2500 Hz (the high-frequency average, HFA).
- Full-on gain: gain for a 50 dB SPL tone; HFA full-on gain. A fitted digital aid has no volume
  control, so full-on is the fitted setting and equals the reference test setting.
- Frequency response: gain for a 60 dB SPL tone across frequency.
- Input/output curve at 2 kHz: output SPL for 50-90 dB SPL tones in 5 dB steps.
- Attack and release: 2 kHz tone stepped 55 -> 90 -> 55 dB SPL; the attack time is the time
  from the step's arrival at the output until the output stays within 3 dB of its final value
  (release: within 4 dB).
- Equivalent input noise: output noise with no input minus the HFA gain (a noiseless digital
  chain has none: reported as ``None``).
- Total harmonic distortion at 500, 800 and 1600 Hz for a 70 dB SPL tone.
- SII: if the chain holds a hearing aid, the unaided and aided ANSI S3.5-1997 SII of standard
  speech at 65 dB SPL in quiet for the aid's audiogram, the aided one with the insertion gain
  measured in one-third-octave bands with speech-shaped noise.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.signal

from audiolab.calibration import P_REF_PA, db_spl_to_pa_rms, pa_rms_to_db_spl
from audiolab.dsp import amplitude_to_db, db_to_amplitude, power_to_db
from audiolab.dsp._processor import Processor

__all__ = [
    "ANSI_FREQUENCIES_HZ",
    "VerifyReport",
    "measure_attack_release_ms",
    "measure_tone_output_db_spl",
    "verify_chain",
    "verify_chain_file",
]

ANSI_FREQUENCIES_HZ = np.array(
    [200.0, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000,
     6300, 8000]
)
HFA_FREQUENCIES_HZ = (1000.0, 1600.0, 2500.0)
IO_LEVELS_DB_SPL = tuple(float(v) for v in range(50, 95, 5))
THD_FREQUENCIES_HZ = (500.0, 800.0, 1600.0)
THD_INPUT_DB_SPL = 70.0
OSPL_INPUT_DB_SPL = 90.0
FULL_ON_INPUT_DB_SPL = 50.0
RESPONSE_INPUT_DB_SPL = 60.0
AGC_FREQUENCY_HZ = 2000.0

ProcessorFactory = Callable[[], Processor]


def _tone(f_hz: float, level_db_spl: float, n: int, fs: float) -> np.ndarray:
    t = np.arange(n) / fs
    amp = math.sqrt(2.0) * float(db_spl_to_pa_rms(level_db_spl))
    return amp * np.sin(2 * np.pi * f_hz * t)


def _run(factory: ProcessorFactory, x: np.ndarray) -> np.ndarray:
    proc = factory()
    return proc.process(np.asarray(x, np.float32)[None, :])[0].astype(np.float64)


def measure_tone_output_db_spl(
    factory: ProcessorFactory, f_hz: float, level_db_spl: float, *, fs: float,
    settle_s: float = 0.3, measure_s: float = 0.1,
) -> float:
    """Steady output level (dB SPL) of a processor for a pure tone.

    The tone plays ``settle_s`` before the output is measured over ``measure_s`` (a whole
    number of periods), on a fresh processor from ``factory``.
    """
    n_measure = max(1, int(round(round(measure_s * f_hz) / f_hz * fs)))
    n_settle = int(settle_s * fs)
    y = _run(factory, _tone(f_hz, level_db_spl, n_settle + n_measure, fs))
    tail = y[n_settle:]
    return float(pa_rms_to_db_spl(math.sqrt(float(np.mean(tail * tail))) + 1e-30))


def _envelope_db(y: np.ndarray, fs: float, f_hz: float) -> np.ndarray:
    # Hilbert envelope, lightly smoothed over one period of the tone so that residual
    # harmonics do not count as level changes.
    env = np.abs(scipy.signal.hilbert(y))
    k = max(1, int(round(fs / f_hz)))
    env = np.convolve(env, np.ones(k) / k, mode="same")
    return amplitude_to_db(env / math.sqrt(2.0) / P_REF_PA + 1e-30)


def measure_attack_release_ms(
    factory: ProcessorFactory, *, fs: float, latency_samples: int, f_hz: float = AGC_FREQUENCY_HZ,
    low_db_spl: float = 55.0, high_db_spl: float = 90.0, hold_s: float | None = None,
) -> tuple[float, float]:
    """ANSI S3.22 attack and release times (ms) of a processor, measured.

    A tone at ``low_db_spl`` for ``hold_s``, then ``high_db_spl`` for ``hold_s``, then
    ``low_db_spl`` for ``hold_s``; the level steps at zero crossings. Each time runs from the
    step's arrival at the output (the step plus ``latency_samples``) until the output envelope
    stays within 3 dB (attack) or 4 dB (release) of its final value (the median over the
    fifth before the next step). Without ``hold_s`` each level is held 1 s, and twice as long
    (up to 16 s) while the output still drifts by more than 0.05 dB before the next step, so
    that slow settling is not cut short. A time is NaN when the output never settles within
    the tolerance (its envelope fluctuates, as a noise-carrier vocoder's does).
    """
    if hold_s is not None:
        return _attack_release_once(factory, fs, latency_samples, f_hz, low_db_spl, high_db_spl,
                                    hold_s)[0]
    hold = 1.0
    while True:
        times, drift_db = _attack_release_once(factory, fs, latency_samples, f_hz, low_db_spl,
                                               high_db_spl, hold)
        if drift_db <= 0.05 or hold >= 16.0:
            return times
        hold *= 2


def _attack_release_once(
    factory: ProcessorFactory, fs: float, latency_samples: int, f_hz: float, low_db_spl: float,
    high_db_spl: float, hold_s: float,
) -> tuple[tuple[float, float], float]:
    """(attack_ms, release_ms) and how far the output still drifted before each next step."""
    n = int(hold_s * fs)
    t = np.arange(3 * n) / fs
    amp = np.concatenate([
        np.full(n, db_spl_to_pa_rms(low_db_spl)), np.full(n, db_spl_to_pa_rms(high_db_spl)),
        np.full(n, db_spl_to_pa_rms(low_db_spl)),
    ]) * math.sqrt(2.0)
    y = _run(factory, amp * np.sin(2 * np.pi * f_hz * t))
    env = _envelope_db(y, fs, f_hz)
    times = []
    drift = 0.0
    for seg, tol in ((1, 3.0), (2, 4.0)):
        start = seg * n + latency_samples
        # Judge only the first 80 % of the segment: the envelope near its end already feels
        # the next step (the Hilbert transform and the smoothing are not causal).
        e = env[start : start + int(0.8 * n)]
        final = float(np.median(e[int(0.6 * n) :]))
        drift = max(drift, abs(float(np.median(e[int(0.6 * n) : int(0.7 * n)]))
                               - float(np.median(e[int(0.7 * n) :]))))
        outside = np.flatnonzero(np.abs(e - final) > tol)
        last = int(outside[-1]) + 1 if outside.size else 0
        # Still outside the tolerance where the final level is taken: the output never settles
        # (e.g. a noise-carrier vocoder), so there is no attack or release time to report.
        times.append(1e3 * last / fs if last <= int(0.6 * n) else math.nan)
    return (times[0], times[1]), drift


def _thd_percent(factory: ProcessorFactory, f_hz: float, level_db_spl: float, fs: float) -> float:
    # Whole number of periods, Hann window: the harmonics fall on their own bins.
    periods = int(round(0.2 * f_hz))
    n_measure = int(round(periods * fs / f_hz))
    n_settle = int(0.3 * fs)
    y = _run(factory, _tone(f_hz, level_db_spl, n_settle + n_measure, fs))[n_settle:]
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    freqs = np.fft.rfftfreq(y.size, 1 / fs)

    def power_at(f: float) -> float:
        i = int(np.argmin(np.abs(freqs - f)))
        return float(np.sum(spec[max(0, i - 2) : i + 3] ** 2))

    fundamental = power_at(f_hz)
    harmonics = sum(power_at(k * f_hz) for k in range(2, 6) if k * f_hz < fs / 2)
    return 100.0 * math.sqrt(harmonics / (fundamental + harmonics))


@dataclass
class VerifyReport:
    """Results of :func:`verify_chain` (JSON-ready through :meth:`to_json_dict`)."""

    fs: float
    latency_ms: float
    frequencies_hz: list[float]
    ospl90_db_spl: list[float]
    hfa_ospl90_db_spl: float
    max_ospl90_db_spl: float
    full_on_gain_db: list[float]
    hfa_full_on_gain_db: float
    frequency_response_db: list[float]
    io_input_db_spl: list[float]
    io_output_db_spl: list[float]
    attack_ms: float | None  # None: the output never settles (nothing to measure)
    release_ms: float | None
    equivalent_input_noise_db_spl: float | None
    thd_percent: dict[str, float]
    sii: dict[str, Any] = field(default_factory=dict)
    declared: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain dict for ``json.dumps`` (floats rounded to 0.01)."""
        def r(v: Any) -> Any:
            if isinstance(v, float):
                return round(v, 2)
            if isinstance(v, list):
                return [r(x) for x in v]
            if isinstance(v, dict):
                return {k: r(x) for k, x in v.items()}
            return v

        return {k: r(v) for k, v in self.__dict__.items()}


def _hfa(values: np.ndarray, freqs: np.ndarray) -> float:
    return float(np.mean([values[int(np.argmin(np.abs(freqs - f)))] for f in HFA_FREQUENCIES_HZ]))


def _third_octave_gain_db(factory: ProcessorFactory, fs: float, latency: int,
                          centres_hz: np.ndarray, level_db_spl: float, *,
                          duration_s: float = 2.0) -> np.ndarray:
    """Gain (dB) in one-third-octave bands for speech-shaped noise at ``level_db_spl``."""
    from audiolab.audiology._sii import speech_band_levels_db_spl

    rng = np.random.default_rng(0)
    n = int(duration_s * fs)
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / fs)
    # Shape white noise to the standard speech spectrum (band level per one-third octave is
    # the spectrum level + 10 log10(0.2316 f)).
    f_safe = np.maximum(freqs, 20.0)
    shape_db = speech_band_levels_db_spl(f_safe, level_db_spl) - power_to_db(0.2316 * f_safe)
    x = np.fft.irfft(spec * db_to_amplitude(shape_db), n)
    x *= db_spl_to_pa_rms(level_db_spl) / np.sqrt(np.mean(x * x))
    y = _run(factory, x)
    skip = int(0.5 * fs)
    xs, ys = x[skip : n - latency], y[skip + latency :]
    fx = np.abs(np.fft.rfft(xs)) ** 2
    fy = np.abs(np.fft.rfft(ys)) ** 2
    ff = np.fft.rfftfreq(xs.size, 1 / fs)
    out = []
    for fc in centres_hz:
        band = (ff >= fc * 2 ** (-1 / 6)) & (ff < fc * 2 ** (1 / 6))
        out.append(float(power_to_db(fy[band].sum() / fx[band].sum())))
    return np.array(out)


def verify_chain(
    factory: ProcessorFactory, *, fs: float, latency_samples: int,
    hearing_aid: Any = None, declared: dict[str, Any] | None = None,
) -> VerifyReport:
    """Run the ANSI S3.22-style battery (module docstring) on a processor.

    Parameters
    ----------
    factory : callable
        Returns a fresh processor at rest (one per measurement, e.g. ``lambda: build_chain(...)``),
        taking ``(1, n)`` sound pressure in Pa at ``fs``.
    fs : float
        Sample rate in Hz.
    latency_samples : int
        The processor's delay (the attack and release times are measured from the step's
        arrival at the output).
    hearing_aid : HearingAid, optional
        The chain's hearing aid, if any: its audiogram gives the SII figures.
    declared : dict, optional
        The chain's declared settings, echoed in the report.

    Returns
    -------
    VerifyReport
    """
    freqs = ANSI_FREQUENCIES_HZ[ANSI_FREQUENCIES_HZ < 0.45 * fs]
    ospl, full_on, response = _tone_curves(factory, freqs, fs=fs)
    io_out = [measure_tone_output_db_spl(factory, AGC_FREQUENCY_HZ, lv, fs=fs)
              for lv in IO_LEVELS_DB_SPL]
    attack, release = measure_attack_release_ms(factory, fs=fs, latency_samples=latency_samples)
    noise_rms = _noise_rms_pa(factory, fs=fs)
    hfa_gain = _hfa(full_on, freqs)
    ein = None if noise_rms == 0.0 else float(pa_rms_to_db_spl(noise_rms)) - hfa_gain
    thd = {f"{f:g}": _thd_percent(factory, f, THD_INPUT_DB_SPL, fs) for f in THD_FREQUENCIES_HZ}
    sii: dict[str, Any] = {}
    if hearing_aid is not None:
        sii = _sii_figures(factory, hearing_aid, fs=fs, latency_samples=latency_samples)
    return VerifyReport(
        fs=float(fs),
        latency_ms=1e3 * latency_samples / fs,
        frequencies_hz=[float(v) for v in freqs],
        ospl90_db_spl=[float(v) for v in ospl],
        hfa_ospl90_db_spl=_hfa(ospl, freqs),
        max_ospl90_db_spl=float(ospl.max()),
        full_on_gain_db=[float(v) for v in full_on],
        hfa_full_on_gain_db=hfa_gain,
        frequency_response_db=[float(v) for v in response],
        io_input_db_spl=list(IO_LEVELS_DB_SPL),
        io_output_db_spl=[float(v) for v in io_out],
        attack_ms=None if math.isnan(attack) else attack,
        release_ms=None if math.isnan(release) else release,
        equivalent_input_noise_db_spl=ein,
        thd_percent=thd,
        sii=sii,
        declared=dict(declared or {}),
    )


def _tone_curves(
    factory: ProcessorFactory, freqs: np.ndarray, *, fs: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OSPL90 (dB SPL), full-on gain and frequency response (dB) at ``freqs``: ANSI S3.22 §6."""
    ospl = np.array([measure_tone_output_db_spl(factory, f, OSPL_INPUT_DB_SPL, fs=fs)
                     for f in freqs])
    full_on = np.array([measure_tone_output_db_spl(factory, f, FULL_ON_INPUT_DB_SPL, fs=fs)
                        for f in freqs]) - FULL_ON_INPUT_DB_SPL
    response = np.array([measure_tone_output_db_spl(factory, f, RESPONSE_INPUT_DB_SPL, fs=fs)
                         for f in freqs]) - RESPONSE_INPUT_DB_SPL
    return ospl, full_on, response


def _noise_rms_pa(factory: ProcessorFactory, *, fs: float) -> float:
    """RMS output (Pa) with no input, over the second half of 0.5 s (after any start-up)."""
    silence = _run(factory, np.zeros(int(0.5 * fs)))
    return math.sqrt(float(np.mean(silence[silence.size // 2 :] ** 2)))


def _sii_figures(
    factory: ProcessorFactory, hearing_aid: Any, *, fs: float, latency_samples: int
) -> dict[str, Any]:
    """Unaided and aided SII (ANSI S3.5-1997) of speech at 65 dB SPL for the aid's ear.

    The aided SII uses the insertion gain measured in one-third-octave bands with
    speech-shaped noise; bands above 0.45 ``fs`` get no gain.
    """
    from audiolab.audiology._sii import sii_bands
    from audiolab.models._fitting import aided_sii

    centres = sii_bands("one-third-octave").centre_frequencies_hz
    usable = centres < 0.45 * fs
    gain = np.zeros(centres.size)
    gain[usable] = _third_octave_gain_db(factory, fs, latency_samples, centres[usable], 65.0)
    ear = hearing_aid.audiogram.ear(hearing_aid.ear)
    return {
        "ear": hearing_aid.ear,
        "speech_db_spl": 65.0,
        "unaided": aided_sii(ear, None),
        "aided": aided_sii(ear, gain),
        "insertion_gain_frequencies_hz": [float(v) for v in centres],
        "insertion_gain_db": [float(v) for v in gain],
    }


def _declared(aid: Any) -> dict[str, Any]:
    """What a hearing-aid stage declares, in the report's terms (for its ``ear``)."""
    s = aid.ear_settings[aid.ear]
    fc = aid.center_frequencies_hz
    k = int(np.argmin(np.abs(fc - AGC_FREQUENCY_HZ)))
    levels = np.array(IO_LEVELS_DB_SPL)
    # A linear aid has no compressor: its attack/release settings are unused defaults, and
    # declaring them would set them beside the limiter's measured times as if comparable.
    compressive = aid.compression != "linear"
    return {
        "audiogram": aid.audiogram.name,
        "ear": aid.ear,
        "rule": aid.rule,
        "compression": aid.compression,
        "attack_ms": aid.attack_ms if compressive else None,
        "release_ms": aid.release_ms if compressive else None,
        "mpo_db_spl": s.mpo_db_spl,
        "ratio_at_2_khz": float(s.ratio[k]),
        "io_output_db_spl": [float(v) for v in
                             levels + aid.tone_gain_db(AGC_FREQUENCY_HZ, levels, side=aid.ear)],
    }


def verify_chain_file(path: Any) -> VerifyReport:
    """Load a chain file and run :func:`verify_chain` on it (at its ``fs``, else 48 kHz).

    Parameters
    ----------
    path : str or path-like or dict
        A chain file, or its content (see :func:`audiolab.models.load_chain`).

    Returns
    -------
    VerifyReport
    """
    from audiolab.models._chain import build_chain, load_chain
    from audiolab.models._hearing_aid import HearingAid

    spec = load_chain(path)
    fs = spec.fs if spec.fs is not None else 48000.0
    chain = build_chain(spec, fs=fs)
    aids = [s for s in chain.stages if isinstance(s, HearingAid)]

    def factory() -> Processor:
        chain.reset()
        return chain

    return verify_chain(
        factory, fs=fs, latency_samples=chain.latency_samples,
        hearing_aid=aids[0] if aids else None,
        declared=_declared(aids[0]) if aids else None,
    )
