"""The simulated listener: audiometry, masking, modulation and matrix SRTs from the sound."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.stats import norm

from audiolab import ConfigError
from audiolab.audiology import load_audiogram
from audiolab.experiments import (
    AudiometryConfig,
    MatrixSrtConfig,
    PureToneAudiometry,
    SimulatedListener,
    Task,
    Trial,
    UpDownConfig,
    fit_matrix_srt,
    make_procedure,
    parse_listener,
    render_trial,
    reversal_threshold,
    run_listener,
    stimulus_spec,
)
from audiolab.experiments._simulated import ERB_SNR_AT_THRESHOLD_DB, MODULATION_NOISE

TDH39_RETSPL_1K = 7.0  # ISO 389-1, dB SPL


@pytest.mark.parametrize("name", ["N1", "N3", "S2"])
def test_simulated_audiometry_recovers_the_audiogram(name: str) -> None:
    # ISO 8253-1 ascending method (1k, 2k, 4k, 8k, 1k retest, 500, 250 Hz, both ears) on
    # the simulated listener, over 4 seeds: 6 frequencies x 2 ears x 4 = 48 thresholds.
    audiogram = load_audiogram(name)
    spec = stimulus_spec({"kind": "tone", "duration_ms": 300, "ramp_ms": 20})
    errors = []
    for seed in range(4):
        proc = PureToneAudiometry(AudiometryConfig(), seed=seed)
        run_listener(proc, SimulatedListener(name, seed=1000 + seed), stimulus=spec, fs=24000,
                     seed=seed)
        for point in proc.audiogram():
            assert point.threshold_db_hl is not None, point
            true = float(audiogram.ear(point.ear).threshold_db_hl_at(point.frequency_hz))
            errors.append(point.threshold_db_hl - true)
    err = np.abs(errors)
    assert len(err) == 48
    assert np.mean(err <= 5.0) >= 0.95
    assert np.mean(err) <= 3.0
    # Unbiased: the 50 % point 2.5 dB below the audiogram cancels the method's +2.5 dB.
    assert abs(float(np.mean(errors))) <= 1.5


def test_tone_in_quiet_probability_follows_the_audiogram() -> None:
    # At the audiogram value minus 2.5 dB the tone is heard half the time (slope 1/dB: at
    # +-2.2 dB from there 10 % and 90 %); 4000 yes/no trials estimate p to +-0.016 (2 SD).
    spec = stimulus_spec({"kind": "tone", "duration_ms": 200, "ramp_ms": 10})
    lst = SimulatedListener("N3", seed=5, false_alarm_rate=0.0)
    rng = np.random.default_rng(6)
    threshold = float(load_audiogram("N3").right.threshold_db_hl_at(2000.0))  # 50 dB HL
    for offset, p in ((-2.5, 0.5), (-2.5 + 2.197, 0.9), (-2.5 - 2.197, 0.1)):
        trial = Trial(index=0, x_db=threshold + offset, n_intervals=1, target_interval=None,
                      catch=False, ear="right", frequency_hz=2000.0)
        stim = render_trial(spec, trial, fs=16000, rng=rng)
        heard = np.mean([lst.respond(trial, stim) for _ in range(4000)])
        assert heard == pytest.approx(p, abs=0.02)


def _three_afc_threshold(spec_table: dict[str, object], listener: str, start_db: float) -> float:
    spec = stimulus_spec(spec_table)
    estimates = []
    for seed in range(3):
        cfg = UpDownConfig(start_db=start_db, n_down=2, step_sizes_db=(4.0, 2.0),
                           max_reversals=14, task=Task(response="afc", n_intervals=3))
        track = run_listener(make_procedure(cfg, seed=seed), SimulatedListener(listener,
                             seed=50 + seed), stimulus=spec, fs=16000, seed=seed)
        estimates.append(reversal_threshold(track, n_last=10).threshold_db)  # type: ignore[arg-type]
    return float(np.mean(estimates))


def test_tone_in_noise_threshold_is_the_power_spectrum_model() -> None:
    # White noise at 65 dB SPL over 0-8 kHz: spectrum level 65 - 10 log10(8000) = 25.97 dB;
    # in the 1 kHz ERB (132.6 Hz, Glasberg & Moore 1990) 47.2 dB SPL; threshold at K = -4 dB
    # re that, and the 1-up-2-down 3-AFC track's 70.7 % point lies where the detection
    # probability F gives F + (1 - F) / 3 = 0.707, F = 0.561, d = ln(F / (1 - F)) = 0.245 dB
    # above it. The track's estimate (3 tracks x 10 reversals at 2 dB steps) scatters by
    # ~1 dB; the periodogram's band power by ~0.3 dB.
    expected = 65.0 - 10 * math.log10(8000.0) + 10 * math.log10(132.639) \
        + ERB_SNR_AT_THRESHOLD_DB + 0.245
    got = _three_afc_threshold({"kind": "tone_in_noise", "duration_ms": 300}, "N1", 60.0)
    assert got == pytest.approx(expected, abs=2.0)


def test_tone_in_faint_noise_is_limited_by_audibility() -> None:
    # N3 hears 40 dB HL at 1 kHz: its 50 % point is 37.5 dB HL = 44.5 dB SPL on a TDH-39;
    # 20 dB SPL of noise adds nothing (-2.6 dB SPL in the ERB, 47 dB below the internal noise).
    expected = 40.0 - 2.5 + TDH39_RETSPL_1K + 0.245
    got = _three_afc_threshold({"kind": "tone_in_noise", "duration_ms": 300,
                                "noise_level_db_spl": 20}, "N3", 70.0)
    assert got == pytest.approx(expected, abs=2.0)


def test_notched_noise_releases_masking() -> None:
    wide = _three_afc_threshold({"kind": "notched_noise", "notch_width_hz": 800,
                                 "band_low_hz": 200, "band_high_hz": 6000}, "N1", 60.0)
    none = _three_afc_threshold({"kind": "notched_noise", "notch_width_hz": 0,
                                 "band_low_hz": 200, "band_high_hz": 6000}, "N1", 60.0)
    # With the notch wider than the ERB (133 Hz) only internal noise is left: the threshold
    # falls to the audiogram's (N1: 10 dB HL - 2.5 + 7 = 14.5 dB SPL), far below.
    assert none - wide > 20.0
    assert wide == pytest.approx(14.5 + 0.245, abs=2.0)


def test_modulation_detection_threshold_of_a_tone_carrier() -> None:
    # A tone carrier has no envelope fluctuations of its own: the measured depth is m in the
    # target and 0 in the reference, each with internal noise SD s = 0.03, so 2-AFC gives
    # P(correct) = Phi(m / (s sqrt(2))) and the 1-up-2-down track converges to 70.7 %:
    # m = s sqrt(2) Phi^-1(0.707), -32.8 dB.
    expected = 20 * math.log10(MODULATION_NOISE * math.sqrt(2) * norm.ppf(0.7071))
    spec = stimulus_spec({"kind": "sam", "carrier": "tone", "frequency_hz": 1000,
                          "duration_ms": 500, "level_db_spl": 70})
    estimates = []
    for seed in range(3):
        cfg = UpDownConfig(start_db=-10.0, n_down=2, step_sizes_db=(4.0, 2.0),
                           max_reversals=14, ceiling_db=0.0, task=Task(n_intervals=2))
        track = run_listener(make_procedure(cfg, seed=seed), SimulatedListener("N1",
                             seed=seed), stimulus=spec, fs=16000, seed=seed)
        estimates.append(reversal_threshold(track, n_last=10).threshold_db)  # type: ignore[arg-type]
    assert float(np.mean(estimates)) == pytest.approx(expected, abs=2.0)


def test_inaudible_carrier_gives_chance() -> None:
    # N5 (75 dB HL at 1 kHz) does not hear a 40 dB SPL carrier: even full modulation is
    # guessed; 400 2-AFC trials: P(correct) = 0.5 +- 0.05 (2 SD).
    spec = stimulus_spec({"kind": "sam", "carrier": "tone", "frequency_hz": 1000,
                          "level_db_spl": 40})
    lst = SimulatedListener("N5", seed=3)
    rng = np.random.default_rng(4)
    correct = 0
    for i in range(400):
        trial = Trial(index=i, x_db=0.0, n_intervals=2, target_interval=1 + i % 2, catch=False)
        correct += lst.respond(trial, render_trial(spec, trial, fs=16000, rng=rng)) \
            == trial.target_interval
    assert correct / 400 == pytest.approx(0.5, abs=0.05)


def _matrix_srts(name: str, seeds: range) -> list[float]:
    spec = stimulus_spec({"kind": "speech_in_noise", "noise_lead_ms": 100})
    out = []
    for seed in seeds:
        proc = run_listener(make_procedure(MatrixSrtConfig(), seed=seed),
                            SimulatedListener(name, seed=seed), stimulus=spec, fs=16000,
                            seed=seed)
        out.append(fit_matrix_srt(proc).srt_db)  # type: ignore[arg-type]
    return out


def _wardenga_srt_db(name: str) -> float:
    """Wardenga et al. (2015): SRT = -7 + 0.094 (PTA - PTA_N1) below a PTA of 47 dB HL, then
    +0.811 dB per dB (PTA of 0.5, 1, 2, 3 kHz; N1's SRT is the OLSA normal -7 dB SNR)."""
    pta = _pta(name)
    below = -7.0 + 0.094 * (min(pta, 47.0) - _pta("N1"))
    return below + 0.811 * max(pta - 47.0, 0.0)


def _pta(name: str) -> float:
    return float(np.mean(load_audiogram(name).right.threshold_db_hl_at([500, 1000, 2000, 3000])))


N_MATRIX_RUNS = 6
WARDENGA_RESIDUAL_SD_DB = (1.17, 5.54)  # below and above the 47 dB HL knee


@pytest.mark.slow
def test_matrix_srt_follows_wardenga_for_flat_and_sloping_losses() -> None:
    means, ses = {}, {}
    for name in ("N1", "N2", "N3", "N4", "N5", "S1", "S2", "S3"):
        srts = _matrix_srts(name, range(N_MATRIX_RUNS))
        means[name] = float(np.mean(srts))
        ses[name] = float(np.std(srts, ddof=1)) / math.sqrt(N_MATRIX_RUNS)
    # N1: -7 dB SNR, the OLSA normal-hearing SRT (Wardenga's population figure: -6.94 +- 0.99
    # and -7.09 +- 0.75 dB); the mean of the tracks within 0.5 dB plus 3 standard errors.
    assert abs(means["N1"] + 7.0) < 0.5 + 3 * ses["N1"]
    # The SRT rises with flat losses, beyond the tracks' scatter.
    assert means["N1"] + 3 * ses["N1"] < means["N3"] - 3 * ses["N3"]
    assert means["N3"] + 3 * ses["N3"] < means["N5"] - 3 * ses["N5"]
    # Below the knee the presets, as ears, scatter about Wardenga's line no more than their
    # 315 ears did (residual SD 1.17 dB): the RMS deviation of the means, whose own standard
    # error adds in quadrature, is at most sqrt(1.17^2 + SE^2); each preset lies within two
    # residual SDs (95 % of ears) plus 3 SE. Above the knee the residual SD is 5.54 dB.
    below = [n for n in means if _pta(n) < 47.0]
    assert set(below) == {"N1", "N2", "N3", "S1", "S2"}  # flat and sloping on both sides
    dev = {n: means[n] - _wardenga_srt_db(n) for n in means}
    se = max(ses[n] for n in below)
    rms = math.sqrt(float(np.mean([dev[n] ** 2 for n in below])))
    assert rms <= math.hypot(WARDENGA_RESIDUAL_SD_DB[0], se), dev
    for n in means:
        sd = WARDENGA_RESIDUAL_SD_DB[0] if n in below else WARDENGA_RESIDUAL_SD_DB[1]
        assert abs(dev[n]) <= 2 * sd + 3 * ses[n], (n, dev[n])


def test_the_sii_threshold_shift_puts_the_knee_where_wardenga_found_it() -> None:
    # The model's flat-loss knee without the shift: where the quiet asymptote (SRT rising
    # 1 dB per dB of flat loss, taken at 80 dB HL, deep in the quiet domain) meets the
    # normal-hearing SRT (0 dB HL). SII_THRESHOLD_SHIFT_DB moves it to Wardenga's 47 dB HL.
    from scipy.optimize import brentq

    from audiolab.audiology import sii_bands, sii_from_signals
    from audiolab.experiments._simulated import (
        SII_THRESHOLD_SHIFT_DB,
        WARDENGA_KNEE_PTA_DB_HL,
    )

    spec = stimulus_spec({"kind": "speech_in_noise", "noise_lead_ms": 100})
    n_bands = sii_bands("one-third-octave").n_bands
    parts = []
    for i in range(4):
        t = Trial(index=i, x_db=0.0, n_intervals=1, target_interval=None, catch=False,
                  n_words=5)
        r = render_trial(spec, t, fs=16000, rng=np.random.default_rng(i))
        on, off = r.description["speech_onset_samples"], r.description["speech_offset_samples"]
        parts.append((r.signal_pa[1, on:off].astype(float), r.masker_pa[1, on:off].astype(float)))

    def sii(snr_db: float, hl: float) -> float:
        g = 10 ** (snr_db / 20)
        return float(np.mean([sii_from_signals(s * g, n, fs=16000,
                                               threshold_db_hl=np.full(n_bands, hl))
                              for s, n in parts]))

    target = sii(-7.0, 0.0)
    srt_80 = brentq(lambda x: sii(x, 80.0) - target, -20.0, 60.0)
    knee = 80.0 - (srt_80 - -7.0)
    assert knee + SII_THRESHOLD_SHIFT_DB == pytest.approx(WARDENGA_KNEE_PTA_DB_HL, abs=0.5)


def test_needs_the_stimulus_and_a_known_kind() -> None:
    lst = SimulatedListener("N1", seed=1)
    trial = Trial(index=0, x_db=10.0, n_intervals=2, target_interval=1, catch=False)
    with pytest.raises(ConfigError, match="needs the RenderedTrial"):
        lst.respond(trial)
    gap = render_trial(stimulus_spec({"kind": "gap_in_noise"}), trial, fs=16000,
                       rng=np.random.default_rng(1))
    custom = dataclasses.replace(gap, description={**gap.description, "kind": "custom"})
    with pytest.raises(ConfigError, match="no model for stimulus kind 'custom'"):
        lst.respond(trial, custom)


def test_parse_listener_and_reproducibility() -> None:
    lst = parse_listener("simulated:S2,slope=0.5,lapse=0.02,transducer=HDA-200", seed=9)
    assert isinstance(lst, SimulatedListener)
    assert lst.describe() == ("simulated:S2,slope=0.5,false_alarm=0.01,lapse=0.02,"
                              "transducer=HDA-200")
    spec = stimulus_spec({"kind": "tone_in_noise"})
    answers = []
    for _ in range(2):
        rng = np.random.default_rng(2)
        listener = parse_listener("simulated:N2", seed=4)
        trials = [Trial(index=i, x_db=40.0 + i, n_intervals=3, target_interval=1 + i % 3,
                        catch=False) for i in range(20)]
        answers.append([listener.respond(t, render_trial(spec, t, fs=16000, rng=rng))
                        for t in trials])
    assert answers[0] == answers[1]
    with pytest.raises(ConfigError):
        parse_listener("simulated:N9", seed=1)
    with pytest.raises(ConfigError, match="slope must be in"):
        SimulatedListener("N1", seed=1, slope_per_db=-1.0)
