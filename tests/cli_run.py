"""Running the ``audiolab`` command in-process for tests: exit code, stdout and stderr."""

from audiolab.cli import main


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr), also when argparse itself rejects the command."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    """True for an error message of exactly one line and no traceback."""
    return err.count("\n") == 1 and "Traceback" not in err
