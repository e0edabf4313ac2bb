"""``audiolab devices``: the audio devices PortAudio sees (sound cards, JACK)."""

import argparse

from audiolab.cli._options import add_json_option, print_json

HELP = "list the audio devices (index, name, host API, channels, default rate)"
DESCRIPTION = """\
List the audio devices PortAudio sees: index, name, host API, input and output channels and
default sample rate in Hz. The index (or part of the name) is what --device takes in live,
play, latency and calibrate. A JACK server shows up only if it runs when audiolab starts.

examples:
  audiolab devices
  audiolab devices --json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab devices``."""
    add_json_option(p)


def run(args: argparse.Namespace) -> int:
    """Print the device list."""
    from audiolab._errors import AudioDeviceError
    from audiolab.engine import jack_server_name, list_devices

    devices = list_devices()
    if args.json:
        keys = ("index", "name", "host_api", "max_input_channels", "max_output_channels",
                "default_samplerate")
        print_json([{k: d[k] for k in keys} for d in devices])
        return 0
    if not devices:
        server = jack_server_name()
        hint = f" (is the JACK server {server!r} running?)" if server else ""
        raise AudioDeviceError(f"no audio devices found{hint}")
    print(f"{'#':>3}  {'name':<40} {'host API':<28} {'in':>3} {'out':>4} {'rate':>7}")
    for d in devices:
        print(f"{d['index']:>3}  {d['name'][:40]:<40} {d['host_api'][:28]:<28} "
              f"{d['max_input_channels']:>3} {d['max_output_channels']:>4} "
              f"{d['default_samplerate']:>7.0f}")
    return 0
