"""``audiolab run``: run a listening experiment file for one subject and store every trial."""

import argparse
from typing import TYPE_CHECKING, Any

from audiolab.cli._options import add_calibration_options, add_device_option, add_json_option

HELP = "run a listening experiment (TOML file) and store every trial"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO

    from audiolab.calibration import Calibration
    from audiolab.experiments import Experiment, SessionResult
    from audiolab.store import ResultsStore
    from audiolab.store import Trial as StoredTrial

DESCRIPTION = """\
Run an experiment file (experiments/*.toml: procedure, stimulus, responses) for one subject.
Before the first trial, every level the procedure can reach is checked against the output
ceiling of the calibration; then each trial is rendered, presented, answered and committed to
the results database (one transaction per trial) before anything reports it.

Listeners: a simulated one (--listener simulated:N3, an audiogram preset or file; or
psychometric:midpoint=M,slope=S,lapse=L) runs headless, as fast as the CPU allows, with a
virtual ideal calibration unless --calibration is given. Without --listener a person listens
through the audio device (--calibration is then required) and answers in the terminal: the
interval number 1..n, y/n, or the number of words repeated correctly; when stdin is not a
terminal, one answer per line.

--resume continues the subject's latest unfinished session of the same file, replaying its
stored answers: no trial is repeated or lost. --dry-run validates the file, checks the levels
and prints the plan without presenting anything or writing to the database.

examples:
  audiolab run experiments/tone_in_noise_3afc.toml --subject P01 --listener simulated:N3
  audiolab run experiments/audiogram.toml --subject P01 --calibration lab.toml --device 2
  audiolab run experiments/srt_matrix.toml --subject P01 --listener simulated:S2 --json
  audiolab run experiments/audiogram.toml --subject P01 --calibration lab.toml --resume
  audiolab run experiments/am_detection_weighted.toml --subject CHECK --listener simulated:N1 \\
      --dry-run
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab run``."""
    # Values are checked in run() so a bad one gives one line, not usage + error.
    p.add_argument("experiment", metavar="EXPERIMENT.toml", help="the experiment file")
    p.add_argument("--subject", metavar="ID", required=True,
                   help="the subject's pseudonym (letters, digits, - and _; never a name, "
                   "e-mail or date of birth)")
    p.add_argument("--listener", metavar="SPEC", default=None,
                   help="simulated:AUDIOGRAM (preset N1..N7, S1..S3 or an audiogram file) or "
                   "psychometric:midpoint=M,slope=S,lapse=L; default: a person at the device")
    add_calibration_options(p)
    add_device_option(p)
    p.add_argument("--db", metavar="PATH", default=None,
                   help="results database (default: audiolab's file in the user's data "
                   "folder, printed at start)")
    p.add_argument("--seed", metavar="N", default="0",
                   help="session seed, N in [0, 2**63 - 1] (default 0; a resume keeps the "
                   "stored one)")
    p.add_argument("--resume", action="store_true",
                   help="continue the subject's latest unfinished session of this file")
    p.add_argument("--max-trials", metavar="N", default=None,
                   help="stop after N new trials, N in [1, 100000] (the session stays "
                   "resumable)")
    p.add_argument("--fs", metavar="HZ", default=None,
                   help="sample rate of simulated runs in Hz, in [8000, 384000] (default "
                   "48000; live runs use the device's)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate, check every reachable level and print the plan; present "
                   "nothing, write nothing")
    p.add_argument("--log-trials", action="store_true",
                   help="print one JSON line per trial on stdout right after it is committed")
    add_json_option(p)


def _int_option(name: str, text: str, *, low: int, high: int) -> int:
    from audiolab._errors import ConfigError
    from audiolab._validate import check_int

    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {text!r}") from None
    return check_int(name, value, low=low, high=high)


def run(args: argparse.Namespace) -> int:
    """Run or resume a session; one line on stderr and exit code 2 for bad input."""
    import json
    import sys
    from dataclasses import asdict

    from audiolab._errors import CalibrationError, ConfigError
    from audiolab._validate import check_real
    from audiolab.cli._options import calibration_age_from, print_json
    from audiolab.experiments import load_experiment, parse_listener
    from audiolab.experiments._runner import (
        check_session_levels,
        run_session,
    )
    from audiolab.store import ResultsStore, check_pseudonym, default_path

    check_pseudonym(args.subject)
    seed = _int_option("--seed", args.seed, low=0, high=2**63 - 1)
    max_trials = None if args.max_trials is None else _int_option(
        "--max-trials", args.max_trials, low=1, high=100_000)
    fs = 48000.0
    if args.fs is not None:
        try:
            fs = float(args.fs)
        except ValueError:
            raise ConfigError(f"--fs must be a number in [8000, 384000], got {args.fs!r}") from None
        fs = check_real("--fs", fs, low=8000, high=384000)
    age = calibration_age_from(args)
    experiment = load_experiment(args.experiment)
    person = args.listener is None
    if person and not args.calibration:
        raise CalibrationError("a person is never presented sound without a calibration file: "
                               "give --calibration CAL.toml, or --listener for a simulated run")
    listener = None if person else parse_listener(args.listener, seed=seed)
    calibration = None
    calibration_text = None
    if args.calibration:
        from pathlib import Path

        from audiolab.calibration import load_calibration

        calibration = load_calibration(args.calibration, max_age_days=age)
        calibration_text = Path(args.calibration).read_text(encoding="utf-8")
    elif args.uncalibrated:
        from audiolab.calibration import Calibration

        calibration = Calibration.uncalibrated_mode(2)
        calibration_text = "uncalibrated mode"
    out = sys.stderr if (args.json or args.log_trials) else sys.stdout

    # Before the database is touched: a refused level writes nothing (the runner checks again).
    check_session_levels(experiment, calibration=calibration, fs=fs)
    if args.dry_run:
        plan = experiment.plan()
        plan.update(subject=args.subject, listener=args.listener or "person",
                    calibration=calibration.source if calibration else "virtual ideal",
                    levels_checked=True)
        if args.json:
            print_json(plan)
        else:
            print(f"{experiment.source}: {experiment.name}: {plan['procedure']} on "
                  f"{experiment.stimulus.kind}, {experiment.stimulus.variable} in "
                  f"[{experiment.x_min_db:g}, {experiment.x_max_db:g}]: every level within "
                  f"the ceiling of the {plan['calibration']} calibration; nothing presented")
        return 0

    db = args.db if args.db is not None else str(default_path())
    print(f"results database: {db}", file=out)

    def log(trial: "StoredTrial") -> None:
        if args.log_trials:  # the procedure's state stays in the database: one short line
            line = {k: v for k, v in asdict(trial).items() if k != "state"}
            print(json.dumps(line, separators=(",", ":"), default=float), flush=True)

    with ResultsStore(db) as store:
        if person:
            assert calibration is not None
            return _run_live(args, experiment, store, calibration, calibration_text, seed,
                             max_trials, log)
        assert listener is not None
        if args.resume:
            # The listener draws from the session's stored seed, as it did before the break.
            from audiolab.experiments._runner import resume_session_id

            sid = resume_session_id(store, subject=args.subject, experiment=experiment)
            listener = parse_listener(args.listener, seed=store.session(sid).seed)
        result = run_session(experiment, store=store, subject=args.subject, listener=listener,
                             seed=seed, calibration=calibration,
                             calibration_text=calibration_text, resume=args.resume,
                             max_trials=max_trials, fs=fs, on_trial=log)
    _report(args, result, out)
    return 0


def _report(args: argparse.Namespace, result: "SessionResult", out: "IO[str]") -> None:
    from audiolab.cli._options import print_json

    doc: dict[str, Any] = {"session_id": result.session_id, "n_trials": result.n_trials,
           "n_new_trials": result.n_new_trials, "finished": result.finished,
           "summary": result.summary}
    if args.json:
        print_json(doc)
        return
    s = result.summary
    est = ""
    for key in ("threshold_db", "srt_db"):
        if s.get(key) is not None:
            est = f", {key} {s[key]:.2f}"
    if s.get("estimate"):
        est = f", threshold_db {s['estimate']['threshold_db_mean']:.2f}"
    if s.get("audiogram"):
        est = ", audiogram " + " ".join(
            f"{p['ear'][0].upper()}{p['frequency_hz']:g}:{p['threshold_db_hl']}"
            for p in s["audiogram"])
    state = "finished" if doc["finished"] else "not finished (continue with --resume)"
    print(f"session {doc['session_id']}: {doc['n_trials']} trials, {state}{est}", file=out)


def _run_live(args: argparse.Namespace, experiment: "Experiment", store: "ResultsStore",
              calibration: "Calibration", calibration_text: str | None, seed: int,
              max_trials: int | None, log: "Callable[[StoredTrial], None]") -> int:
    """A person at the device: the engine plays each trial, answers come from stdin."""
    import sys

    from audiolab.cli._engine_setup import device_setup
    from audiolab.engine import Engine
    from audiolab.experiments._runner import TerminalListener, run_session
    from audiolab.store import LiveRun

    setup = device_setup(args.device, want_inputs=False, max_outputs=2, block_frames=None)
    try:
        engine = Engine(fs=setup.fs, n_inputs=0, n_outputs=2, calibration=calibration)
        engine.start(device=setup.output_device, block_frames=setup.block_frames)
        try:
            live = LiveRun(device=setup.name, host_api=setup.host_api, fs=int(setup.fs),
                           block_size_samples=setup.block_frames)
            listener = TerminalListener(sys.stdin, sys.stderr)
            result = run_session(
                experiment, store=store, subject=args.subject, listener=listener,
                seed=seed, calibration=calibration, calibration_text=calibration_text,
                resume=args.resume, max_trials=max_trials, fs=setup.fs, engine=engine,
                live=live, on_trial=log)
        finally:
            engine.stop()
    finally:
        setup.close()
    _report(args, result, sys.stderr if (args.json or args.log_trials) else sys.stdout)
    return 0
