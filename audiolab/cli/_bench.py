"""``audiolab bench``: time the C kernels against the SciPy/NumPy code they replace."""

import argparse
import importlib
import platform
import sys

from audiolab.cli._options import add_json_option, print_json

HELP = "time the C kernels against the SciPy/NumPy code they replace"
DESCRIPTION = """\
Time audiolab's kernels and, in the same run, the equivalent code a user would otherwise write
with SciPy/NumPy, on one core (BLAS single-threaded). Prints seconds of audio processed per
second ("x real time") for both and their ratio, beside the quality bar where one is set.
Takes under a minute (--quick: about 15 s); timings vary with the load.

examples:
  audiolab bench
  audiolab bench --quick --only gammatone
  audiolab bench --json > bench.json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab bench``."""
    out = p.add_mutually_exclusive_group()
    add_json_option(out)
    out.add_argument(
        "--markdown", action="store_true", help="print the results as a Markdown table"
    )
    p.add_argument(
        "--quick", action="store_true", help="shorter signals and fewer repeats (a smoke run)"
    )
    p.add_argument(
        "--only", metavar="TEXT", default=None,
        help="run only the cases whose name contains TEXT (case-insensitive)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table or JSON."""
    from audiolab import __version__
    from audiolab.bench import CASE_MODULES, run_cases

    cases = []
    for name in CASE_MODULES:
        cases.extend(importlib.import_module(name).cases(quick=args.quick))
    if args.only:
        chosen = [c for c in cases if args.only.lower() in c.name.lower()]
        if not chosen:
            from audiolab._errors import ConfigError

            raise ConfigError(
                f"--only {args.only!r} matches no case; the cases are: "
                + "; ".join(c.name for c in cases)
            )
        cases = chosen

    def progress(name: str) -> None:
        print(f"  timing {name} ...", file=sys.stderr, flush=True)

    results = run_cases(cases, budget_s=0.2 if args.quick else 0.5, progress=progress)
    if args.json:
        doc = {
            "audiolab_version": __version__,
            "machine": platform.machine(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "results": [r.as_dict() for r in results],
        }
        print_json(doc)
        return 0
    if args.markdown:
        print(_markdown(results))
        return 0
    header = f"{'':<4}{'ours xRT':>10} {'ref xRT':>9} {'ratio':>7}  bar"
    print("xRT = seconds of audio processed per second, one core; ratio = ours / reference")
    print(header)
    print("-" * 60)
    for r in results:
        ref = "" if r.reference_x_real_time is None else f"{r.reference_x_real_time:9.1f}"
        ratio = "" if r.ratio is None else f"{r.ratio:6.1f}x"
        bars = []
        if r.target_ratio is not None:
            ok = r.ratio is not None and r.ratio >= r.target_ratio
            bars.append(f">={r.target_ratio:g}x {'ok' if ok else 'MISSED'}")
        if r.target_x_real_time is not None:
            ok = r.ours_x_real_time >= r.target_x_real_time
            bars.append(f">={r.target_x_real_time:g} xRT {'ok' if ok else 'MISSED'}")
        print(r.name)
        print(f"{'':<4}{r.ours_x_real_time:10.1f} {ref:>9} {ratio:>7}  {', '.join(bars)}")
        if r.reference_name:
            print(f"{'':<4}reference: {r.reference_name}")
    return 0


def _markdown(results: list) -> str:
    """The results as a Markdown table (for the README)."""
    lines = [
        "| case | audiolab (x real time) | reference (x real time) | ratio | bar |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        ref = "" if r.reference_x_real_time is None else f"{r.reference_x_real_time:.0f}"
        ratio = "" if r.ratio is None else f"{r.ratio:.1f}x"
        bars = []
        if r.target_ratio is not None:
            bars.append(f">= {r.target_ratio:g}x")
        if r.target_x_real_time is not None:
            bars.append(f">= {r.target_x_real_time:g} x real time")
        name = r.name + (f" (vs {r.reference_name})" if r.reference_name else "")
        lines.append(f"| {name} | {r.ours_x_real_time:.0f} | {ref} | {ratio} | {', '.join(bars)} |")
    return "\n".join(lines)
