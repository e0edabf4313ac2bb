"""Make tests/data/msbg_pyclarity_0.9.0_band_attenuation.json: MSBG's one-third-octave band
attenuation of stationary noise, the reference that tests/test_hearing_loss.py compares our
simulator against (tests do not need pyclarity).

MSBG is the Cambridge hearing-loss simulator (Moore, Stone, Baer, Glasberg) as ported to Python
in pyclarity (clarity/evaluator/msbg). Run once, in a scratch environment (pyclarity pulls in
torch unless installed without dependencies; its msbg module needs only numpy and scipy):

    python3 -m venv /work/wt/msbg-venv
    /work/wt/msbg-venv/bin/pip install --no-deps pyclarity==0.9.0
    /work/wt/msbg-venv/bin/pip install numpy scipy soundfile
    /work/wt/msbg-venv/bin/python tests/data/make_msbg_reference.py

MSBG's conventions: ``Ear(src_pos="ff", equiv_0db_spl=100, ahr=20)`` treats a digital RMS of
1.0 as 120 dB SPL (free field, frontal); it accepts 44.1 kHz only. The noise and the band
analysis are defined here (numpy and scipy only) and imported by the test, so both sides
analyse alike.

Besides MSBG's attenuation, the file holds MSBG's *pass-through gain* per severity class: the
level change of the same noise through MSBG's outer/middle-ear filters and its filterbank with
no recruitment and no smearing. It is not 0 dB (for the severe class's filterbank it is +0.8 to
+2.7 dB below 2 kHz: its recombination constant does not make the bank unity-gain), so MSBG's
attenuation understates its model's by that much; tests compare against the model's
(attenuation + pass-through gain) and report both.

For the docs, the file also holds MSBG's output for steady pure tones (0.5-4 kHz): at 120 dB
SPL, 5 dB below each audiogram's threshold (relative to the normal free-field threshold of
ISO 389-7), and through MSBG's smearing alone (its overlap-add loses power of a steady tone).
MSBG's ``Ear.process`` cannot take a steady tone (its active-level histogram has no spread:
numpy raises), so tones run through the same stages without its input level rescaling, which
for a tone would change nothing: free field to cochlea, ``Cochlea.simulate``, back to free
field, and its 18 kHz low-pass.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal

FS = 44100
DURATION_S = 8.0
LEVELS_DB_SPL = (70.0, 85.0)
AUDIOGRAMS = ("N1", "N2", "N3", "N4", "S1", "S2")
NOISES = ("pink", "white")
SEED = 20260101
MSBG_FULL_SCALE_DB_SPL = 120.0  # equiv_0db_spl + ahr: RMS 1.0 in MSBG's units
# Bisgaard, Vlaming & Dahlquist (2010), dB HL at these frequencies (REFERENCE.md).
BISGAARD_HZ = (250, 375, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000)
BISGAARD_DB_HL = {
    "N1": (10, 10, 10, 10, 10, 10, 15, 20, 30, 40),
    "N2": (20, 20, 20, 22.5, 25, 30, 35, 40, 45, 50),
    "N3": (35, 35, 35, 35, 40, 45, 50, 55, 60, 65),
    "N4": (55, 55, 55, 55, 55, 60, 65, 70, 75, 80),
    "S1": (10, 10, 10, 10, 10, 10, 15, 30, 55, 70),
    "S2": (20, 20, 20, 22.5, 25, 35, 55, 75, 95, 95),
}
# One-third-octave bands, base 10 (IEC 61260-1): f_m = 1000 G^(x/3), G = 10^(3/10).
_G = 10.0 ** 0.3
BAND_CENTRES_HZ = tuple(float(1000.0 * _G ** (x / 3)) for x in range(-9, 10))  # 125 Hz-8 kHz
SKIP_S = 0.5  # onset and tail left out of the analysis
TONE_HZ = (500, 1000, 2000, 4000)
# ISO 389-7:2005, Table 1: free-field (frontal) reference threshold of hearing, dB SPL.
ISO_389_7_DB_SPL = {500: 4.4, 1000: 2.4, 2000: -1.3, 4000: -5.4}


def stationary_noise(
    kind: str, n: int, rng: np.random.Generator, fs: float = FS
) -> np.ndarray:
    """Gaussian noise, white or pink (power density ~ 1/f from 20 Hz up), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    if kind == "pink":
        spec[f < 20.0] = 0.0
        spec[f >= 20.0] /= np.sqrt(f[f >= 20.0])
    elif kind != "white":
        raise ValueError(f"unknown noise {kind!r}")
    x = np.fft.irfft(spec, n)
    return x / np.sqrt(np.mean(x * x))


def third_octave_levels_db(x: np.ndarray, fs: float) -> np.ndarray:
    """Band levels (dB re the same unit squared) in BAND_CENTRES_HZ from a Welch PSD."""
    skip = int(SKIP_S * fs)
    f, psd = scipy.signal.welch(x[skip: x.size - skip], fs=fs, nperseg=8192, window="hann")
    df = f[1] - f[0]
    levels = []
    for fm in BAND_CENTRES_HZ:
        sel = (f >= fm * _G ** (-1 / 6)) & (f < fm * _G ** (1 / 6))
        levels.append(10.0 * np.log10(np.sum(psd[sel]) * df))
    return np.asarray(levels)


def tone_level_db(y: np.ndarray, fs: float) -> float:
    """RMS level (dB re the unit) of a steady tone, onset and tail left out."""
    skip = int(SKIP_S * fs)
    seg = np.asarray(y)[skip: len(y) - skip]
    return float(10.0 * np.log10(np.mean(seg * seg)))


def msbg_tones(ear_cls, cochlea_cls, audiogram_cls, hl_params) -> dict:
    """MSBG's output level for steady tones (see the module docstring)."""
    from clarity.evaluator.msbg.msbg import UPPER_CUTOFF_HZ
    from clarity.evaluator.msbg.smearing import Smearer
    from scipy.signal import firwin, lfilter

    src = ear_cls.get_src_correction("ff")
    lpf = firwin(2 * int(0.0015 * FS) + 1, UPPER_CUTOFF_HZ / int(FS / 2), window=("kaiser", 8))
    t = np.arange(int(2.0 * FS)) / FS

    def through(x: np.ndarray, cochlea) -> np.ndarray:
        xc = ear_cls.src_to_cochlea_filt(x[np.newaxis], src, FS)[0]
        y = cochlea.simulate(xc, MSBG_FULL_SCALE_DB_SPL)
        y = ear_cls.src_to_cochlea_filt(y[np.newaxis], src, FS, backward=True)[0]
        return lfilter(lpf, 1, y)

    out: dict = {
        "frequencies_hz": list(TONE_HZ),
        "at_120_db_spl": {},
        "below_threshold_re_normal_db": {},
        "smearing_only_change_db": {},
    }
    for name in AUDIOGRAMS:
        levels = np.array(BISGAARD_DB_HL[name], float)
        cochlea = cochlea_cls(audiogram=audiogram_cls(levels=levels,
                                                      frequencies=np.array(BISGAARD_HZ, float)))
        loud, quiet = [], []
        for f in TONE_HZ:
            unit = np.sqrt(2.0) * np.sin(2 * np.pi * f * t)
            y = through(unit, cochlea)
            loud.append(round(tone_level_db(y, FS) + MSBG_FULL_SCALE_DB_SPL, 2))
            hl = float(np.interp(np.log(f), np.log(BISGAARD_HZ), levels))
            level = ISO_389_7_DB_SPL[f] + hl - 5.0
            y = through(unit * 10.0 ** ((level - MSBG_FULL_SCALE_DB_SPL) / 20.0), cochlea)
            quiet.append(round(tone_level_db(y, FS) + MSBG_FULL_SCALE_DB_SPL
                               - ISO_389_7_DB_SPL[f], 1))
        out["at_120_db_spl"][name] = loud
        out["below_threshold_re_normal_db"][name] = quiet
    for severity in ("MILD", "MODERATE", "SEVERE"):
        smearer = Smearer(*hl_params[severity]["smear_params"], FS)
        changes = []
        for f in TONE_HZ:
            x = np.sqrt(2.0) * np.sin(2 * np.pi * f * t)
            changes.append(round(tone_level_db(smearer.smear(x), FS) - tone_level_db(x, FS), 2))
        out["smearing_only_change_db"][severity.lower()] = changes
    return out


def main() -> None:
    from importlib.metadata import version

    from clarity.evaluator.msbg.cochlea import (
        HL_PARAMS,
        Cochlea,
        FilterBank,
        gammatone_filterbank,
    )
    from clarity.evaluator.msbg.msbg import Ear
    from clarity.evaluator.msbg.msbg_utils import read_gtf_file
    from clarity.utils.audiogram import Audiogram

    def passthrough(x: np.ndarray, severity: str) -> np.ndarray:
        p = read_gtf_file(f"msbg_hparams/{HL_PARAMS[severity]['gtfbank_file']}.json")
        src = Ear.get_src_correction("ff")
        xc = Ear.src_to_cochlea_filt(x[np.newaxis], src, FS)[0]
        bands = gammatone_filterbank(
            xc, p["NGAMMA"], FilterBank(np.array(p["GTn_nums"]), np.array(p["GTn_denoms"])),
            np.array(p["GTnDelays"]), p["Start2PoleHP"],
            FilterBank(np.array(p["HP_nums"]), np.array(p["HP_denoms"])),
        )
        y = np.sum(bands, axis=0) * 10.0 ** (-0.05 * p["Recombination_dB"])
        y = Ear.src_to_cochlea_filt(y[np.newaxis], src, FS, backward=True)[0]
        return third_octave_levels_db(y, FS) - third_octave_levels_db(x, FS)

    pyclarity_version = version("pyclarity")
    rng = np.random.default_rng(SEED)
    n = int(DURATION_S * FS)
    out: dict = {
        "source": (
            f"MSBG hearing-loss simulator, pyclarity {pyclarity_version} "
            "(clarity/evaluator/msbg), Ear(src_pos='ff', sample_rate=44100, equiv_0db_spl=100, "
            "ahr=20), mono, audiograms at Bisgaard et al. (2010) frequencies"
        ),
        "made_by": "tests/data/make_msbg_reference.py",
        "fs": FS,
        "duration_s": DURATION_S,
        "analysis": "Welch PSD (hann, 8192), summed in base-10 one-third-octave bands; "
        f"first and last {SKIP_S} s left out",
        "band_centres_hz": [round(f, 2) for f in BAND_CENTRES_HZ],
        "severity": {},
        "attenuation_db": {},
        "passthrough_gain_db": {},
    }
    for severity in ("MILD", "MODERATE", "SEVERE"):
        out["passthrough_gain_db"][severity.lower()] = {
            noise: [
                round(float(g), 2) for g in passthrough(stationary_noise(noise, n, rng), severity)
            ]
            for noise in NOISES
        }
    ear = Ear(src_pos="ff", sample_rate=FS, equiv_0db_spl=100, ahr=20)
    for name in AUDIOGRAMS:
        ag = Audiogram(levels=np.array(BISGAARD_DB_HL[name], float),
                       frequencies=np.array(BISGAARD_HZ, float))
        ear.set_audiogram(ag)
        out["severity"][name] = ag.severity.lower()
        out["attenuation_db"][name] = {}
        for noise in NOISES:
            x = stationary_noise(noise, n, rng)
            out["attenuation_db"][name][noise] = {}
            for level in LEVELS_DB_SPL:
                xf = x * 10.0 ** ((level - MSBG_FULL_SCALE_DB_SPL) / 20.0)
                t0 = time.perf_counter()
                y = np.asarray(ear.process(xf)[0])
                dt = time.perf_counter() - t0
                if not np.isfinite(y).all():
                    raise RuntimeError(f"MSBG returned non-finite output for {name} {level}")
                att = third_octave_levels_db(xf, FS) - third_octave_levels_db(y, FS)
                out["attenuation_db"][name][noise][f"{level:g}"] = [round(float(a), 2) for a in att]
                print(f"{name} {noise} {level:g} dB SPL: {dt:.1f} s for {DURATION_S} s mono",
                      file=sys.stderr)
    out["tones"] = msbg_tones(Ear, Cochlea, Audiogram, HL_PARAMS)
    # One timing for the docs: 10 s of stereo (two channels).
    ear.set_audiogram(Audiogram(levels=np.array(BISGAARD_DB_HL["N3"], float),
                                frequencies=np.array(BISGAARD_HZ, float)))
    stereo = np.stack([stationary_noise("pink", 10 * FS, rng)] * 2, axis=1) * 10 ** (-50 / 20)
    t0 = time.perf_counter()
    ear.process(stereo)
    out["msbg_seconds_for_10_s_stereo_N3"] = round(time.perf_counter() - t0, 2)
    path = Path(__file__).with_name(
        f"msbg_pyclarity_{pyclarity_version}_band_attenuation.json"
    )
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
