"""``audiolab process``: run a chain file over sound files, locally or on a Dask cluster."""

import argparse
from typing import Any

from audiolab.cli._options import add_full_scale_option, add_level_option, batch_levels_from

HELP = "run a chain file over sound files, folders or globs (a batch)"
DESCRIPTION = """\
Run the chain in CHAIN.toml over every input and write OUT/<stem>.wav (float32, never clipped,
stereo (left, right), the input's sample rate and frame count; the chain's delay is not
compensated) plus OUT/manifest.json. A mono input is presented to both ears. A chain with its own
fs resamples files at other rates in and back out. Outputs already up to date are skipped.
A bad file is reported at the end and does not stop the batch (exit code 1); a bad command
exits with code 2 before anything runs. With --score each output is scored against its input
(--metric, default STOI and ESTOI; the chain's delay compensated, as `audiolab score` does) and
the scores are added to the manifest; a pair that cannot be scored also gives exit code 1.
HASPI and HASQI (--metric haspi,hasqi) use the chain's audiogram (its first stage with one)
unless --audiogram is given, and hear each pair at the levels the run presented and wrote it at.

examples:
  audiolab fit N3 --write-chain aided.toml
  audiolab process recordings/ --chain aided.toml --out processed --level-db-spl 65
  audiolab process 'takes/**/*.flac' --chain aided.toml --out processed --jobs 4
  audiolab process recordings/ --chain aided.toml --out processed --scheduler tcp://HOST:8786
  audiolab process recordings/ --chain aided.toml --out processed --score
  audiolab process recordings/ --chain aided.toml --out processed --score --metric haspi,hasqi
"""


def add_level_arguments(p: argparse.ArgumentParser) -> None:
    """``--full-scale-db-spl`` or ``--level-db-spl`` (one of them) for the input files."""
    g = p.add_mutually_exclusive_group()
    add_full_scale_option(g)
    add_level_option(g, default=None, default_text="none: the files' own level, see "
                     "--full-scale-db-spl")


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    """Inputs, ``--out``, levels and executor options (shared with ``audiolab simulate``)."""
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="sound files, folders or globs")
    p.add_argument(
        "--out", required=True, metavar="DIR",
        help="output folder, created if missing (its files are never taken as inputs)",
    )
    add_level_arguments(p)
    p.add_argument(
        "--jobs", type=int, default=None, metavar="N",
        help="local worker processes, at least 1; 1 works in this process (default: all "
        "cores)",
    )
    p.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="run on a Dask distributed cluster instead: tcp://HOST:PORT or a scheduler file "
        "(.json); workers must see the same paths (default: local processes)",
    )
    p.add_argument(
        "--force", action="store_true", help="process every input, even if its output is up to date"
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab process``."""
    add_batch_arguments(p)
    p.add_argument("--chain", required=True, metavar="CHAIN.toml", help="chain file (TOML)")
    p.add_argument(
        "--score", action="store_true",
        help="then score each output against its input (STOI, ESTOI; the chain's delay "
        "compensated) and add the scores to the manifest",
    )
    from audiolab.cli._score import add_listener_arguments

    p.add_argument("--metric", default="stoi,estoi", metavar="LIST",
                   help="with --score: comma-separated metrics out of stoi, estoi, sii, haspi, "
                   "hasqi (default stoi,estoi)")
    add_listener_arguments(p, audiogram_help=" (default: the chain's audiogram)")


def run_and_report(args: argparse.Namespace, chain: Any, command: str) -> int:
    """Run the batch, print the summary (stdout) and the failures (stderr); return the exit code."""
    import sys

    from audiolab._errors import ConfigError
    from audiolab.batch import run_batch

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    if not args.out:  # Path("") is the current folder
        raise ConfigError("--out is empty; give an output folder")
    score_setup = _score_setup(args) if getattr(args, "score", False) else None
    report = run_batch(
        args.inputs, chain=chain, out_dir=args.out, levels=batch_levels_from(args), jobs=args.jobs,
        scheduler=args.scheduler, force=args.force, command=command, progress=sys.stderr,
    )
    resampled: dict[tuple[int, float], int] = {}
    for r in report.processed:
        if r.resampled and r.fs is not None and r.processing_fs is not None:
            key = (r.fs, r.processing_fs)
            resampled[key] = resampled.get(key, 0) + 1
    for (fs, rate), n in sorted(resampled.items()):
        print(
            f"resampled {n} file(s) from {fs} Hz to the chain's {rate:g} Hz and back to {fs} Hz"
        )
    print(
        f"{command}: {len(report.processed)} processed, {len(report.skipped)} up to date "
        f"(skipped), {len(report.failed)} failed; outputs and manifest in {report.out_dir}"
    )
    for r in report.failed:
        print(f"{command}: failed: {r.input}: {r.error}", file=sys.stderr)
    if score_setup is not None:
        return max(report.exit_code, _score_outputs(args, report, command, score_setup))
    return report.exit_code


def _score_setup(args: argparse.Namespace) -> tuple[list[str], Any]:
    """``--metric`` and the listener of ``--score``, checked before anything is processed."""
    import dataclasses

    from audiolab._errors import ConfigError
    from audiolab.batch import tasks_from_batch
    from audiolab.cli._score import listener_from
    from audiolab.models import load_chain

    metrics = [m.strip().lower() for m in args.metric.split(",") if m.strip()]
    audiogram = next((s.params["audiogram"] for s in load_chain(args.chain).stages
                      if "audiogram" in s.params), None)
    # The run's own levels (each file's presented and written level), not --level-db-spl.
    listener = dataclasses.replace(listener_from(args, audiogram), level_db_spl=None)
    try:  # no results yet: this only checks the metrics and loads the audiogram
        tasks_from_batch([], metrics=metrics, listener=listener)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("metric must", "--metric must")) from None
    return metrics, listener


def _score_outputs(
    args: argparse.Namespace, report: Any, command: str, setup: tuple[list[str], Any]
) -> int:
    """Score the outputs of ``report`` against their inputs, into its manifest; the exit code."""
    import sys
    from pathlib import Path

    from audiolab.batch import add_scores_to_manifest, run_scoring, tasks_from_batch
    from audiolab.cli._score import print_summary

    condition = Path(args.chain).stem if isinstance(args.chain, str) else ""
    metrics, listener = setup
    tasks = tasks_from_batch(report.results, condition=condition, metrics=metrics,
                             listener=listener)
    scores = run_scoring(tasks, jobs=args.jobs, scheduler=args.scheduler, progress=sys.stderr,
                         label=f"{command} --score")
    add_scores_to_manifest(report.manifest_path, scores)
    print_summary(scores, command=f"{command} --score")
    return scores.exit_code


def run(args: argparse.Namespace) -> int:
    """Process the inputs through the chain file."""
    return run_and_report(args, args.chain, "process")
