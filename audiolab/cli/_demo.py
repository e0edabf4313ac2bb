"""``audiolab demo``: the main job."""

import argparse
import sys

HELP = "the main job: speech through a hearing loss, unaided and aided"
DESCRIPTION = """\
The main job (no sound card needed). For an audiogram (default N3, moderate flat-sloping loss),
take the bundled speech at 65 dB SPL and write

  normal.wav    the speech as a normal-hearing listener hears it
  unaided.wav   through the hearing-loss simulator (as this listener hears it)
  aided.wav     through the fitted WDRC hearing aid, then the simulator
  report.png    audiogram, gains, speech levels vs thresholds, SII
  summary.json  SII for each condition and the levels, settings and software version

WAVs are float32 with a full-scale sine = 100 dB SPL. Takes a few seconds.

examples:
  audiolab demo
  audiolab demo --audiogram S2 --out s2-demo
  audiolab demo --audiogram my_listener.csv --rule pogo --compression linear
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab demo``."""
    p.add_argument("--out", default="audiolab-demo", metavar="DIR",
                   help="output folder, created if missing (default ./audiolab-demo)")
    p.add_argument("--audiogram", default="N3", metavar="A",
                   help="preset N1..N7, S1..S3 or an audiogram file (.json audiolab/Clarity, "
                   ".csv) (default N3)")
    p.add_argument("--rule", default="nal-r", choices=("nal-r", "half-gain", "pogo"),
                   help="prescription rule (default nal-r)")
    p.add_argument("--compression", default="wdrc", choices=("wdrc", "linear"),
                   help="hearing-aid compression (default wdrc)")


def run(args: argparse.Namespace) -> int:
    """Run the demo and say where everything went."""
    from audiolab.reports._demo import run_demo

    def progress(msg: str) -> None:
        print(f"  {msg} ...", file=sys.stderr, flush=True)

    from audiolab._errors import ConfigError

    if not args.out:
        raise ConfigError("--out is empty; give an output folder")
    try:
        result = run_demo(args.out, audiogram=args.audiogram, rule=args.rule,
                          compression=args.compression, progress=progress)
    except ConfigError as exc:
        if str(exc).startswith("out_dir "):
            raise ConfigError("--out " + str(exc)[len("out_dir "):]) from None
        raise
    s = result.summary
    print(f"audiogram {s['audiogram']['name']}, {s['rule']} {s['compression']}, "
          f"speech at {s['speech_level_db_spl']:g} dB SPL ({s['seconds']:.1f} s)")
    print("SII (better ear):  " + "  ".join(f"{c} {v:.3f}" for c, v in s["sii"].items()))
    for cond, path in result.wavs.items():
        print(f"  {cond + '.wav':<13} {path}")
    print(f"  {'report.png':<13} {result.report_png}")
    print(f"  {'summary.json':<13} {result.summary_json}")
    return 0
