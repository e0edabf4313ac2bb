"""``audiolab latency``: measured output -> input round trip beside the chain's own latency."""

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

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
    p.add_argument("--device", default=None, help="device index or part of its name")
    p.add_argument("--blocksize", type=int, default=None, metavar="N",
                   help="frames per callback (default: the JACK period, else 256)")
    p.add_argument("--chain", metavar="CHAIN.toml", default=None,
                   help="report this chain's algorithmic latency beside the round trip")
    p.add_argument("--output-channel", type=int, default=0)
    p.add_argument("--input-channel", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5, help="measurements (default 5)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _chirp(fs: float) -> "np.ndarray":
    import numpy as np

    t = np.arange(CHIRP_FRAMES) / fs
    f0, f1 = 300.0, min(8000.0, 0.4 * fs)
    dur = CHIRP_FRAMES / fs
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t)
    return np.sin(phase) * np.hanning(CHIRP_FRAMES) * 10 ** (CHIRP_DBFS / 20)


def run(args: argparse.Namespace) -> int:
    """Measure and print the latency."""
    import json
    import time

    import numpy as np

    from audiolab._errors import AudioDeviceError, ConfigError
    from audiolab.calibration import Calibration
    from audiolab.cli._engine_setup import device_setup
    from audiolab.engine import Engine

    if args.repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {args.repeats}")
    chain_latency = 0
    if args.chain:
        from audiolab.models import build_chain, load_chain

        spec = load_chain(args.chain)
    setup = device_setup(args.device, want_inputs=True, max_outputs=None,
                         block_frames=args.blocksize)
    try:
        if args.chain:
            chain_latency = build_chain(spec, fs=setup.fs).latency_samples
        n_out, n_in = args.output_channel + 1, args.input_channel + 1
        if args.output_channel < 0 or n_out > setup.n_outputs:
            raise ConfigError(f"--output-channel must be in [0, {setup.n_outputs - 1}]")
        if args.input_channel < 0 or n_in > setup.n_inputs:
            raise ConfigError(f"--input-channel must be in [0, {max(setup.n_inputs - 1, 0)}]")
        engine = Engine(fs=setup.fs, n_inputs=n_in, n_outputs=n_out,
                        calibration=Calibration.uncalibrated_mode(n_out),
                        max_block_frames=max(4096, setup.block_frames))
        # Nothing from the input reaches the output: a loopback must not become a feedback loop.
        engine.configure(None, input_channels=[-1] * n_out)
        chirp = _chirp(setup.fs)
        stim = (chirp * engine.ceiling.pa_per_digital[args.output_channel]).astype(np.float32)
        jack = setup.jack
        before = set(jack.ports()) if jack else set()
        engine.record(input=True)
        engine.start(device=setup.output_device, input_device=setup.input_device,
                     block_frames=setup.block_frames)
        restore: list[tuple[str, str]] = []
        made: list[tuple[str, str]] = []
        try:
            if jack is not None:
                ins, outs = jack.stream_ports(before)
                if len(ins) < n_in or len(outs) < n_out:
                    raise AudioDeviceError(f"cannot find this stream's JACK ports: {ins + outs}")
                out_port, in_port = outs[args.output_channel], ins[args.input_channel]
                for src in jack.connections(in_port):
                    jack.disconnect(src, in_port)
                    restore.append((src, in_port))
                jack.connect(out_port, in_port)
                made.append((out_port, in_port))
            lags = []
            for _ in range(args.repeats):
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
                energy = float(np.sum(chirp * chirp))
                if abs(xc[k]) < 0.1 * energy:
                    raise AudioDeviceError(
                        f"no loopback signal on input {args.input_channel}: connect output "
                        f"{args.output_channel} to it (a cable, or a JACK connection)"
                    )
                assert pb.start_frame is not None
                lags.append(first + k - pb.start_frame)
        finally:
            if jack is not None and jack.shutdown_reason is None:
                for a, b in made:
                    jack.disconnect(a, b)
                for a, b in restore:
                    jack.connect(a, b)
            engine.stop()
        rt = int(np.median(lags))
        result = {
            "method": "jack-loopback" if jack is not None else "external-loopback",
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
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"round trip {rt} frames = {result['round_trip_ms']:.2f} ms "
                  f"({result['round_trip_periods']:g} periods of {setup.block_frames}) via "
                  f"{result['method']}; chain latency {chain_latency} samples "
                  f"({result['chain_latency_ms']:.2f} ms); "
                  f"total {result['total_latency_ms']:.2f} ms")
        if len(set(lags)) > 1:
            print(f"note: the repeats disagree: {lags}", flush=True)
        return 0
    finally:
        setup.close()
