"""``audiolab live``: run a chain live through the calibrated C engine, with meters and stats."""

import argparse

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
    cal = p.add_mutually_exclusive_group()
    cal.add_argument("--calibration", metavar="CAL.toml", default=None,
                     help="calibration file of this set-up")
    cal.add_argument("--uncalibrated", action="store_true",
                     help="explicit uncalibrated mode: digital ceiling -20 dBFS")
    p.add_argument("--device", default=None, help="device index or part of its name")
    p.add_argument("--source", default="input",
                   help="input, noise, tone:FREQ or file:PATH (default input)")
    p.add_argument("--level-db-spl", type=float, default=65.0,
                   help="RMS level of a noise/tone/file source in dB SPL (default 65)")
    p.add_argument("--input-full-scale-db-spl", type=float, default=100.0,
                   help="dB SPL a full-scale sine at the input stands for (default 100)")
    p.add_argument("--record", metavar="OUT.wav", default=None,
                   help="write what leaves the ceiling stage (float32 WAV, digital full scale)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="seconds to run (default: until Ctrl-C)")
    p.add_argument("--blocksize", type=int, default=None, metavar="N",
                   help="frames per callback (default: the JACK period, else 256)")
    p.add_argument("--stats-json", metavar="FILE", default=None,
                   help="write callback statistics (timing, xruns, levels) as JSON")
    p.add_argument("--max-calibration-age-days", type=float, default=None,
                   help="warn if the calibration is older (default 365)")
    p.add_argument("--gil-hog", action="store_true",
                   help="stress test: a Python thread holds the GIL 50 ms at a time")
    p.add_argument("--quiet", action="store_true", help="no meter lines")


def _gil_hog() -> "tuple[object, object]":
    import sys
    import threading

    stop = threading.Event()
    sys.setswitchinterval(0.05)

    def hog() -> None:
        while not stop.is_set():
            sum(i * i for i in range(20000))

    t = threading.Thread(target=hog, daemon=True, name="audiolab-gil-hog")
    t.start()
    return stop, t


def run(args: argparse.Namespace) -> int:
    """Run the live engine until --duration or Ctrl-C."""
    import json
    import math
    import sys
    import time

    from audiolab._errors import AudioDeviceError, ConfigError
    from audiolab.cli._engine_setup import (
        choose_calibration,
        device_setup,
        make_source,
        parse_source,
    )
    from audiolab.engine import Engine

    kind, arg = parse_source(args.source)
    if not args.calibration and not args.uncalibrated:
        choose_calibration(None, False, n_outputs=1)  # raises: says what to give
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise ConfigError(f"--duration must be a positive number of seconds, got {args.duration}")
    chain = spec = None
    if args.chain:
        from audiolab.models import load_chain

        spec = load_chain(args.chain)
    cal_outputs = None
    if args.calibration:
        cal = choose_calibration(args.calibration, False, n_outputs=1,
                                 max_age_days=args.max_calibration_age_days)
        cal_outputs = max(c.index for c in cal.channels) + 1
    setup = device_setup(
        args.device, want_inputs=(kind == "input"), max_outputs=cal_outputs,
        block_frames=args.blocksize, fs=None if spec is None else spec.fs,
    )
    try:
        if not args.calibration:
            setup.n_outputs = min(setup.n_outputs, 2)
            setup.n_inputs = min(setup.n_inputs, setup.n_outputs)
            cal = choose_calibration(None, args.uncalibrated, n_outputs=setup.n_outputs)
        if kind == "input" and setup.n_inputs < 1:
            raise AudioDeviceError(f"device {setup.name!r} has no inputs for --source input")
        if spec is not None:
            from audiolab.models import build_chain

            chain = build_chain(spec, fs=setup.fs)
        engine = Engine(
            fs=setup.fs, n_inputs=setup.n_inputs, n_outputs=setup.n_outputs, calibration=cal,
            input_full_scale_db_spl=args.input_full_scale_db_spl,
            max_block_frames=max(4096, setup.block_frames),
        )
        source = None
        if kind != "input":
            source = make_source(kind, arg, fs=setup.fs, n_channels=setup.n_outputs,
                                 level_db_spl=args.level_db_spl)
            # Planned level: the chain's output for this source, refused above the ceiling.
            planned = source
            if spec is not None:
                from audiolab.models import build_chain

                planned = build_chain(spec, fs=setup.fs).process(source)
            engine.ceiling.check_signal_pa(planned, list(range(setup.n_outputs)),
                                           what=f"the chain output for --source {args.source}")
        engine.configure(chain, source_pa=source)
        writer = None
        if args.record:
            import soundfile as sf

            writer = sf.SoundFile(args.record, "w", samplerate=int(setup.fs),
                                  channels=setup.n_outputs, subtype="FLOAT", format="WAV")
            engine.record(output=True)
        hog = _gil_hog() if args.gil_hog else None
        xruns0 = setup.jack.count() if setup.jack else 0
        engine.start(device=setup.output_device, input_device=setup.input_device,
                     block_frames=setup.block_frames)
        t0 = time.monotonic()
        next_meter = t0 + 1.0
        if not args.quiet:
            print(f"audiolab live: {setup.name} ({setup.host_api}), {setup.fs:g} Hz, "
                  f"{setup.block_frames} frames/block, calibration {cal.source}; Ctrl-C stops",
                  file=sys.stderr)
        try:
            while args.duration is None or time.monotonic() - t0 < args.duration:
                time.sleep(0.02)
                engine.poll()
                if writer is not None:
                    data, _ = engine.recording("output")
                    writer.write(data.T)
                if not args.quiet and time.monotonic() >= next_meter:
                    next_meter += 1.0
                    rms, peak = engine.stats.meters(last_s=1.0)
                    levels = "  ".join(f"ch{i}: {r:5.1f} dB SPL rms, {p:5.1f} peak"
                                       for i, (r, p) in enumerate(zip(rms, peak, strict=True)))
                    print(f"[{time.monotonic() - t0:6.1f} s] {levels}", file=sys.stderr)
        except KeyboardInterrupt:
            pass
        finally:
            if hog is not None:
                hog[0].set()  # type: ignore[attr-defined]
        engine.stop()
        if writer is not None:
            data, _ = engine.recording("output")
            writer.write(data.T)
            writer.close()
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
            "level_db_spl": None if kind == "input" else args.level_db_spl,
            "gil_hog": bool(args.gil_hog),
        })
        if args.record:
            with open(args.record + ".json", "w") as f:
                json.dump({"recording": args.record, "what": "output after the safety ceiling, "
                           "digital (full-scale sine = 0 dBFS)", **stats}, f, indent=2)
        if args.stats_json:
            with open(args.stats_json, "w") as f:
                json.dump(stats, f, indent=2)
        c = stats["callback_us"]
        print(
            f"callbacks {stats['callbacks']}/{stats['expected_callbacks']} expected, "
            f"xruns {stats['xruns']} ({stats['xrun_source']}), overruns {stats['overruns']}, "
            f"callback p99.9 {c['p999']:.0f} us of {stats['period_us']:.0f} us, "
            f"non-finite {stats['nonfinite_samples']}, limited {stats['limited_samples']}, "
            "max output "
            + ", ".join("-" if v is None else f"{v:.1f}" for v in stats["max_output_db_spl"])
            + " dB SPL"
        )
        return 0
    finally:
        setup.close()
