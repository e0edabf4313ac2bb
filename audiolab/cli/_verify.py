"""``audiolab verify``: an ANSI S3.22-style test-box battery on a chain."""

import argparse
from typing import Any

from audiolab.cli._options import (
    PLOT_SUFFIXES,
    add_json_option,
    add_plot_option,
    check_output_file,
    message_stream,
    print_result,
)

HELP = "measure a chain like a hearing-aid test box (ANSI S3.22)"
DESCRIPTION = """\
Run an ANSI S3.22-style battery on a chain file, with calibrated pure tones presented as one
channel (the left ear, or the ear a hearing-aid stage names): OSPL90 curve, full-on gain,
frequency response, input/output curve at 2 kHz (50-90 dB SPL), attack and release times
(2 kHz, 55 <-> 90 dB SPL), equivalent input noise, harmonic distortion at 500/800/1600 Hz, and
the unaided and aided SII (ANSI S3.5-1997) when the chain holds a hearing aid. The declared
settings of a hearing-aid stage are shown beside what was measured.

examples:
  audiolab fit N3 --write-chain n3.toml && audiolab verify n3.toml
  audiolab verify n3.toml --json
  audiolab verify n3.toml --plot n3_verify.png
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab verify``."""
    p.add_argument("chain", metavar="CHAIN", help="chain file (TOML)")
    add_json_option(p)
    add_plot_option(p, what="OSPL90, gains, frequency response and the I/O curve")


def run(args: argparse.Namespace) -> int:
    """Build the chain, measure, print (table or JSON) and plot."""
    from audiolab.reports._verify import verify_chain_file

    check_output_file("--plot", args.plot, suffixes=PLOT_SUFFIXES)
    report = verify_chain_file(args.chain)
    if args.plot:
        plot_report(report, args.plot)
        print(f"wrote {args.plot}", file=message_stream(args))
    print_result(args, report.to_json_dict(), lambda: _print_report(report))
    return 0


def _print_report(r: Any) -> None:
    print(f"audiolab verify (ANSI S3.22-style), fs {r.fs:g} Hz, latency {r.latency_ms:.2f} ms")
    print(f"  HFA-OSPL90 {r.hfa_ospl90_db_spl:.1f} dB SPL, max OSPL90 {r.max_ospl90_db_spl:.1f} "
          f"dB SPL; HFA full-on gain {r.hfa_full_on_gain_db:.1f} dB")
    print(f"  {'frequency_hz':>12} {'ospl90_db_spl':>14} {'full_on_gain_db':>16} "
          f"{'response_60_db':>15}")
    for f, o, g, resp in zip(r.frequencies_hz, r.ospl90_db_spl, r.full_on_gain_db,
                             r.frequency_response_db, strict=True):
        print(f"  {f:12g} {o:14.1f} {g:16.1f} {resp:15.1f}")
    print("  input/output at 2 kHz: " + ", ".join(
        f"{i:g}->{o:.1f}" for i, o in zip(r.io_input_db_spl, r.io_output_db_spl, strict=True)))
    print(f"  {_attack_release(r)}")
    ein = r.equivalent_input_noise_db_spl
    print("  equivalent input noise: " + ("none (the chain adds no noise)" if ein is None
                                          else f"{ein:.1f} dB SPL"))
    print("  THD at 70 dB SPL: " + ", ".join(f"{f} Hz {v:.2f} %" for f, v in r.thd_percent.items()))
    if r.sii:
        print(f"  SII ({r.sii['ear']} ear, speech 65 dB SPL in quiet): unaided "
              f"{r.sii['unaided']:.3f}, aided {r.sii['aided']:.3f}")
    if r.declared:
        print("  declared by the chain: " + ", ".join(
            f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in r.declared.items() if v is not None and not isinstance(v, list | dict)))


def _attack_release(r: Any) -> str:
    if r.attack_ms is None or r.release_ms is None:
        return "attack and release: not measurable, the output level never settles (ANSI S3.22)"
    return f"attack {r.attack_ms:.1f} ms, release {r.release_ms:.1f} ms (ANSI S3.22, 2 kHz)"


def plot_report(r: Any, path: str) -> None:
    """OSPL90, full-on gain and response (left); I/O at 2 kHz (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, (ax_f, ax_io) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    ax_f.plot(r.frequencies_hz, r.ospl90_db_spl, marker="o", label="OSPL90 (dB SPL)")
    ax_f.plot(r.frequencies_hz, r.full_on_gain_db, marker="s", label="full-on gain, 50 dB in (dB)")
    ax_f.plot(r.frequencies_hz, r.frequency_response_db, marker="^",
              label="gain, 60 dB in (dB)")
    ax_f.set_xscale("log")
    ax_f.set_xticks([250, 500, 1000, 2000, 4000, 8000])
    ax_f.set_xticklabels(["250", "500", "1k", "2k", "4k", "8k"])
    ax_f.xaxis.set_minor_formatter(NullFormatter())
    ax_f.set_xlabel("frequency (Hz)")
    ax_f.grid(True, which="both", alpha=0.3)
    ax_f.legend(fontsize="small")
    ax_io.plot(r.io_input_db_spl, r.io_output_db_spl, marker="o", label="measured")
    ax_io.plot(r.io_input_db_spl, r.io_input_db_spl, color="0.6", ls=":", label="0 dB gain")
    ax_io.set_xlabel("input at 2 kHz (dB SPL)")
    ax_io.set_ylabel("output (dB SPL)")
    ax_io.grid(True, alpha=0.3)
    text = _attack_release(r)
    if r.sii:
        text += f"\nSII 65 dB speech: {r.sii['unaided']:.2f} -> {r.sii['aided']:.2f}"
    ax_io.text(0.03, 0.97, text, transform=ax_io.transAxes, va="top", fontsize="small")
    ax_io.legend(loc="lower right", fontsize="small")
    fig.suptitle("audiolab verify (ANSI S3.22-style test box)")
    fig.savefig(path, dpi=100)
    plt.close(fig)
