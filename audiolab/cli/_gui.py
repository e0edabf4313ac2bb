"""``audiolab gui``: the Qt application (fitting, calibration wizard, live monitor)."""

import argparse

from audiolab.cli._options import add_calibration_file_option, add_device_option

HELP = ("open the graphical application (fitting with live A/B/C, calibration, monitor, "
        "experiment runner, results)")
DESCRIPTION = """\
Open audiolab's window: edit an audiogram and hear unaided, simulated-loss and aided speech
(keys 1/2/3), calibrate a headphone step by step, watch the engine's meters and load, run
the experiments of experiments/ with a person on a subject window or a simulated listener,
and browse the stored sessions.
The device and calibration chosen in the toolbar are remembered between runs; --device and
--calibration choose others at start.

With --screenshot DIR the window fills each view with an example (N3, NAL-R), writes one PNG
per view into DIR and quits; no display is needed (Qt's offscreen platform is used).

examples:
  audiolab gui
  audiolab gui --calibration calibration/example.toml --device jack
  audiolab gui --screenshot docs/screenshots
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab gui``."""
    add_device_option(p)
    add_calibration_file_option(p)
    p.add_argument(
        "--screenshot", metavar="DIR", default=None,
        help="write a PNG of each view, filled with an example, into DIR and quit",
    )


def run(args: argparse.Namespace) -> int:
    """Open the window (or write the screenshots)."""
    from audiolab.gui import run_gui

    return run_gui(device=args.device, calibration=args.calibration,
                   screenshot_dir=args.screenshot)
