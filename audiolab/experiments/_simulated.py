"""The simulated listener ``simulated:AUDIOGRAM``: a model that hears the rendered stimulus.

It answers from the sound pressure of each ear (:class:`~audiolab.experiments.RenderedTrial`), not
from the procedure's variable, so a procedure, a stimulus and a calibration are tested together.
The models are documented on :class:`SimulatedListener`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal

from audiolab._errors import ConfigError
from audiolab._validate import check_real
from audiolab.audiology import (
    Audiogram,
    EarAudiogram,
    load_audiogram,
    sii_bands,
    sii_from_signals,
)
from audiolab.calibration import db_hl_to_db_spl, db_spl_to_pa_rms, retspl_table
from audiolab.dsp import GammatoneFilterbank, db_to_power, erb_bandwidth_hz, power_to_db
from audiolab.experiments._stimuli import DEFAULT_TRANSDUCER, RenderedTrial
from audiolab.experiments._trials import Response, Trial, TrialDraws, check_seed

__all__ = ["SimulatedListener", "parse_simulated"]

THRESHOLD_OFFSET_DB = 2.5
"""The 50 % point lies this far below the audiogram value: ISO 8253-1's ascending method with
5 dB steps reports about 2.5 dB above the 50 % point (../shared/REFERENCE.md)."""

ERB_SNR_AT_THRESHOLD_DB = -4.0
"""K of the power-spectrum model: signal-to-masker power ratio in the auditory filter at the
50 % point, about -4 dB at mid frequencies (Patterson & Moore 1986)."""

NORMAL_SRT_DB = -7.0
"""Matrix-test SRT of N1 in stationary speech-shaped noise at 65 dB SPL (OLSA population data,
REFERENCE.md)."""

SRT_SLOPE_PER_DB = 0.17
"""Slope of the word-score function at the SRT, per dB (matrix tests, REFERENCE.md)."""

SII_PER_DB = 1.0 / 30.0
"""Rise of the SII per dB of SNR while the noise masks the speech: ANSI S3.5-1997 Eq. (12)."""

WARDENGA_SLOPE_DB_PER_DB_HL = 0.094
WARDENGA_KNEE_PTA_DB_HL = 47.0
"""Wardenga et al. (2015, Int J Audiol 55:71-79; 315 ears, noise at 65 dB SPL): the SRT rises
0.094 dB per dB of PTA below a PTA of 47 dB HL (listening in noise; residual SD 1.17 dB) and
0.811 dB per dB above (listening in quiet)."""

PTA_FREQUENCIES_HZ = (500.0, 1000.0, 2000.0, 3000.0)

SII_THRESHOLD_SHIFT_DB = 5.5
"""Thresholds enter the SII this much lower, so that the model's change from noise-limited to
quiet-limited listening for flat losses happens at the PTA where Wardenga et al. (2015) found
it (47 dB HL with noise at 65 dB SPL). With the unshifted ANSI S3.5 internal noise the model's
knee (where the quiet asymptote, SRT rising 1 dB per dB of flat loss, meets the normal-hearing
SRT) lies at 41.5 dB HL for the bundled matrix material; ``tests/test_simulated.py``
recomputes it. Set from the knee alone, not from the SRT of any audiogram."""

_SII_PROCEDURE = "one-third-octave"

_BROADBAND_FREQUENCIES_HZ = (500.0, 1000.0, 2000.0, 4000.0)
"""ERB bands where a noise (or a SAM carrier) is listened for: the best of them counts."""

MODULATION_NOISE = 0.03
"""Internal noise (SD) on the measured modulation depth m at high sensation levels."""

MODULATION_SL_DB = 20.0
"""Below this sensation level of the carrier the internal modulation noise grows 1:1 in dB
(modulation detection worsens near threshold; flat above about 20-30 dB SL, Viemeister 1979)."""


GAP_WINDOW_ERD_MS = 8.0
"""Equivalent rectangular duration of the temporal window that smooths each auditory band's
intensity: about 8 ms at moderate levels (Moore, Glasberg, Plack & Biswas 1988, J Acoust Soc
Am 83:1102-1116)."""

GAP_BANDS_HZ = (500.0, 6000.0)
"""Range of the gammatone bands (1 per ERB) a gap is listened for in; the top is lowered to
0.4 fs at low sample rates."""

GAP_YES_NO_CRITERION_DB = 3.0
"""Yes/no gap detection: "yes" when the interval's deepest dip (see the class docstring) is
deeper than 3 dB, half the intensity."""


class SimulatedListener:
    """A listener with an audiogram who answers from the rendered sound pressure.

    Models (each per ear; an interval is heard if either ear hears it):

    - **Tones, tones in noise and notched noise** (a noise alone: the best of the ERB bands at
      0.5, 1, 2 and 4 kHz): the power-spectrum model of masking
      (Patterson & Moore 1986) with the auditory filter's ERB at the tone (Glasberg & Moore 1990,
      ERB_N = 24.7 (4.37 f/1000 + 1) Hz). P_s and P_m are the signal's and masker's powers in
      the ERB band centred on the tone, measured from the interval's steady half (Hann window).
      Hearing loss enters as an internal noise P_i in that band, set so that a tone in quiet at
      the 50 % point (audiogram value minus 2.5 dB, :data:`THRESHOLD_OFFSET_DB`, converted to
      dB SPL with the RETSPL of the transducer the stimulus was rendered for; default
      :data:`DEFAULT_TRANSDUCER`) gives P_s / P_i = K (:data:`ERB_SNR_AT_THRESHOLD_DB`). With
      d = 10 log10(P_s / (P_m + P_i)) - K the interval is heard with probability
      1 / (1 + exp(-slope d)). For a tone in quiet d is the level in dB HL minus
      (audiogram - 2.5 dB): ISO 8253-1's ascending method (which reports ~2.5 dB above the
      50 % point) then reports the audiogram on average. Filters are not broadened with the
      loss.
    - **Sinusoidal amplitude modulation**: the modulation depth of the interval's Hilbert
      envelope at the modulation rate, m = 2 |mean(e(t) exp(-i 2 pi f_m t))| / mean(e(t)),
      plus Gaussian internal noise of SD 0.03 (:data:`MODULATION_NOISE`); the interval with
      the largest value is chosen (yes/no: "yes" above m = 0.06, twice the noise SD). A
      noise carrier's own envelope fluctuations count, as they do for listeners (Dau et al.
      1999). Audibility: below 20 dB sensation level (the tone model's d at the best of
      0.5-4 kHz) the noise grows 1:1 in dB.
    - **Gap in noise**: the temporal-window model (Moore et al. 1988; Plack & Moore 1990).
      Each ear's interval goes through a gammatone filterbank (Hohmann 2002, 1 band per ERB,
      0.5-6 kHz, :data:`GAP_BANDS_HZ`); each band's intensity |z|^2 / 2 is smoothed by a
      symmetric rounded-exponential window of ERD 8 ms (:data:`GAP_WINDOW_ERD_MS`). Hearing
      loss enters as a threshold-simulating internal noise (cf. Florentine & Buus 1984, J
      Speech Hear Res 27:449-455, whose simulated losses reproduced impaired listeners' gap
      thresholds): a random Gaussian noise through the same bands, each band scaled to the
      power P_i of the tone model above, added before the intensity is taken. The smoothed
      intensity, normalised by its mean, is averaged over the bands; the statistic is the
      depth in dB of its deepest point in the middle half of the interval (where the gap
      is), the interval with the deepest dip is chosen (yes/no: "yes" deeper than 3 dB).
      The noise's own fluctuations make dips in every interval, so there is no fitted
      decision noise: normal hearing at 70 dB SPL gives a 3-AFC 70.7 % gap of about 2 ms
      (broadband noise: 2-3 ms, Plomp 1964; Moore 2003, An Introduction to the Psychology
      of Hearing, ch. 5); at low sensation levels and with losses that leave only
      low-frequency (narrow, slowly fluctuating) bands audible, thresholds rise, as
      Fitzgibbons & Wightman (1982, J Acoust Soc Am 72:761-765) found for impaired ears.
    - **Matrix sentences**: Plomp's (1978, J Acoust Soc Am 63:533-549) two-term model of
      hearing loss for speech, with the SII for the audibility term. (1) Audibility and
      masking: the SII (ANSI S3.5-1997, one-third-octave procedure,
      :func:`audiolab.audiology.sii_from_signals`) of the speech and the noise as presented,
      with the ear's thresholds as the standard's internal noise. Word probability
      p_SII = 1 / (1 + exp(-(SII - SII_50) / w)): SII_50 is the SII of the same sentence
      and noise at -7 dB SNR for audiogram N1 (so N1's SRT is -7 dB, :data:`NORMAL_SRT_DB`,
      the OLSA population figure), and w = 1 / (4 * 0.17 * 30) makes the slope 17 %/dB at
      the SRT where the SII rises 1/30 per dB (ANSI S3.5 Eq. 12). The thresholds enter the
      SII 5.5 dB lower (:data:`SII_THRESHOLD_SHIFT_DB`) so that for flat losses the change
      from noise-limited to quiet-limited listening falls at the 47 dB HL PTA where
      Wardenga et al. (2015) measured it. (2) Distortion (Plomp's D, which raises the SRT
      in noise whatever the level): in noise the SRT is at least -7 dB + D with
      D = 0.094 dB per dB of PTA (0.5, 1, 2, 3 kHz) above N1's, up to the knee (Wardenga's
      slope below the knee), as a logistic p_D of slope 17 %/dB. The word probability is
      the smaller of p_SII and p_D (the SRT is the larger of the two limits), times
      1 - lapse; the better ear counts. Sloping losses get their deficit from the SII
      (inaudible high bands), flat ones from D, so neither is counted twice. SRTs measured
      with :class:`~audiolab.experiments.MatrixSrt` (tests/test_simulated.py) follow
      Wardenga's regression within its residual SD (1.17 dB) below the knee; S2 (steep
      slope, 55-95 dB HL above 2 kHz) is the worst, about 2 dB above the line.

    Parameters
    ----------
    audiogram : Audiogram or str or pathlib.Path
        A preset (N1..N7, S1..S3) or an audiogram file.
    seed : int
        Seed of the listener's generator.
    slope_per_db : float
        Slope of the detection logistic, per dB, in (0, 10] (1.0: 10 %-90 % over 4.4 dB).
    false_alarm_rate : float
        P("yes") when nothing is heard (yes/no), in [0, 0.5].
    lapse_rate : float
        P(a random answer), in [0, 0.5].
    transducer : str
        RETSPL table for stimuli that do not say which transducer they were rendered for.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.experiments import Trial, render_trial, stimulus_spec
    >>> lst = SimulatedListener("N1", seed=1)
    >>> spec = stimulus_spec({"kind": "tone", "frequency_hz": 1000, "duration_ms": 500})
    >>> trial = Trial(index=0, x_db=60.0, n_intervals=1, target_interval=None, catch=False,
    ...               ear="right", frequency_hz=1000.0)
    >>> lst.respond(trial, render_trial(spec, trial, fs=16000, rng=np.random.default_rng(0)))
    True
    """

    def __init__(self, audiogram: Audiogram | str | Path, *, seed: int,
                 slope_per_db: float = 1.0, false_alarm_rate: float = 0.01,
                 lapse_rate: float = 0.0, transducer: str = DEFAULT_TRANSDUCER) -> None:
        self._name = str(audiogram) if not isinstance(audiogram, Audiogram) else audiogram.name
        self._audiogram = load_audiogram(audiogram)
        self._slope = check_real("slope", slope_per_db, low=0, high=10, low_open=True)
        self._fa = check_real("false_alarm", false_alarm_rate, low=0, high=0.5)
        self._lapse = check_real("lapse", lapse_rate, low=0, high=0.5)
        retspl_table(transducer)  # refuses an unknown table
        self._transducer = transducer
        self._draws = TrialDraws(check_seed(seed))
        self._rng = np.random.default_rng(self._draws.seed)  # replaced at each respond()
        self._cache: dict[Any, Any] = {}

    @property
    def audiogram(self) -> Audiogram:
        """The listener's audiogram."""
        return self._audiogram

    def describe(self) -> str:
        """The listener's spec string."""
        return (f"simulated:{self._name},slope={self._slope:g},false_alarm={self._fa:g},"
                f"lapse={self._lapse:g},transducer={self._transducer}")

    def _ear(self, row: int) -> EarAudiogram:
        return self._audiogram.ear("left" if row == 0 else "right")

    def respond(self, trial: Trial, stimulus: RenderedTrial | None = None) -> Response:
        """Answer ``trial`` from the rendered ``stimulus`` (required)."""
        if stimulus is None:
            raise ConfigError("the simulated listener hears the stimulus: respond(trial, "
                              "stimulus) needs the RenderedTrial, got None")
        # Every draw of this answer: a function of (seed, trial index), so resume == uninterrupted.
        self._rng = self._draws.generator(trial.index)
        kind = stimulus.description.get("kind")
        if kind == "speech_in_noise":
            assert trial.n_words is not None
            p = (1.0 - self._lapse) * self._word_probability(stimulus)
            return int(np.sum(self._rng.random(trial.n_words) < p))
        if kind == "sam":
            return self._decide_max(trial, self._modulation_statistics(stimulus))
        if kind == "gap_in_noise":
            dips = self._gap_statistics(stimulus)
            if trial.target_interval is None:
                return self._decide_yes_no(dips[0] > GAP_YES_NO_CRITERION_DB)
            return self._decide_max(trial, dips)
        if kind in ("tone", "noise", "tone_in_noise", "notched_noise"):
            n_intervals = len(stimulus.interval_onsets_samples)
            return self._decide_detect(trial, [self._p_heard(stimulus, k)
                                               for k in range(n_intervals)])
        raise ConfigError(f"the simulated listener has no model for stimulus kind {kind!r} "
                          "(models: tone, noise, tone_in_noise, notched_noise, gap_in_noise, "
                          "sam, speech_in_noise)")

    # --- decisions -------------------------------------------------------------------------

    def _decide_detect(self, trial: Trial, p_heard: list[float]) -> Response:
        """High-threshold decision: each interval is heard with its probability."""
        lapse = self._rng.random() < self._lapse
        heard = self._rng.random(len(p_heard)) < np.asarray(p_heard)
        if trial.target_interval is None:
            if lapse:
                return bool(self._rng.random() < 0.5)
            return bool(heard[0] or self._rng.random() < self._fa)
        candidates = np.flatnonzero(heard) if heard.any() and not lapse else np.arange(len(heard))
        return int(candidates[int(self._rng.integers(candidates.size))]) + 1

    def _decide_yes_no(self, detected: bool) -> bool:
        if self._rng.random() < self._lapse:
            return bool(self._rng.random() < 0.5)
        return bool(detected or self._rng.random() < self._fa)

    def _decide_max(self, trial: Trial, statistics: list[float]) -> Response:
        lapse = self._rng.random() < self._lapse
        if trial.target_interval is None:
            if lapse:
                return bool(self._rng.random() < 0.5)
            return bool(statistics[0] > 2 * MODULATION_NOISE)
        if lapse:
            return int(self._rng.integers(len(statistics))) + 1
        return int(np.argmax(statistics)) + 1

    # --- band (ERB) model ------------------------------------------------------------------

    def _threshold_power_pa2(self, row: int, f_hz: float, transducer: str) -> float:
        """Power of a tone at the ear's 50 % point, Pa^2."""
        hl = float(self._ear(row).threshold_db_hl_at(f_hz)) - THRESHOLD_OFFSET_DB
        spl = float(db_hl_to_db_spl(hl, frequency_hz=f_hz, transducer=transducer))
        return float(db_spl_to_pa_rms(spl)) ** 2

    def _band_internal_noise_pa2(self, row: int, centres_hz: np.ndarray,
                                 transducer: str) -> np.ndarray:
        """Tone power at the 50 % point at each centre frequency (cached per ear and bands)."""
        key = (row, transducer, tuple(np.round(centres_hz, 3)))
        if key not in self._cache:
            self._cache[key] = np.array([self._threshold_power_pa2(row, float(f), transducer)
                                         for f in centres_hz])
        return self._cache[key]

    def _d_db(self, stimulus: RenderedTrial, k: int, row: int, f_hz: float,
              signal: np.ndarray) -> float:
        """The d of the power-spectrum model in the ERB band at ``f_hz`` (class docstring)."""
        transducer = stimulus.description.get("transducer") or self._transducer
        p_s = _erb_band_power(signal, fs=stimulus.fs, f_hz=f_hz)
        if p_s <= 0:
            return -math.inf
        p_m = 0.0
        if stimulus.masker_pa is not None:
            p_m = _erb_band_power(_steady(stimulus.masker_pa[row], stimulus, k),
                                  fs=stimulus.fs, f_hz=f_hz)
        k_lin = float(db_to_power(ERB_SNR_AT_THRESHOLD_DB))
        p_i = self._threshold_power_pa2(row, f_hz, transducer) / k_lin
        return float(power_to_db(p_s / (p_m + p_i))) - ERB_SNR_AT_THRESHOLD_DB

    def _p_heard(self, stimulus: RenderedTrial, k: int) -> float:
        f_tone = stimulus.description.get("frequency_hz")
        freqs = (float(f_tone),) if f_tone is not None else _BROADBAND_FREQUENCIES_HZ
        sig = stimulus.signal_pa if stimulus.signal_pa is not None else stimulus.pa
        p_miss = 1.0
        for row in (0, 1):
            seg = _steady(sig[row], stimulus, k)
            if not np.any(seg):
                continue
            d = max(self._d_db(stimulus, k, row, f, seg) for f in freqs)
            p_miss *= 1.0 - _logistic(self._slope * d)
        return 1.0 - p_miss

    # --- modulation model ------------------------------------------------------------------

    def _modulation_statistics(self, stimulus: RenderedTrial) -> list[float]:
        fm = float(stimulus.description["modulation_hz"])
        out = []
        for k in range(len(stimulus.interval_onsets_samples)):
            best = -math.inf
            for row in (0, 1):
                seg = _steady(stimulus.pa[row], stimulus, k).astype(np.float64)
                if not np.any(seg):
                    continue
                env = np.abs(scipy.signal.hilbert(seg))
                t = np.arange(seg.size) / stimulus.fs
                m = 2.0 * abs(np.mean(env * np.exp(-2j * np.pi * fm * t))) / np.mean(env)
                sl = max(self._d_db(stimulus, k, row, f, seg)
                         for f in _BROADBAND_FREQUENCIES_HZ)
                noise_sd = MODULATION_NOISE * math.pow(10.0, max(0.0, MODULATION_SL_DB - sl)
                                                       / 20.0) if math.isfinite(sl) else 1e3
                best = max(best, m + noise_sd * float(self._rng.standard_normal()))
            out.append(best)
        return out

    # --- gap model ---------------------------------------------------------------------------

    def _gap_statistics(self, stimulus: RenderedTrial) -> list[float]:
        """Deepest dip (dB) of each interval's smoothed band intensity, better ear."""
        fs = stimulus.fs
        transducer = stimulus.description.get("transducer") or self._transducer
        if ("gap", fs) not in self._cache:
            self._cache["gap", fs] = (
                GammatoneFilterbank(fs=fs, f_low_hz=GAP_BANDS_HZ[0],
                                    f_high_hz=min(GAP_BANDS_HZ[1], 0.4 * fs)),
                _temporal_window(fs))
        bank, window = self._cache["gap", fs]
        centres = bank.center_frequencies_hz
        k_lin = float(db_to_power(ERB_SNR_AT_THRESHOLD_DB))
        out = []
        for k in range(len(stimulus.interval_onsets_samples)):
            on, off = stimulus.interval_onsets_samples[k], stimulus.interval_offsets_samples[k]
            quarter = (off - on) // 4
            deepest = 0.0
            for row in (0, 1):
                x = stimulus.pa[row, on:off]
                if not np.any(x):
                    continue
                p_i = self._band_internal_noise_pa2(row, centres, transducer) / k_lin
                bank.reset()
                z = bank.analyze(x).astype(np.complex128)
                bank.reset()
                noise = bank.analyze(self._rng.standard_normal(x.size)).astype(np.complex128)
                noise *= np.sqrt(p_i / (0.5 * np.mean(np.abs(noise) ** 2, axis=1)))[:, None]
                intensity = 0.5 * np.abs(z + noise) ** 2
                smooth = scipy.signal.oaconvolve(intensity, window[None, :], mode="same",
                                                 axes=1)
                middle = smooth[:, quarter:smooth.shape[1] - quarter]
                ratio = np.mean(middle / np.mean(middle, axis=1, keepdims=True), axis=0)
                deepest = max(deepest, -float(power_to_db(np.min(ratio))))
            out.append(deepest)
        return out

    # --- speech model ----------------------------------------------------------------------

    def _word_probability(self, stimulus: RenderedTrial) -> float:
        """P(a word is recognised): the worse of the SII and the distortion limit, better ear."""
        desc = stimulus.description
        if stimulus.signal_pa is None or stimulus.masker_pa is None:
            raise ConfigError("speech_in_noise stimuli must carry their speech and noise parts")
        on, off = int(desc["speech_onset_samples"]), int(desc["speech_offset_samples"])
        snr_db = float(desc["snr_db"])
        centres = sii_bands(_SII_PROCEDURE).centre_frequencies_hz
        n1_t = load_audiogram("N1").right.threshold_db_hl_at(centres) - SII_THRESHOLD_SHIFT_DB
        w = 1.0 / (4.0 * SRT_SLOPE_PER_DB / SII_PER_DB)
        best = 0.0
        for row in (0, 1):
            speech = stimulus.signal_pa[row, on:off].astype(np.float64)
            noise = stimulus.masker_pa[row, on:off].astype(np.float64)
            if not np.any(speech):
                continue
            t = self._ear(row).threshold_db_hl_at(centres) - SII_THRESHOLD_SHIFT_DB
            sii = sii_from_signals(speech, noise, fs=stimulus.fs, threshold_db_hl=t,
                                   procedure=_SII_PROCEDURE)
            ref_gain = math.pow(10.0, (NORMAL_SRT_DB - snr_db) / 20.0)
            sii_50 = sii_from_signals(speech * ref_gain, noise, fs=stimulus.fs,
                                      threshold_db_hl=n1_t, procedure=_SII_PROCEDURE)
            p_sii = _logistic((sii - sii_50) / w)
            # Plomp's (1978) distortion term: in noise the SRT cannot be below N1's plus D.
            srt_d = NORMAL_SRT_DB + _distortion_db(self._ear(row))
            p_d = _logistic(4.0 * SRT_SLOPE_PER_DB * (snr_db - srt_d))
            best = max(best, min(p_sii, p_d))
        return best


def _pta_db_hl(ear: EarAudiogram) -> float:
    return float(np.mean(ear.threshold_db_hl_at(PTA_FREQUENCIES_HZ)))


def _distortion_db(ear: EarAudiogram) -> float:
    """Plomp's D: Wardenga et al. (2015)'s 0.094 dB/dB HL rise re N1's PTA, up to the knee."""
    n1 = _pta_db_hl(load_audiogram("N1").right)
    pta = min(_pta_db_hl(ear), WARDENGA_KNEE_PTA_DB_HL)
    return WARDENGA_SLOPE_DB_PER_DB_HL * max(pta - n1, 0.0)


def _logistic(z: float) -> float:
    if z == -math.inf:
        return 0.0
    return 0.5 * (1.0 + math.tanh(0.5 * z))


def _temporal_window(fs: float) -> np.ndarray:
    """Symmetric roex temporal window (1 + 2|t|/T) exp(-2|t|/T), T = ERD / 2, unit sum."""
    t_s = 0.5 * GAP_WINDOW_ERD_MS / 1000.0
    t = np.arange(int(math.ceil(6 * t_s * fs))) / fs
    half = (1.0 + 2.0 * t / t_s) * np.exp(-2.0 * t / t_s)
    w = np.concatenate([half[:0:-1], half])
    return w / np.sum(w)


def _steady(x: np.ndarray, stimulus: RenderedTrial, k: int) -> np.ndarray:
    """The middle half of interval ``k`` (clear of the ramps)."""
    on, off = stimulus.interval_onsets_samples[k], stimulus.interval_offsets_samples[k]
    quarter = (off - on) // 4
    return x[on + quarter:off - quarter]


def _erb_band_power(x: np.ndarray, *, fs: float, f_hz: float) -> float:
    """Power (Pa^2) of ``x`` within f_hz +- ERB_N(f_hz) / 2 (Hann-windowed periodogram)."""
    x = np.asarray(x, np.float64)
    if x.size < 2:
        return 0.0
    w = np.hanning(x.size)
    spectrum = np.abs(np.fft.rfft(x * w)) ** 2
    # One-sided periodogram normalised so that its sum over all bins is the mean power.
    power = 2.0 * spectrum / (x.size * float(np.sum(w * w)))
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    half = 0.5 * float(erb_bandwidth_hz(f_hz))
    return float(np.sum(power[(f >= f_hz - half) & (f <= f_hz + half)]))


def parse_simulated(rest: str, *, seed: int) -> SimulatedListener:
    """Build a :class:`SimulatedListener` from the part of ``simulated:...`` after the colon.

    Parameters
    ----------
    rest : str
        ``AUDIOGRAM`` (a preset N1..N7, S1..S3 or an audiogram file), optionally followed by
        ``,slope=S``, ``,false_alarm=F``, ``,lapse=L``, ``,transducer=T``.
    seed : int
        Seed of the listener's generator.

    Returns
    -------
    SimulatedListener

    Examples
    --------
    >>> parse_simulated("N3,slope=0.5", seed=1).describe()
    'simulated:N3,slope=0.5,false_alarm=0.01,lapse=0,transducer=TDH-39'
    """
    name, *parts = [p.strip() for p in rest.split(",")]
    if not name:
        raise ConfigError("listener must be 'simulated:AUDIOGRAM' with AUDIOGRAM a preset "
                          f"(N1..N7, S1..S3) or an audiogram file, got 'simulated:{rest}'")
    kwargs: dict[str, Any] = {}
    keys = {"slope": "slope_per_db", "false_alarm": "false_alarm_rate", "lapse": "lapse_rate",
            "transducer": "transducer"}
    for part in parts:
        key, eq, text = part.partition("=")
        if not eq or key not in keys:
            raise ConfigError(f"listener key must be one of {', '.join(keys)} as key=value, "
                              f"got {part!r} in 'simulated:{rest}'")
        if keys[key] in kwargs:
            raise ConfigError(f"listener key {key} must be given once, got it twice")
        if key == "transducer":
            kwargs[keys[key]] = text
            continue
        try:
            kwargs[keys[key]] = float(text)
        except ValueError:
            raise ConfigError(f"listener {key} must be a number, got {text!r}") from None
    return SimulatedListener(name, seed=seed, **kwargs)
