"""``audiolab fit``: prescribe hearing-aid gains for an audiogram, plot them, write a chain."""

import argparse
from typing import Any

from audiolab.cli._options import (
    PLOT_SUFFIXES,
    add_json_option,
    add_plot_option,
    check_output_file,
    message_stream,
    named_as_options,
    print_result,
)

HELP = "fit a hearing aid to an audiogram (NAL-R, half-gain, POGO)"
DESCRIPTION = """\
Prescribe the insertion gain of a hearing aid for both ears of an audiogram and report the
unaided and aided SII (ANSI S3.5-1997, one-third-octave procedure) of standard speech at 65 dB
SPL in quiet.

AUDIOGRAM is a preset (N1..N7, S1..S3: Bisgaard et al. 2010) or a file: audiolab JSON
{"left": {"frequencies_hz": [...], "thresholds_db_hl": [...]}, "right": {...}}, a Clarity
listener JSON (PATH#ID picks one listener of a listeners.json) or a CSV with the columns
frequency_hz,left_db_hl,right_db_hl.

examples:
  audiolab fit N3 --rule nal-r
  audiolab fit my_listener.csv --rule pogo --json
  audiolab fit S2 --plot fit.png --write-chain s2.toml
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab fit``."""
    # Choices and numbers are checked in run() so a bad value gives one line, not usage + error.
    p.add_argument("audiogram", metavar="AUDIOGRAM", help="preset name or audiogram file")
    p.add_argument(
        "--rule", default="nal-r", metavar="{nal-r,half-gain,pogo}",
        help="prescription rule (default nal-r)",
    )
    p.add_argument(
        "--compression", default="wdrc", metavar="{linear,wdrc}",
        help="wdrc: multiband compression (default); linear: frequency-shaped gain only",
    )
    p.add_argument("--attack-ms", default=None, metavar="A",
                   help="ANSI S3.22 attack time of a wdrc fit in ms, (0, 500] (default 5)")
    p.add_argument("--release-ms", default=None, metavar="R",
                   help="ANSI S3.22 release time of a wdrc fit in ms, (0, 5000] (default 50)")
    add_json_option(p)
    add_plot_option(p, what="audiogram, targets and realised gains")
    p.add_argument("--write-chain", metavar="CHAIN.toml", default=None,
                   help="write a chain file with the fitted hearing aid (for process, verify, "
                   "live)")


def _number(name: str, text: str | None) -> float | None:
    from audiolab._errors import ConfigError

    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of milliseconds, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Fit, then print (table or JSON), plot and write the chain as asked."""
    from audiolab._errors import ConfigError
    from audiolab.models._fitting import fit_hearing_aid

    check_output_file("--plot", args.plot, suffixes=PLOT_SUFFIXES)
    check_output_file("--write-chain", args.write_chain)
    if args.compression == "linear" and (args.attack_ms, args.release_ms) != (None, None):
        raise ConfigError(
            "--attack-ms and --release-ms apply to compressive fits only; drop them or use "
            "--compression wdrc"
        )
    try:
        fit = fit_hearing_aid(
            args.audiogram,
            rule=args.rule,
            compression=args.compression,
            attack_ms=_number("--attack-ms", args.attack_ms),
            release_ms=_number("--release-ms", args.release_ms),
        )
    except ConfigError as exc:
        raise named_as_options(exc, ("rule", "compression", "attack_ms", "release_ms")) from None
    if args.write_chain:
        path = write_chain_file(fit, args.write_chain)
        print(f"wrote {path}", file=message_stream(args))
    if args.plot:
        plot_fit(fit, args.plot)
        print(f"wrote {args.plot}", file=message_stream(args))
    print_result(args, fit.to_json_dict(), lambda: _print_table(fit))
    return 0


def write_chain_file(fit: Any, path: str) -> str:
    """Write the chain file (INTERFACES.md format) holding the fitted hearing aid."""
    from pathlib import Path

    import tomli_w

    text = "# audiolab chain\n" + tomli_w.dumps({"stage": [fit.chain_table()]})
    out = Path(path)
    out.write_text(text, encoding="utf-8")
    return str(out)


def _print_table(fit: Any) -> None:
    from audiolab.audiology import RULE_SOURCES

    ag = fit.audiogram
    print(f"audiogram {ag.name}, rule {fit.rule} ({RULE_SOURCES[fit.rule]}), "
          f"compression {fit.compression}")
    for side in ("left", "right"):
        e = fit.ear(side)
        hl = ag.ear(side).thresholds_db_hl
        print(f"\n{side} ear")
        print(f"  {'frequency_hz':>12} {'threshold_db_hl':>16} {'insertion_gain_db':>18}")
        for f, h, g in zip(e.frequencies_hz, hl, e.insertion_gain_db, strict=True):
            print(f"  {f:12g} {h:16g} {g:18.1f}")
        print(f"  SII, standard speech at 65 dB SPL in quiet: unaided {e.sii_unaided:.3f}, "
              f"aided {e.sii_aided:.3f}")


def plot_fit(fit: Any, path: str) -> None:
    """Audiogram (top) and target / realised insertion gain (bottom) for both ears."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import NullFormatter

    from audiolab.audiology import prescribe
    from audiolab.models._fitting import realised_gain_db

    ag = fit.audiogram
    dense = np.geomspace(125, 8000, 200)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, constrained_layout=True)
    colours = {"left": "tab:blue", "right": "tab:red"}  # audiology convention: left blue, right red
    markers = {"left": "x", "right": "o"}
    for col, side in enumerate(("left", "right")):
        ear, e = ag.ear(side), fit.ear(side)
        top, bottom = axes[0, col], axes[1, col]
        top.plot(ear.frequencies_hz, ear.thresholds_db_hl, marker=markers[side],
                 color=colours[side], label="air conduction")
        if ear.bone_frequencies_hz is not None:
            top.plot(ear.bone_frequencies_hz, ear.bone_thresholds_db_hl, ls="none", marker=">",
                     color=colours[side], label="bone conduction")
        top.set_ylim(120, -10)
        top.set_ylabel("threshold (dB HL)")
        top.set_title(f"{side} ear")
        top.grid(True, which="both", alpha=0.3)
        top.legend(loc="lower left", fontsize="small")
        bottom.plot(dense, prescribe(ear, fit.rule, dense), color="0.5", lw=1,
                    label=f"{fit.rule} target")
        bottom.plot(e.frequencies_hz, e.insertion_gain_db, ls="none", marker=markers[side],
                    color=colours[side], label="target at audiogram frequencies")
        realised = realised_gain_db(fit, side, dense)
        if realised is not None:
            bottom.plot(dense, realised, color=colours[side], ls="--",
                        label="realised, 65 dB SPL speech")
        bands = e.extra.get("compression", {}).get("bands")
        if bands:  # wdrc: realised gains for pure tones at each band's centre
            for level, style in (("50", ":"), ("80", "-.")):
                bottom.plot(bands["center_frequencies_hz"], bands[f"gain_{level}_db_spl_db"],
                            color=colours[side], ls=style, lw=1,
                            label=f"realised, {level} dB SPL tones")
        bottom.set_ylabel("insertion gain (dB)")
        bottom.set_xlabel("frequency (Hz)")
        bottom.grid(True, which="both", alpha=0.3)
        bottom.legend(loc="upper left", fontsize="small")
        bottom.text(0.98, 0.04, f"SII 65 dB SPL speech: {e.sii_unaided:.2f} -> {e.sii_aided:.2f}",
                    transform=bottom.transAxes, ha="right", fontsize="small")
    for ax in axes.flat:
        ax.set_xscale("log")
        ax.set_xticks([125, 250, 500, 1000, 2000, 4000, 8000])
        ax.set_xticklabels(["125", "250", "500", "1k", "2k", "4k", "8k"])
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.suptitle(f"audiolab fit: {ag.name}, {fit.rule}, {fit.compression}")
    fig.savefig(path, dpi=100)
    plt.close(fig)
