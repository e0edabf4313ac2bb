"""``audiolab latency``: measured output -> input round trip beside the chain's own latency."""

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from audiolab.cli._options import (
    add_blocksize_option,
    add_device_option,
    add_json_option,
    blocksize_from,
    message_stream,
    print_result,
)

if TYPE_CHECKING:
    import numpy as np

    from audiolab.cli._engine_setup import DeviceSetup
    from audiolab.engine import Engine
    from audiolab.engine._stream import JackMonitor

HELP = "measure the output->input round-trip latency with a loopback (JACK or a cable)"
DESCRIPTION = """\
Play a short chirp on an output channel, record it on an input channel through a loopback, and
report the round trip (cross-correlation peak) beside the chain's algorithmic latency. Under JACK
the loopback is a JACK connection from our output port to our input port (made and removed
here); with a sound card, connect the output to the input with a cable first.

example:
  audiolab latency --chain hearing-aid.toml --json
"""

CHIRP_FRAMES = 2048
CHIRP_DBFS = -30.0  # well under the uncalibrated ceiling (-20 dBFS)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab latency``."""
    add_device_option(p)
    add_blocksize_option(p)
    p.add_argument("--chain", metavar="CHAIN.toml", default=None,
                   help="report this chain's algorithmic latency beside the round trip")
    p.add_argument("--output-channel", type=int, default=0, metavar="K",
                   help="output channel that plays the chirp, from 0 (default 0)")
    p.add_argument("--input-channel", type=int, default=0, metavar="K",
                   help="input channel that records it through the loopback, from 0 (default 0)")
    p.add_argument("--repeats", type=int, default=5, metavar="N",
                   help="measurements, N >= 1; the median is reported (default 5)")
    add_json_option(p)


def _chirp(fs: float) -> "np.ndarray":
    """A Hann-windowed linear chirp, 300 Hz to 8 kHz (at most 0.4 fs), peak at CHIRP_DBFS."""
    import numpy as np

    from audiolab.dsp import db_to_amplitude

    t = np.arange(CHIRP_FRAMES) / fs
    f0, f1 = 300.0, min(8000.0, 0.4 * fs)
    dur = CHIRP_FRAMES / fs
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t)
    return np.sin(phase) * np.hanning(CHIRP_FRAMES) * db_to_amplitude(CHIRP_DBFS)


def _loopback_engine(args: argparse.Namespace, setup: "DeviceSetup") -> "Engine":
    """An uncalibrated engine with the channels up to the chosen ones, input not to output."""
    from audiolab._validate import check_int
    from audiolab.calibration import Calibration
    from audiolab.engine import Engine

    check_int("--output-channel", args.output_channel, low=0, high=setup.n_outputs - 1)
    check_int("--input-channel", args.input_channel, low=0, high=setup.n_inputs - 1)
    n_out, n_in = args.output_channel + 1, args.input_channel + 1
    engine = Engine(fs=setup.fs, n_inputs=n_in, n_outputs=n_out,
                    calibration=Calibration.uncalibrated_mode(n_out),
                    max_block_frames=max(4096, setup.block_frames))
    # Nothing from the input reaches the output: a loopback must not become a feedback loop.
    engine.configure(None, input_channels=[-1] * n_out)
    return engine


@contextmanager
def _jack_loopback(
    jack: "JackMonitor | None", before: set[str], *, output_channel: int, input_channel: int
) -> Iterator[None]:
    """Under JACK, connect our output port to our input port alone; restore afterwards.

    ``before`` is the set of JACK ports before our stream started (ours are the new ones).
    Without JACK the loopback is a cable, and nothing is done here.
    """
    from audiolab._errors import AudioDeviceError

    if jack is None:
        yield
        return
    restore: list[tuple[str, str]] = []
    made: list[tuple[str, str]] = []
    try:
        ins, outs = jack.stream_ports(before)
        if len(ins) <= input_channel or len(outs) <= output_channel:
            raise AudioDeviceError(f"cannot find this stream's JACK ports: {ins + outs}")
        out_port, in_port = outs[output_channel], ins[input_channel]
        for src in jack.connections(in_port):
            jack.disconnect(src, in_port)
            restore.append((src, in_port))
        jack.connect(out_port, in_port)
        made.append((out_port, in_port))
        yield
    finally:
        if jack.shutdown_reason is None:
            for a, b in made:
                jack.disconnect(a, b)
            for a, b in restore:
                jack.connect(a, b)


def _round_trip_frames(
    args: argparse.Namespace, engine: "Engine", setup: "DeviceSetup", chirp: "np.ndarray"
) -> int:
    """Play the chirp once and find it in the input: frames from output to input."""
    import numpy as np

    from audiolab._errors import AudioDeviceError

    stim = (chirp * engine.ceiling.pa_per_digital[args.output_channel]).astype(np.float32)
    engine.poll()
    start = engine.frame + int(0.1 * setup.fs)
    pb = engine.play(stim, channels=[args.output_channel], start_frame=start)
    engine.wait(pb, timeout_s=5.0)
    time.sleep(0.1 + 4 * setup.block_frames / setup.fs)
    rec, first = engine.recording("input")
    x = rec[args.input_channel].astype(np.float64)
    if first < 0 or x.size < CHIRP_FRAMES:
        raise AudioDeviceError("no input was recorded")
    xc = np.correlate(x, chirp, mode="valid")
    k = int(np.argmax(np.abs(xc)))
    # A loopback returns the chirp at full strength: its correlation is near its energy.
    if abs(xc[k]) < 0.1 * float(np.sum(chirp * chirp)):
        raise AudioDeviceError(
            f"no loopback signal on input {args.input_channel}: connect output "
            f"{args.output_channel} to it (a cable, or a JACK connection)"
        )
    assert pb.start_frame is not None
    return int(first + k - pb.start_frame)


def _measure(args: argparse.Namespace, engine: "Engine", setup: "DeviceSetup") -> list[int]:
    """Start the stream, make the loopback, measure ``--repeats`` round trips, stop."""
    chirp = _chirp(setup.fs)
    before = set(setup.jack.ports()) if setup.jack else set()
    engine.record(input=True)
    engine.start(device=setup.output_device, input_device=setup.input_device,
                 block_frames=setup.block_frames)
    try:
        with _jack_loopback(setup.jack, before, output_channel=args.output_channel,
                            input_channel=args.input_channel):
            return [_round_trip_frames(args, engine, setup, chirp) for _ in range(args.repeats)]
    finally:
        engine.stop()


def _result(
    args: argparse.Namespace, engine: "Engine", setup: "DeviceSetup", lags: list[int],
    chain_latency: int,
) -> dict[str, Any]:
    """The measured round trip (median of the repeats) beside the chain's latency."""
    import numpy as np

    rt = int(np.median(lags))
    return {
        "method": "jack-loopback" if setup.jack is not None else "external-loopback",
        "device": setup.describe(),
        "fs": setup.fs,
        "block_frames": setup.block_frames,
        "round_trip_frames": rt,
        "round_trip_ms": 1000 * rt / setup.fs,
        "round_trip_periods": rt / setup.block_frames,
        "repeats_frames": lags,
        "chain": args.chain,
        "chain_latency_samples": int(chain_latency),
        "chain_latency_ms": 1000 * chain_latency / setup.fs,
        "total_latency_frames": rt + int(chain_latency),
        "total_latency_ms": 1000 * (rt + chain_latency) / setup.fs,
        "portaudio_reported_latency_s": engine.stream_latency_s,
    }


def run(args: argparse.Namespace) -> int:
    """Measure and print the latency."""
    from audiolab._validate import check_int
    from audiolab.cli._engine_setup import device_setup

    check_int("--repeats", args.repeats, low=1)
    spec = None
    if args.chain:
        from audiolab.models import load_chain

        spec = load_chain(args.chain)
    setup = device_setup(args.device, want_inputs=True, max_outputs=None,
                         block_frames=blocksize_from(args))
    try:
        chain_latency = 0
        if spec is not None:
            from audiolab.models import build_chain

            chain_latency = build_chain(spec, fs=setup.fs).latency_samples
        engine = _loopback_engine(args, setup)
        lags = _measure(args, engine, setup)
        r = _result(args, engine, setup, lags, chain_latency)
        print_result(args, r, lambda: print(
            f"round trip {r['round_trip_frames']} frames = {r['round_trip_ms']:.2f} ms "
            f"({r['round_trip_periods']:g} periods of {setup.block_frames}) via {r['method']}; "
            f"chain latency {chain_latency} samples ({r['chain_latency_ms']:.2f} ms); "
            f"total {r['total_latency_ms']:.2f} ms"))
        if len(set(lags)) > 1:
            print(f"note: the repeats disagree: {lags}", flush=True, file=message_stream(args))
        return 0
    finally:
        setup.close()
