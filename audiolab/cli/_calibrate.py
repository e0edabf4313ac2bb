"""``audiolab calibrate``: measure a set-up with a sound level meter and write its calibration."""

import argparse
from typing import Any

from audiolab.calibration import DEFAULT_CALIBRATION_FREQUENCIES_HZ
from audiolab.cli._options import (
    add_calibration_age_option,
    add_device_option,
    calibration_age_from,
)

HELP = "calibrate headphones/loudspeakers with a sound level meter (or --check a file)"
DESCRIPTION = """\
Interactive calibration. For each output channel and frequency, a tone plays at a stated digital
level (default -30 dBFS; at most -20 dBFS, the uncalibrated ceiling) until you type the sound
level meter's reading in dB SPL (measured in the coupler of the transducer's RETSPL standard).
The file records, per frequency, the dB SPL a full-scale sine would produce:
reading - level_dbfs. `--check FILE` validates a file and shows what it implies; add --measure to
play the tones again and compare new readings with it.

examples:
  audiolab calibrate --out calibration/lab1.toml --transducer TDH-39 --channels 0,1 \\
      --operator "J. Doe" --ceiling-db-spl 100
  audiolab calibrate --check calibration/lab1.toml
"""

DEFAULT_FREQUENCIES = ",".join(f"{f:g}" for f in DEFAULT_CALIBRATION_FREQUENCIES_HZ)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab calibrate``."""
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", metavar="CAL.toml", help="calibration file to write")
    what.add_argument("--check", metavar="CAL.toml", help="validate an existing calibration file")
    p.add_argument("--measure", action="store_true",
                   help="with --check: play the tones again and compare new readings")
    p.add_argument("--tolerance-db", type=float, default=1.0, metavar="DB",
                   help="with --check --measure: largest accepted deviation in dB, >= 0 "
                        "(default 1)")
    add_device_option(p)
    p.add_argument("--channels", default="0", metavar="0,1", help="output channels (default 0)")
    p.add_argument("--ears", default=None, metavar="left,right",
                   help="ear of each channel: left, right or none (default left, right, none...)")
    p.add_argument("--frequencies", default=DEFAULT_FREQUENCIES, metavar="HZ,HZ",
                   help=f"tone frequencies in Hz (default {DEFAULT_FREQUENCIES})")
    p.add_argument("--level-dbfs", type=float, default=-30.0, metavar="X",
                   help="digital level of the tones in dBFS, at most -20 dBFS (the "
                        "uncalibrated ceiling) (default -30)")
    p.add_argument("--transducer", default="TDH-39",
                   help="RETSPL table (TDH-39, HDA-200, ER-3A/HA-2, ER-3A/IEC-711) or free-field")
    p.add_argument("--ceiling-db-spl", type=float, default=100.0, metavar="X",
                   help="output ceiling written to the file, in dB SPL, X in (0, 140] "
                        "(default 100)")
    p.add_argument("--operator", default=None, help="who measures (written to the file)")
    add_calibration_age_option(p)
    p.add_argument("--fs", type=float, default=48000.0, metavar="HZ",
                   help="with --check: sample rate in Hz to design the output equaliser for, "
                        "> 0 (default 48000)")


def _numbers(text: str, name: str, cast: type) -> list:
    from audiolab._errors import ConfigError

    try:
        values = [cast(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{name} is empty")
    return values


def _ask(prompt: str) -> float | None:
    """One reading from stdin: a number in dB SPL, or None for 's' (skip)."""
    import math
    import sys

    from audiolab._errors import CalibrationError

    while True:
        print(prompt, end="", flush=True, file=sys.stderr)
        line = sys.stdin.readline()
        if not line:
            print(file=sys.stderr)  # end the prompt's line
            raise CalibrationError("input ended before every reading was given")
        text = line.strip().lower()
        if text in ("s", "skip"):
            return None
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if math.isfinite(v) and 0 < v < 200:
            return v
        print(f"  not a level in dB SPL: {line.strip()!r} (type a number, or s to skip)",
              file=sys.stderr)


def _describe(cal: Any, fs: float) -> None:
    """Print what a calibration file says and the output equaliser it implies at ``fs``."""
    from audiolab.calibration import OutputCeiling
    from audiolab.dsp import amplitude_to_db

    n_out = max(c.index for c in cal.channels) + 1
    ceiling = OutputCeiling.for_outputs(cal, n_out, fs=fs)
    print(f"{cal.source}: valid. {cal.device} via {cal.host_api}, transducer {cal.transducer}, "
          f"measured {cal.date.isoformat()} by {cal.operator} ({cal.age_days():.0f} days ago), "
          f"ceiling {cal.ceiling_db_spl:g} dB SPL")
    for c in cal.channels:
        pts = ", ".join(f"{f:g} Hz {v:.1f}" for f, v in zip(c.frequencies_hz,
                                                           c.full_scale_db_spl, strict=True))
        peak = float(ceiling.digital_peak[c.index])
        print(f"  channel {c.index} ({c.ear}): full scale {pts} dB SPL; ceiling = "
              f"{float(amplitude_to_db(peak)):.1f} dBFS")
        eq = ceiling.equalizer(c.index)
        ignored = (f"; {', '.join(f'{f:g}' for f in eq.ignored_frequencies_hz)} Hz not "
                   "equalised (above 0.45 fs)" if eq.ignored_frequencies_hz else "")
        print(f"    output equaliser at {fs:g} Hz: {eq.n_sections} biquads, "
              f"{eq.error_at_points_db:.3f} dB off at the measured frequencies, at most "
              f"{eq.error_between_db:.2f} dB between them, {eq.error_outside_db:.2f} dB within "
              f"an octave beyond {eq.frequencies_hz[0]:g}-{eq.frequencies_hz[-1]:g} Hz "
              f"(held flat there){ignored}")


def _measure_against(cal: Any, args: argparse.Namespace) -> float:
    """Play each calibrated tone again; returns the largest deviation of the readings in dB."""
    import sys

    from audiolab.calibration import expected_reading_db_spl
    from audiolab.engine import TonePlayer

    player = TonePlayer(args.device, max(c.index for c in cal.channels) + 1)
    worst = 0.0
    try:
        for c in cal.channels:
            for f in c.frequencies_hz:
                player.tone(c.index, float(f), args.level_dbfs)
                expected = expected_reading_db_spl(cal, c.index, float(f),
                                                   level_dbfs=args.level_dbfs)
                reading = _ask(f"channel {c.index}, {f:g} Hz (expect {expected:.1f} dB SPL): "
                               "reading in dB SPL: ")
                if reading is None:
                    continue
                dev = reading - expected
                worst = max(worst, abs(dev))
                print(f"  deviation {dev:+.1f} dB", file=sys.stderr)
        player.silence()
    finally:
        player.close()
    return worst


def _check(args: argparse.Namespace) -> int:
    """``--check FILE`` (and ``--measure``): validate, describe, and compare new readings."""
    from audiolab._validate import check_real
    from audiolab.calibration import load_calibration

    check_real("--fs", args.fs, low=0, low_open=True)
    check_real("--tolerance-db", args.tolerance_db, low=0)
    cal = load_calibration(args.check, max_age_days=calibration_age_from(args))
    _describe(cal, args.fs)
    if not args.measure:
        return 0
    _check_level_dbfs(args)
    worst = _measure_against(cal, args)
    ok = worst <= args.tolerance_db
    print(f"largest deviation {worst:.1f} dB: "
          + ("within" if ok else "OUTSIDE") + f" the {args.tolerance_db:g} dB tolerance")
    return 0 if ok else 1


def _check_level_dbfs(args: argparse.Namespace) -> None:
    from audiolab._errors import ConfigError
    from audiolab._validate import check_real
    from audiolab.calibration import UNCALIBRATED_CEILING_DBFS

    # Said with its reason first: the tones play in the uncalibrated mode, under its ceiling.
    if args.level_dbfs > UNCALIBRATED_CEILING_DBFS:
        raise ConfigError(
            f"--level-dbfs must be at most {UNCALIBRATED_CEILING_DBFS:g} dBFS (the uncalibrated "
            f"ceiling), got {args.level_dbfs:g}"
        )
    check_real("--level-dbfs", args.level_dbfs, high=UNCALIBRATED_CEILING_DBFS)


def _new_file_options(args: argparse.Namespace) -> tuple[str, list[int], list[float], list[str]]:
    """The checked transducer, channels, frequencies and ears of a new calibration."""
    from audiolab._errors import ConfigError
    from audiolab._validate import check_real
    from audiolab.calibration._calibration import _transducer

    if args.measure:
        raise ConfigError("--measure goes with --check FILE")
    _check_level_dbfs(args)
    transducer = _transducer("--transducer", args.transducer)
    check_real("--ceiling-db-spl", args.ceiling_db_spl, low=0, high=140, low_open=True)
    channels = _numbers(args.channels, "--channels", int)
    freqs = _numbers(args.frequencies, "--frequencies", float)
    ears = (args.ears.split(",") if args.ears else
            [("left", "right")[i] if len(channels) == 2 else "none" for i in range(len(channels))])
    if len(ears) != len(channels) or any(e not in ("left", "right", "none") for e in ears):
        raise ConfigError(f"--ears must give left, right or none for each channel, got {ears}")
    return transducer, channels, freqs, ears


def _measure_new(
    player: Any, channels: list[int], ears: list[str], freqs: list[float],
    level_dbfs: float,
) -> list[Any]:
    """Ask a reading for each channel and frequency; one ChannelCalibration per channel."""
    from audiolab.calibration import channel_from_readings

    results = []
    for ch, ear in zip(channels, ears, strict=True):
        points: dict[float, float] = {}
        for f in freqs:
            player.tone(ch, f, level_dbfs)
            reading = _ask(f"channel {ch} ({ear}), {f:g} Hz at {level_dbfs:g} dBFS: "
                           "sound level meter reading in dB SPL (s: skip): ")
            if reading is not None:
                points[f] = reading
        # Each value is reading - level_dbfs: the dB SPL a full-scale sine would give.
        results.append(channel_from_readings(ch, ear, points, level_dbfs=level_dbfs))
    player.silence()
    return results


def run(args: argparse.Namespace) -> int:
    """Walk through the measurement, or check a file."""
    import getpass
    import sys

    from audiolab.calibration import new_calibration, save_calibration_file
    from audiolab.engine import TonePlayer

    if args.check:
        return _check(args)
    transducer, channels, freqs, ears = _new_file_options(args)
    operator = args.operator or getpass.getuser()
    player = TonePlayer(args.device, max(channels) + 1)
    try:
        results = _measure_new(player, channels, ears, freqs, args.level_dbfs)
        setup = player.setup
    finally:
        player.close()
    cal = new_calibration(
        tuple(results), device=setup.name, host_api=setup.host_api, transducer=transducer,
        operator=operator, ceiling_db_spl=args.ceiling_db_spl, source=args.out,
    )
    # Written atomically and read back; --out names the file to (over)write.
    save_calibration_file(cal, args.out, overwrite=True)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
