"""``audiolab live``: run a chain live through the calibrated C engine, with meters and stats."""

import argparse
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from audiolab.cli._options import (
    DEFAULT_FULL_SCALE_DB_SPL,
    FULL_SCALE_DB_SPL_RANGE,
    add_blocksize_option,
    add_calibration_options,
    add_device_option,
    add_level_option,
    add_record_option,
    blocksize_from,
    check_output_file,
    choose_calibration_from,
    level_db_spl_from,
    require_calibration,
    write_json,
)

if TYPE_CHECKING:
    from audiolab.cli._engine_setup import DeviceSetup, Recorder
    from audiolab.engine import Engine

HELP = "run a chain live (C audio callback) with calibration, safety ceiling and meters"
DESCRIPTION = """\
Run a processing chain live: device input (or a noise, tone or file source) -> chain -> output
calibration -> safety ceiling -> device output. The audio callback is C; Python only polls the
meters. Nothing plays without --calibration FILE or the explicit --uncalibrated mode (ceiling
-20 dBFS). A generated or file source is checked against the ceiling before playback.

example:
  audiolab live --chain hearing-aid.toml --calibration calibration/lab1.toml \\
      --source noise --level-db-spl 65 --duration 60 --stats-json live-stats.json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab live``."""
    p.add_argument("--chain", metavar="CHAIN.toml", default=None,
                   help="chain file (default: no processing)")
    add_calibration_options(p)
    add_device_option(p)
    p.add_argument("--source", default="input",
                   help="input (the device's inputs), noise (white, seeded), tone:FREQ (a sine "
                        "of FREQ Hz) or file:PATH (a sound file, looped) (default input)")
    add_level_option(p, default=65.0, default_text="65; sets a noise, tone or file source")
    lo, hi = FULL_SCALE_DB_SPL_RANGE
    p.add_argument("--input-full-scale-db-spl", type=float,
                   default=DEFAULT_FULL_SCALE_DB_SPL, metavar="X",
                   help=f"a full-scale sine at the device input stands for X dB SPL, X in "
                        f"[{lo:g}, {hi:g}] (default {DEFAULT_FULL_SCALE_DB_SPL:g})")
    add_record_option(p)
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="seconds to run, > 0 (default: until Ctrl-C)")
    add_blocksize_option(p)
    p.add_argument("--stats-json", metavar="FILE", default=None,
                   help="write callback statistics (timing, xruns, levels) as JSON")
    p.add_argument("--gil-hog", action="store_true",
                   help="stress test: a Python thread holds the GIL 50 ms at a time")
    p.add_argument("--quiet", action="store_true", help="no meter lines")


@contextmanager
def _gil_hog(on: bool) -> Iterator[None]:
    """Stress test while the block runs: a Python thread that holds the GIL 50 ms at a time.

    The audio callback is C and must not notice; the switch interval is restored afterwards.
    """
    if not on:
        yield
        return
    before = sys.getswitchinterval()
    stop = threading.Event()

    def hog() -> None:
        while not stop.is_set():
            sum(i * i for i in range(20000))

    sys.setswitchinterval(0.05)
    thread = threading.Thread(target=hog, daemon=True, name="audiolab-gil-hog")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(before)


def _check_options(args: argparse.Namespace) -> tuple[str, Any]:
    """Refuse bad options before any device is touched; returns the parsed ``--source``."""
    from audiolab._validate import check_real
    from audiolab.cli._engine_setup import parse_source

    kind, arg = parse_source(args.source)
    require_calibration(args)
    if args.duration is not None:
        check_real("--duration", args.duration, low=0, low_open=True)
    level_db_spl_from(args)
    check_real("--input-full-scale-db-spl", args.input_full_scale_db_spl,
               low=FULL_SCALE_DB_SPL_RANGE[0], high=FULL_SCALE_DB_SPL_RANGE[1])
    blocksize_from(args)
    check_output_file("--record", args.record)
    check_output_file("--stats-json", args.stats_json)
    return kind, arg


def _open_device(args: argparse.Namespace, kind: str, spec: Any) -> "tuple[DeviceSetup, Any]":
    """The device set-up and the calibration file's Calibration (None when uncalibrated)."""
    from audiolab.cli._engine_setup import device_setup

    cal = n_outputs = None
    if args.calibration:
        cal = choose_calibration_from(args, n_outputs=1)
        n_outputs = max(c.index for c in cal.channels) + 1
    setup = device_setup(
        args.device, want_inputs=(kind == "input"), max_outputs=n_outputs,
        block_frames=blocksize_from(args), fs=None if spec is None else spec.fs,
    )
    return setup, cal


def _build_engine(
    args: argparse.Namespace, setup: "DeviceSetup", spec: Any, cal: Any, kind: str
) -> "tuple[Engine, Any, Any]":
    """The engine (not started), the chain it runs and the calibration it runs with."""
    from audiolab._errors import AudioDeviceError
    from audiolab.engine import Engine
    from audiolab.models import build_chain

    if cal is None:  # the uncalibrated mode: the first two outputs at most
        setup.n_outputs = min(setup.n_outputs, 2)
        setup.n_inputs = min(setup.n_inputs, setup.n_outputs)
        cal = choose_calibration_from(args, n_outputs=setup.n_outputs)
    if kind == "input" and setup.n_inputs < 1:
        raise AudioDeviceError(f"device {setup.name!r} has no inputs for --source input")
    chain = None if spec is None else build_chain(spec, fs=setup.fs)
    engine = Engine(
        fs=setup.fs, n_inputs=setup.n_inputs, n_outputs=setup.n_outputs, calibration=cal,
        input_full_scale_db_spl=args.input_full_scale_db_spl,
        max_block_frames=max(4096, setup.block_frames),
    )
    return engine, chain, cal


def _configure(
    args: argparse.Namespace, engine: "Engine", setup: "DeviceSetup", spec: Any, chain: Any,
    source: tuple[str, Any],
) -> None:
    """Give the engine its chain and source; a source too loud for the ceiling is refused."""
    from audiolab.cli._engine_setup import make_source
    from audiolab.models import build_chain

    kind, arg = source
    source_pa = None
    if kind != "input":
        source_pa = make_source(kind, arg, fs=setup.fs, n_channels=setup.n_outputs,
                                level_db_spl=args.level_db_spl)
        # Planned level: what a fresh chain makes of this source, refused above the ceiling.
        planned = source_pa if spec is None else build_chain(spec, fs=setup.fs).process(source_pa)
        engine.ceiling.check_signal_pa(planned, list(range(setup.n_outputs)),
                                       what=f"the chain output for --source {args.source}")
    engine.configure(chain, source_pa=source_pa)


def _meter_line(engine: "Engine", elapsed_s: float) -> str:
    """Each output's RMS and peak level over the last second."""
    rms, peak = engine.stats.meters(last_s=1.0)
    levels = "  ".join(f"ch{i}: {r:5.1f} dB SPL rms, {p:5.1f} peak"
                       for i, (r, p) in enumerate(zip(rms, peak, strict=True)))
    return f"[{elapsed_s:6.1f} s] {levels}"


def _stream(
    args: argparse.Namespace, engine: "Engine", setup: "DeviceSetup", cal: Any,
    recorder: "Recorder | None",
) -> float:
    """Start the stream, poll it until --duration or Ctrl-C, stop it; returns when it started."""
    with _gil_hog(args.gil_hog):
        engine.start(device=setup.output_device, input_device=setup.input_device,
                     block_frames=setup.block_frames)
        try:
            t0 = time.monotonic()
            next_meter = t0 + 1.0
            if not args.quiet:
                print(f"audiolab live: {setup.name} ({setup.host_api}), {setup.fs:g} Hz, "
                      f"{setup.block_frames} frames/block, calibration {cal.source}; Ctrl-C "
                      "stops", file=sys.stderr)
            try:
                while args.duration is None or time.monotonic() - t0 < args.duration:
                    time.sleep(0.02)
                    engine.poll()
                    if recorder is not None:
                        recorder.drain()
                    if not args.quiet and time.monotonic() >= next_meter:
                        next_meter += 1.0
                        print(_meter_line(engine, time.monotonic() - t0), file=sys.stderr)
            except KeyboardInterrupt:
                pass
            return t0
        finally:
            engine.stop()


def _stats(
    args: argparse.Namespace, engine: "Engine", setup: "DeviceSetup", chain: Any,
    *, source_kind: str, t0: float, xruns0: int,
) -> dict[str, Any]:
    """The engine's statistics with the run's settings; xruns counted by JACK where it runs."""
    stats = engine.summary()
    stats["portaudio_xrun_flags"] = stats["xruns"]
    if setup.jack is not None:
        stats["xruns"] = setup.jack.count() - xruns0
        stats["xrun_source"] = "jack"
    stats.update({
        "duration_s": time.monotonic() - t0,
        "device": setup.describe(),
        "chain": args.chain,
        "chain_latency_samples": chain.latency_samples if chain is not None else 0,
        "source": args.source,
        "level_db_spl": None if source_kind == "input" else args.level_db_spl,
        "gil_hog": bool(args.gil_hog),
    })
    return stats


def _summary_line(stats: dict[str, Any]) -> str:
    c = stats["callback_us"]
    return (
        f"callbacks {stats['callbacks']}/{stats['expected_callbacks']} expected, "
        f"xruns {stats['xruns']} ({stats['xrun_source']}), overruns {stats['overruns']}, "
        f"callback p99.9 {c['p999']:.0f} us of {stats['period_us']:.0f} us, "
        f"non-finite {stats['nonfinite_samples']}, limited {stats['limited_samples']}, "
        "max output "
        + ", ".join("-" if v is None else f"{v:.1f}" for v in stats["max_output_db_spl"])
        + " dB SPL"
    )


def run(args: argparse.Namespace) -> int:
    """Run the live engine until --duration or Ctrl-C."""
    from audiolab.cli._engine_setup import recording

    source = _check_options(args)
    spec = None
    if args.chain:
        from audiolab.models import load_chain

        spec = load_chain(args.chain)
    setup, cal = _open_device(args, source[0], spec)
    try:
        engine, chain, cal = _build_engine(args, setup, spec, cal, source[0])
        _configure(args, engine, setup, spec, chain, source)
        with recording(engine, args.record, fs=setup.fs, n_channels=setup.n_outputs) as rec:
            xruns0 = setup.jack.count() if setup.jack else 0
            t0 = _stream(args, engine, setup, cal, rec)
            stats = _stats(args, engine, setup, chain, source_kind=source[0], t0=t0,
                           xruns0=xruns0)
            if rec is not None:
                rec.finish(stats)
        if args.stats_json:
            write_json(args.stats_json, stats)
        print(_summary_line(stats))
        return 0
    finally:
        setup.close()
