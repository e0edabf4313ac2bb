"""``audiolab simulate``: hear sound files as a listener with a given audiogram (batch)."""

import argparse

from audiolab.cli._process import add_batch_arguments, run_and_report

HELP = "simulate hearing loss (and a cochlear implant) on sound files"
DESCRIPTION = """\
Process every input through a hearing-loss simulation for AUDIOGRAM (a preset N1..N7, S1..S3
or an audiogram file) and write OUT/<stem>.wav and OUT/manifest.json, with the same
conventions, options and exit codes as `audiolab process` (it runs the chain
[[stage]] type = "hearing-loss", audiogram = AUDIOGRAM). With --ci-channels N an N-channel
cochlear-implant vocoder (type = "ci-vocoder", seed 1) follows the hearing-loss stage.

examples:
  audiolab simulate speech/ --audiogram N3 --out heard --level-db-spl 65
  audiolab simulate 'corpus/**/*.flac' --audiogram listener.csv --out heard --ci-channels 8
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab simulate``."""
    add_batch_arguments(p)
    p.add_argument(
        "--audiogram", required=True, metavar="A",
        help="audiogram: preset N1..N7, S1..S3, or a file (.json audiolab/Clarity, .csv)",
    )
    p.add_argument(
        "--ci-channels", type=int, default=None, metavar="N",
        help="add a cochlear-implant noise vocoder with N channels (1-22) after the hearing-loss "
        "simulation (default: none)",
    )


def run(args: argparse.Namespace) -> int:
    """Simulate the audiogram on every input."""
    import re

    from audiolab._errors import ConfigError
    from audiolab._validate import check_int
    from audiolab.batch import simulation_chain
    from audiolab.models._ci import MAX_BANDS

    if args.ci_channels is not None:
        check_int("--ci-channels", args.ci_channels, low=1, high=MAX_BANDS)
    try:
        chain = simulation_chain(args.audiogram, ci_channels=args.ci_channels)
    except ConfigError as exc:
        # The user wrote options, not a chain: drop "chain: stage 1 (hearing-loss): ".
        raise ConfigError(re.sub(r"^chain: stage \d+ \([\w-]+\): ", "", str(exc))) from None
    return run_and_report(args, chain, "simulate")
