"""``audiolab bench``: time the C kernels against the SciPy/NumPy code they replace."""

import argparse
import importlib
import json
import sys

from audiolab.cli._options import add_json_option, print_json, write_json

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
  audiolab bench --save-json before.json
  audiolab bench --only sos --compare before.json
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
    p.add_argument(
        "--save-json", metavar="FILE", default=None,
        help="also write the JSON of --json (machine, the kernels' CPU path, every case's "
        "figures) to FILE, for a later --compare",
    )
    p.add_argument(
        "--compare", metavar="FILE", default=None,
        help="an earlier run's --save-json FILE (or --json output): print each case's change "
        "in x real time against it (the machine is shared and noisy: under 10%% is noise)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table or JSON."""
    from audiolab.bench import CASE_MODULES, compare_results, machine_info, run_cases

    old = None if args.compare is None else _read_compare(args.compare)

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
    doc = {**machine_info(), "results": [r.as_dict() for r in results]}
    if args.save_json is not None:
        write_json(args.save_json, doc)
    if args.json:
        print_json(doc)
        if old is not None:
            print(_comparison(compare_results(old, results), old), file=sys.stderr)
        return 0
    if args.markdown:
        print(_markdown(results))
    else:
        _print_table(results, doc)
    if old is not None:
        print(_comparison(compare_results(old, results), old))
    return 0


def _read_compare(path: str) -> dict:
    """The earlier run of ``--compare FILE``, checked before the (long) run starts."""
    from audiolab._errors import ConfigError

    try:
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
    except OSError as exc:
        raise ConfigError(f"--compare {path!r} cannot be read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--compare {path!r} is not JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    if not isinstance(old, dict) or not isinstance(old.get("results"), list):
        raise ConfigError(
            f"--compare {path!r} must be the output of audiolab bench --json (an object with a "
            f"'results' list), got {type(old).__name__}"
        )
    return old


def _comparison(rows: list, old: dict) -> str:
    """The change of each case against the earlier run, one line per case."""
    lines = [
        f"change against the earlier run (its CPU path: {old.get('cpu_path', 'unknown')}; "
        "positive = faster)",
        f"{'':<4}{'was xRT':>10} {'now xRT':>10} {'change':>8}",
    ]
    for name, was, now, change in rows:
        was_s = f"{was:10.1f}" if was is not None else f"{'new case':>10}"
        change_s = f"{change:+7.1f}%" if change is not None else ""
        lines.append(name)
        lines.append(f"{'':<4}{was_s} {now:10.1f} {change_s:>8}")
    return "\n".join(lines)


def _print_table(results: list, doc: dict) -> None:
    """The results as the plain-text table."""
    header = f"{'':<4}{'ours xRT':>10} {'ref xRT':>9} {'ratio':>7}  bar"
    print(f"CPU path of the kernels: {doc['cpu_path']} ({doc['machine']}, {doc['n_cpus']} CPUs)")
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
        if "live_chains_in_half_period" in r.extra:
            print(f"{'':<4}live: {r.extra['live_chains_in_half_period']} such chains per core "
                  f"within half of a {r.extra['live_block_frames']}-frame period "
                  f"({r.extra['live_period_ms']:.2f} ms)")


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
        if "live_chains_in_half_period" in r.extra:
            bars.append(f"{r.extra['live_chains_in_half_period']} chains live per core")
        name = r.name + (f" (vs {r.reference_name})" if r.reference_name else "")
        lines.append(f"| {name} | {r.ours_x_real_time:.0f} | {ref} | {ratio} | {', '.join(bars)} |")
    return "\n".join(lines)
