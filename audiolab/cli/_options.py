"""What several commands share, declared once: option groups, their checks, the JSON printer.

Each ``add_*`` function adds options to a parser (or to an argument group) with the one help
text they have in every command; the function beside it turns the parsed value into what the
layers below take, refusing a bad value with an error that names the option. Heavy modules are
imported inside the functions, so that ``audiolab --help`` stays fast.
"""

import argparse
import math
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audiolab.batch import LevelOptions
    from audiolab.calibration import Calibration

__all__ = [
    "BLOCK_FRAMES_RANGE",
    "DEFAULT_FULL_SCALE_DB_SPL",
    "FULL_SCALE_DB_SPL_RANGE",
    "LEVEL_DB_SPL_RANGE",
    "PLOT_SUFFIXES",
    "add_blocksize_option",
    "add_calibration_age_option",
    "add_calibration_file_option",
    "add_calibration_options",
    "add_device_option",
    "add_full_scale_option",
    "add_json_option",
    "add_level_option",
    "add_plot_option",
    "add_record_option",
    "batch_levels_from",
    "blocksize_from",
    "calibration_age_from",
    "check_output_file",
    "choose_calibration_from",
    "json_text",
    "level_db_spl_from",
    "message_stream",
    "named_as_options",
    "print_json",
    "print_result",
    "require_calibration",
    "write_json",
]

Container = argparse.ArgumentParser | argparse._ArgumentGroup

# The ranges the batch runner's LevelOptions accepts; every command takes the same ones.
LEVEL_DB_SPL_RANGE = (-20.0, 160.0)
FULL_SCALE_DB_SPL_RANGE = (0.0, 200.0)
DEFAULT_FULL_SCALE_DB_SPL = 100.0
# Frames per callback that Engine.start accepts (its max_block_frames is at most 2**16).
BLOCK_FRAMES_RANGE = (16, 1 << 16)
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


# -- audio device and calibration -------------------------------------------------------------
def add_device_option(p: Container) -> None:
    """``--device``: which sound card (or JACK) device to open."""
    p.add_argument(
        "--device", default=None, metavar="DEVICE",
        help="audio device: its index in `audiolab devices` or part of its name (default: "
        "the default output device)",
    )


def add_calibration_age_option(p: Container) -> None:
    """``--max-calibration-age-days``: when a calibration file is too old to trust silently."""
    p.add_argument(
        "--max-calibration-age-days", type=float, default=None, metavar="DAYS",
        help="warn when the calibration file was measured more than DAYS days ago, DAYS >= 0 "
        "(default 365, or $AUDIOLAB_CALIBRATION_MAX_AGE_DAYS)",
    )


def add_calibration_file_option(p: Container) -> None:
    """``--calibration FILE`` alone (commands without an uncalibrated mode)."""
    p.add_argument(
        "--calibration", metavar="CAL.toml", default=None,
        help="calibration file of this set-up (dB SPL of a full-scale sine per frequency and "
        "channel, output ceiling); see calibration/example.toml and `audiolab calibrate`",
    )


def add_calibration_options(p: Container) -> None:
    """``--calibration FILE`` or ``--uncalibrated`` (one of them), and the calibration's age."""
    cal = p.add_mutually_exclusive_group()
    add_calibration_file_option(cal)
    cal.add_argument(
        "--uncalibrated", action="store_true",
        help="explicit uncalibrated mode: a full-scale sine stands for 100 dB SPL and the "
        "ceiling is -20 dBFS (80 dB SPL)",
    )
    add_calibration_age_option(p)


def calibration_age_from(args: argparse.Namespace) -> float | None:
    """``--max-calibration-age-days``, checked (None: the default)."""
    from audiolab._validate import check_real

    if args.max_calibration_age_days is None:
        return None
    return check_real("--max-calibration-age-days", args.max_calibration_age_days, low=0)


def require_calibration(args: argparse.Namespace) -> None:
    """Refuse, before any device is opened, a command that names no calibration."""
    from audiolab.cli._engine_setup import choose_calibration

    calibration_age_from(args)
    if not args.calibration and not args.uncalibrated:
        choose_calibration(None, False, n_outputs=1)  # raises: says what to give


def choose_calibration_from(args: argparse.Namespace, *, n_outputs: int) -> "Calibration":
    """The calibration that ``--calibration`` / ``--uncalibrated`` choose, for ``n_outputs``."""
    from audiolab.cli._engine_setup import choose_calibration

    return choose_calibration(args.calibration, args.uncalibrated, n_outputs=n_outputs,
                              max_age_days=calibration_age_from(args))


def add_blocksize_option(p: Container) -> None:
    """``--blocksize``: frames per audio callback."""
    lo, hi = BLOCK_FRAMES_RANGE
    p.add_argument(
        "--blocksize", type=int, default=None, metavar="N",
        help=f"frames per audio callback, N in [{lo}, {hi}] (default: the JACK server's "
        "period, else 256)",
    )


def blocksize_from(args: argparse.Namespace) -> int | None:
    """``--blocksize``, checked (None: the device's choice)."""
    from audiolab._validate import check_int

    if args.blocksize is None:
        return None
    lo, hi = BLOCK_FRAMES_RANGE
    return check_int("--blocksize", args.blocksize, low=lo, high=hi)


def add_record_option(p: Container) -> None:
    """``--record``: what leaves the safety ceiling, to a WAV file with a manifest."""
    p.add_argument(
        "--record", metavar="OUT.wav", default=None,
        help="write what leaves the safety ceiling to OUT.wav (float32, digital: a full-scale "
        "sine is 0 dBFS) and a JSON manifest to OUT.wav.json",
    )


# -- levels -------------------------------------------------------------------------------------
def add_level_option(p: Container, *, default: float | None, default_text: str) -> None:
    """``--level-db-spl``: the one meaning of a signal's level in every command.

    Parameters
    ----------
    p : argparse.ArgumentParser or argument group
        Where the option goes (a mutually exclusive group, say).
    default : float or None
        Default level in dB SPL.
    default_text : str
        What the default means, for the help text (``"65"``, ``"none: ..."``).
    """
    lo, hi = LEVEL_DB_SPL_RANGE
    p.add_argument(
        "--level-db-spl", type=float, default=default, metavar="X",
        help=f"set the RMS level over all channels together to X dB SPL (re 20 uPa), X in "
        f"[{lo:g}, {hi:g}]; the channels keep their level differences (default {default_text})",
    )


def level_db_spl_from(args: argparse.Namespace) -> float | None:
    """``--level-db-spl``, checked against the one range (None when not given)."""
    from audiolab._validate import check_real

    if args.level_db_spl is None:
        return None
    lo, hi = LEVEL_DB_SPL_RANGE
    return check_real("--level-db-spl", args.level_db_spl, low=lo, high=hi)


def add_full_scale_option(p: Container) -> None:
    """``--full-scale-db-spl``: the physical level that digital full scale stands for."""
    lo, hi = FULL_SCALE_DB_SPL_RANGE
    p.add_argument(
        "--full-scale-db-spl", type=float, default=None, metavar="X",
        help=f"a full-scale sine in the files is X dB SPL, on input and output; X in "
        f"[{lo:g}, {hi:g}] (default {DEFAULT_FULL_SCALE_DB_SPL:g}; with --level-db-spl the "
        f"outputs' full-scale sine is {DEFAULT_FULL_SCALE_DB_SPL:g} dB SPL)",
    )


def batch_levels_from(args: argparse.Namespace) -> "LevelOptions":
    """The batch runner's LevelOptions that ``--level-db-spl`` / ``--full-scale-db-spl`` give."""
    from audiolab._errors import ConfigError
    from audiolab.batch import LevelOptions

    full_scale = (DEFAULT_FULL_SCALE_DB_SPL if args.full_scale_db_spl is None
                  else args.full_scale_db_spl)
    try:
        return LevelOptions(full_scale_db_spl=full_scale, level_db_spl=args.level_db_spl)
    except ConfigError as exc:
        raise named_as_options(exc, ("full_scale_db_spl", "level_db_spl")) from None


def named_as_options(exc: Exception, names: Mapping[str, str] | tuple[str, ...]) -> Exception:
    """``exc`` with its leading parameter name written as the option (``--attack-ms``).

    The layers below name their parameters (``attack_ms must be in ...``); the user wrote
    options, so the message should name those. ``names`` maps a parameter to its option, or
    lists parameters whose option is their name with dashes (``attack_ms``: ``--attack-ms``).
    """
    from audiolab._errors import ConfigError

    options = (names if isinstance(names, Mapping)
               else {n: "--" + n.replace("_", "-") for n in names})
    message = str(exc)
    for name, option in options.items():
        if message.startswith(name + " must"):
            return ConfigError(option + message[len(name):])
    return exc


# -- output files -------------------------------------------------------------------------------
def add_plot_option(p: Container, *, what: str) -> None:
    """``--plot``: a figure of ``what`` to a PNG, PDF or SVG file."""
    p.add_argument(
        "--plot", metavar="OUT.png", default=None,
        help=f"plot {what} to a PNG (or .pdf, .svg) file",
    )


def check_output_file(option: str, path: str | None, *, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse, before any work is done, an output file that cannot be written as asked."""
    from pathlib import Path

    from audiolab._errors import ConfigError

    if path is None:
        return
    if not path:
        raise ConfigError(f"{option} is empty; give a file name")
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{option} {path} is a folder; give a file name")
    if not out.parent.is_dir():
        raise ConfigError(f"{option} {path}: folder {out.parent} does not exist; create it first")
    if suffixes and out.suffix.lower() not in suffixes:
        raise ConfigError(f"{option} {path}: give a file name ending in {', '.join(suffixes)}")


# -- JSON -----------------------------------------------------------------------------------------
def add_json_option(p: Container) -> None:
    """``--json``: the command's result as JSON on stdout, and nothing else there."""
    p.add_argument(
        "--json", action="store_true",
        help="print the result as JSON on stdout, nothing else (messages go to stderr; "
        "NaN and infinities are null)",
    )


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays as Python ones and non-finite floats as None."""
    import numpy as np

    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def json_text(doc: Any) -> str:
    """``doc`` as standard JSON (RFC 8259: no NaN or Infinity), indented by 2, no final newline.

    Silence is -inf dB and an unmeasurable time NaN; JSON has neither, so both are null.
    """
    import json

    return json.dumps(_plain(doc), indent=2, allow_nan=False)


def print_json(doc: Any, *, file: IO[str] | None = None) -> None:
    """Print ``doc`` as JSON (see :func:`json_text`) to ``file`` (default stdout)."""
    import sys

    print(json_text(doc), file=sys.stdout if file is None else file)


def write_json(path: str, doc: Any) -> None:
    """Write ``doc`` as JSON (see :func:`json_text`) to the file ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(json_text(doc) + "\n")


def message_stream(args: argparse.Namespace) -> IO[str]:
    """Where a command's messages go: stderr under ``--json`` (stdout holds the JSON only)."""
    import sys

    return sys.stderr if getattr(args, "json", False) else sys.stdout


def print_result(args: argparse.Namespace, doc: Any, print_text: Callable[[], None]) -> None:
    """A command's result on stdout: ``doc`` as JSON under ``--json``, else ``print_text()``."""
    if getattr(args, "json", False):
        print_json(doc)
    else:
        print_text()
