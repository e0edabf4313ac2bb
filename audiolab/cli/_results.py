"""``audiolab results``: export the trials of a results database, or erase a subject from it."""

import argparse

from audiolab.cli._options import add_plot_option

HELP = "export stored trials (CSV, JSON) or erase a subject's data"
DESCRIPTION = """\
Read the results database of listening experiments (`audiolab run --db PATH`).

Export: one row per trial, with its session, subject and experiment, as CSV (which pandas and R
read without reshaping) or JSON; to stdout, or to --out FILE (written whole or not at all,
readable by its owner only). --session and --subject select; the format follows --format, else
the suffix of --out (.json), else CSV.

Plot: --plot FILE.png draws one session (--session ID, or the only one): an audiogram (right
ear red O, left ear blue X, dB HL downwards), an adaptive track with its reversals and
threshold, or a matrix-test track with its fitted word-score function.

Erasure: --delete-subject ID erases every session, trial and event of that subject and compacts
the file, so the data no longer appears anywhere in it.

examples:
  audiolab results --db results.sqlite --out all_trials.csv
  audiolab results --db results.sqlite --session 12 --format json
  audiolab results --db results.sqlite --session 3 --plot session3.png
  audiolab results --db results.sqlite --delete-subject P07
"""

FORMATS = ("csv", "json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab results``."""
    # Values are checked in run() so a bad one gives one line, not usage + error.
    p.add_argument("--db", metavar="PATH", required=True, help="the results database")
    p.add_argument("--session", metavar="ID", default=None, help="export only this session")
    p.add_argument("--subject", metavar="ID", default=None,
                   help="export only this subject's sessions")
    p.add_argument("--format", metavar="{csv,json}", default=None,
                   help="export format (default: from --out's suffix, else csv)")
    p.add_argument("--out", metavar="FILE", default=None,
                   help="write the export to FILE instead of stdout")
    add_plot_option(p, what="one session (--session ID): audiogram, track or matrix SRT")
    p.add_argument("--delete-subject", metavar="ID", default=None,
                   help="erase this subject's sessions, trials and events from the database")


def run(args: argparse.Namespace) -> int:
    """Export trials or erase a subject; one line on stderr and exit code 2 for bad input."""
    import sys
    from pathlib import Path

    from audiolab._errors import ConfigError
    from audiolab._validate import check_choice, check_int
    from audiolab.store import ResultsStore, check_pseudonym

    if args.delete_subject is not None:
        export_options = [name for name, value in (
            ("--session", args.session), ("--subject", args.subject),
            ("--format", args.format), ("--out", args.out), ("--plot", args.plot))
            if value is not None]
        if export_options:
            raise ConfigError(
                f"--delete-subject cannot be combined with {', '.join(export_options)}; "
                "erase and export in two commands"
            )
        check_pseudonym(args.delete_subject)
        with ResultsStore(args.db, create=False) as store:
            n_sessions = store.delete_subject(args.delete_subject)
        print(f"erased subject {args.delete_subject} ({n_sessions} sessions) from {args.db}")
        return 0

    if args.plot is not None:
        return _plot(args)
    session_id = None
    if args.session is not None:
        try:
            session_id = int(args.session)
        except ValueError:
            raise ConfigError(f"--session must be an integer, got {args.session!r}") from None
        check_int("--session", session_id, low=1)
    if args.subject is not None:
        check_pseudonym(args.subject)
    fmt = args.format
    if fmt is None:
        fmt = "json" if args.out and Path(args.out).suffix.lower() == ".json" else "csv"
    check_choice("--format", fmt, FORMATS)
    with ResultsStore(args.db, create=False) as store:
        write = store.write_json if fmt == "json" else store.write_csv
        target = sys.stdout if args.out is None else args.out
        n_rows = write(target, session_id=session_id, subject=args.subject)
    if args.out is not None:
        print(f"wrote {n_rows} trials to {args.out}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    """``--plot``: draw one session; one line and exit 2 for a bad choice."""
    from audiolab._errors import ConfigError
    from audiolab.cli._options import PLOT_SUFFIXES, check_output_file
    from audiolab.reports import plot_session
    from audiolab.store import ResultsStore

    check_output_file("--plot", args.plot, suffixes=PLOT_SUFFIXES)
    others = [name for name, value in (("--format", args.format), ("--out", args.out),
                                       ("--subject", args.subject)) if value is not None]
    if others:
        raise ConfigError(f"--plot cannot be combined with {', '.join(others)}; plot and "
                          "export in two commands")
    with ResultsStore(args.db, create=False) as store:
        if args.session is None:
            ids = [s.id for s in store.sessions()]
            if len(ids) != 1:
                raise ConfigError(f"--plot needs --session ID: {args.db} holds {len(ids)} "
                                  f"sessions ({', '.join(map(str, ids[:10]))})")
            session_id = ids[0]
        else:
            try:
                session_id = int(args.session)
            except ValueError:
                raise ConfigError(f"--session must be an integer, got {args.session!r}") from None
        drawn = plot_session(store, session_id, args.plot)
    print(f"drew the {drawn} of session {session_id} to {args.plot}")
    return 0
