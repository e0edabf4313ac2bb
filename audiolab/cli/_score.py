"""``audiolab score``: metrics of processed files against their references.

STOI, ESTOI, SII, HASPI and HASQI, one row per pair.
"""

import argparse
from typing import TYPE_CHECKING

from audiolab.cli._options import add_full_scale_option, add_level_option, add_plot_option

if TYPE_CHECKING:
    from audiolab.audiology import AudiogramLike
    from audiolab.batch import ListenerOptions, ScoreReport

HELP = "score processed files against their references (STOI, ESTOI, SII, HASPI, HASQI)"
DESCRIPTION = """\
Score every processed file against its reference (clean) file and write one row per pair to
--out (CSV that pandas reads: reference, processed, condition, status, error, fs, n_samples,
n_channels, delay_samples, stoi, estoi, sii, haspi, hasqi, haspi_left, haspi_right,
hasqi_left, hasqi_right, level_db_spl, seconds), then print the mean and SD of each metric, over
all pairs and per condition.

Pairs are made by file name (the stem: ref/s01.flac with out/s01.wav) or listed in a CSV with
the columns reference,processed[,condition,audiogram]. Both files of a pair must have the same
rate and length. A manifest.json of `audiolab process` beside the processed files gives each
output's delay (the chain's latency, cut from the start of the processed and the end of the
reference file) and the condition (the chain file's name). A mono reference is compared with
every processed channel; a pair's score is the mean over channels.

STOI (Taal et al. 2011) and ESTOI (Jensen & Taal 2016) are pystoi's numbers; SII (ANSI
S3.5-1997) takes the reference as the speech and what the processed file holds beyond a
least-squares gain of the reference as the noise, for normal hearing.

HASPI v2 (Kates & Arehart 2021, intelligibility) and HASQI v2 (Kates & Arehart 2014, quality;
NAL-R on the reference) model the ear of the listener in --audiogram; they are pyclarity 0.9.0's
numbers within its spread over seeds, reproducible with --seed. They hear the reference at
--level-db-spl (RMS of the whole reference file; the processed file keeps its level relative to
it) or at what --full-scale-db-spl makes of the files. A stereo pair is scored per ear (columns
haspi_left, haspi_right) and the haspi column holds the better ear, as the Clarity challenges
report it; a mono pair is scored for --ear (default: the ear with the better 0.5-4 kHz average).
In a corpus with a listener per pair (Clarity), the pairs CSV's audiogram column gives each
pair's listener: a preset, or an audiogram file relative to the CSV (listeners.json#L0001 picks
one Clarity listener); it overrides --audiogram, which then only serves rows with an empty cell.

A bad pair (missing partner, different rate or length, too short, silent, unreadable, or an
audiogram cell that is missing, not a file or impossible) is reported in one line at the end,
the other pairs are still scored, and the exit code is 1; a bad command (including a bad
--audiogram) exits with code 2 before anything runs.

examples:
  audiolab score --reference speech/ --processed processed/ --out scores.csv
  audiolab score --reference 'clean/*.wav' --processed 'noisy/*.wav' --metric stoi,estoi,sii
  audiolab score --pairs pairs.csv --jobs 4 --out scores.csv --plot scores.png
  audiolab score --reference speech/ --processed processed/ --scheduler tcp://HOST:8786
  audiolab score --reference clean/ --processed aided/ --metric stoi,estoi,haspi,hasqi \
      --audiogram N3 --level-db-spl 65 --out scores.csv
  audiolab score --pairs clarity_pairs.csv --metric haspi,hasqi --level-db-spl 65
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab score``."""
    p.add_argument("--reference", metavar="DIR_OR_GLOB", default=None,
                   help="reference (clean) files: a file, folder or glob")
    p.add_argument("--processed", metavar="DIR_OR_GLOB", default=None,
                   help="processed files, paired with the references by file name")
    p.add_argument("--pairs", metavar="CSV", default=None,
                   help="pair list instead of --reference/--processed: a CSV with the columns "
                   "reference,processed[,condition,audiogram] (paths relative to the CSV's "
                   "folder; a row's audiogram overrides --audiogram)")
    p.add_argument("--metric", default="stoi,estoi", metavar="LIST",
                   help="comma-separated metrics out of stoi, estoi, sii, haspi, hasqi (default "
                   "stoi,estoi)")
    add_listener_arguments(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="local worker processes, at least 1; 1 works in this process "
                   "(default: all cores)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="score on a Dask distributed cluster instead: tcp://HOST:PORT or a "
                   "scheduler file (.json); workers must see the same paths")
    p.add_argument("--out", default=None, metavar="scores.csv",
                   help="write the scores here, one row per pair (default: no file)")
    add_plot_option(p, what="each metric's distribution per condition")
    g = p.add_mutually_exclusive_group()
    add_full_scale_option(g)
    add_level_option(g, default=None, default_text="none: the files' own level, see "
                     "--full-scale-db-spl; used by haspi and hasqi")


def add_listener_arguments(p: argparse.ArgumentParser, *, audiogram_help: str = "") -> None:
    """``--audiogram``, ``--ear`` and ``--seed`` of HASPI and HASQI (shared with process)."""
    p.add_argument("--audiogram", default=None, metavar="A",
                   help="listener of haspi and hasqi: preset N1..N7, S1..S3, or a file (.json "
                   "audiolab/Clarity, .csv)" + audiogram_help)
    p.add_argument("--ear", default="better", choices=("better", "left", "right"),
                   help="haspi/hasqi ear: for mono pairs the ear scored, for stereo pairs the "
                   "ear reported (default better)")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of haspi's and hasqi's internal noise, >= 0 (default 0)")


def listener_from(args: argparse.Namespace, audiogram: "AudiogramLike | None" = None
                  ) -> "ListenerOptions":
    """The batch runner's ListenerOptions from ``--audiogram/--ear/--seed/--level-db-spl``.

    ``audiogram`` is used when ``--audiogram`` is not given (``process``: the chain's).
    """
    from audiolab._errors import ConfigError
    from audiolab.batch import ListenerOptions
    from audiolab.cli._options import level_db_spl_from

    if args.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed}")
    chosen = args.audiogram if args.audiogram is not None else audiogram
    return ListenerOptions(audiogram=chosen, ear=args.ear,
                           level_db_spl=level_db_spl_from(args), seed=args.seed)


def run(args: argparse.Namespace) -> int:
    """Pair, score, write the CSV and the plot, print the summary."""
    import sys

    from audiolab._errors import ConfigError
    from audiolab.batch import pair_files, run_scoring, write_scores_csv
    from audiolab.cli._options import DEFAULT_FULL_SCALE_DB_SPL, check_output_file

    if args.pairs is not None and (args.reference is not None or args.processed is not None):
        raise ConfigError("give --pairs CSV or --reference and --processed, not both")
    if args.pairs is None and (args.reference is None or args.processed is None):
        raise ConfigError("give --reference and --processed (or --pairs CSV)")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    check_output_file("--out", args.out, suffixes=(".csv",))
    check_output_file("--plot", args.plot, suffixes=(".png", ".pdf", ".svg"))
    metrics = [m.strip().lower() for m in args.metric.split(",") if m.strip()]
    full_scale = (DEFAULT_FULL_SCALE_DB_SPL if args.full_scale_db_spl is None
                  else args.full_scale_db_spl)
    try:
        tasks, unpaired = pair_files(
            args.reference, args.processed, pairs_csv=args.pairs, metrics=metrics,
            full_scale_db_spl=full_scale, listener=listener_from(args),
        )
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("metric must", "--metric must")) from None
    report = run_scoring(tasks, unpaired=unpaired, jobs=args.jobs, scheduler=args.scheduler,
                         progress=sys.stderr)
    if args.out is not None:
        write_scores_csv(report, args.out)
    if args.plot is not None:
        from audiolab.reports import draw_score_distributions

        draw_score_distributions(report.rows(), args.plot, metrics=report.metrics or metrics)
    print_summary(report, command="score")
    if args.out is not None:
        print(f"score: scores in {args.out}")
    return report.exit_code


def print_summary(report: "ScoreReport", *, command: str) -> None:
    """Mean and SD per metric and condition (stdout), then one line per failed pair (stderr)."""
    import math
    import sys

    from audiolab.batch import score_summary

    n_scored = sum(r.status == "scored" for r in report.results)
    print(f"{command}: {n_scored} pairs scored, {len(report.failed)} failed")
    summary = score_summary(report)
    for condition, by_metric in summary.items():
        if not by_metric or by_metric[next(iter(by_metric))]["n"] == 0:
            continue
        parts = []
        for metric, s in by_metric.items():
            sd = "" if math.isnan(s["sd"]) else f" SD {s['sd']:.3f}"
            parts.append(f"{metric} {s['mean']:.3f}{sd}")
        n = by_metric[next(iter(by_metric))]["n"]
        print(f"  {condition} (n={n}): " + ", ".join(parts))
    for r in report.failed:
        pair = " vs ".join(p for p in (r.output, r.input) if p)
        print(f"{command}: failed: {pair}: {r.error}", file=sys.stderr)
