"""Entry point of the ``audiolab`` command: parses, dispatches, turns errors into one line.

Each command lives in its own module ``audiolab.cli._<name>`` with ``HELP`` (one line for
``audiolab --help``), ``add_arguments(parser)`` and ``run(args) -> int``. Command modules import
their heavy dependencies inside ``run`` so that ``audiolab --help`` stays fast.
"""

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from audiolab import __version__
from audiolab._errors import AudioDeviceError, AudiolabError

__all__ = ["COMMANDS", "main"]

# Parallelism in audiolab is across files and bands, never inside BLAS: threaded BLAS on 2 cores
# slowed the reference simulator down (DESIGN.md). Must be set before numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Order is the order shown by `audiolab --help`.
COMMANDS: tuple[str, ...] = (
    "demo",
    "process",
    "simulate",
    "score",
    "devices",
    "live",
    "play",
    "latency",
    "calibrate",
    "bench",
    "fit",
    "verify",
    "run",
    "results",
    "stages",
    "gui",
)

EXIT_OK = 0
EXIT_FAILED_ITEMS = 1
EXIT_BAD_COMMAND = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, like every other bad command (no usage block): what was wrong, where to look.
        self.exit(
            EXIT_BAD_COMMAND, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n"
        )


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser (all sub-commands)."""
    parser = _Parser(
        prog="audiolab",
        description=(
            "audiolab: audiology signal processing for hearing-loss research: auditory "
            "filterbanks, hearing-aid fitting and verification, hearing-loss simulation, "
            "calibrated real-time audio and listening experiments."
        ),
        epilog="Run `audiolab COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"audiolab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"audiolab.cli._{name}")
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``audiolab`` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_COMMAND
    prog = f"audiolab {args.command}"
    try:
        return int(args._run(args) or 0)
    except AudiolabError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        if isinstance(exc, AudioDeviceError):
            _device_failure[0] = True
        return EXIT_BAD_COMMAND
    except BrokenPipeError:
        # The reader went away (`audiolab fit N3 --json | head`): stop quietly, as Unix tools do.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        except (OSError, ValueError):
            pass
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"{prog}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_BAD_COMMAND
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


# Set when a command ended on an audio-device error (see run()).
_device_failure = [False]


def run() -> None:
    """Entry point of the ``audiolab`` executable: :func:`main`, then exit with its code.

    After an audio-device error, the process ends without Python's exit handlers: PortAudio's
    JACK host API asserts (and aborts the process) in its exit-time shutdown when its server
    went away while a stream was being opened, which would turn the one-line error and exit
    code 2 into a crash. Output is flushed first.
    """
    code = main()
    if _device_failure[0] and "sounddevice" in sys.modules:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
