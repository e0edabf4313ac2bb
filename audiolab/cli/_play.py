"""``audiolab play``: play a sound file at a calibrated level, refused above the ceiling."""

import argparse

HELP = "play a sound file at a stated level in dB SPL through a calibrated set-up"
DESCRIPTION = """\
Play a sound file with its overall RMS level set to --level-db-spl, through the calibrated engine
(output calibration -> safety ceiling). A file whose planned level would exceed the ceiling is
refused before anything is played. Prints the exact stream frames where it started and ended.

example:
  audiolab play sentence.wav --level-db-spl 65 --calibration calibration/lab1.toml
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab play``."""
    p.add_argument("file", help="sound file (WAV, FLAC, ...)")
    p.add_argument("--level-db-spl", type=float, required=True,
                   help="overall RMS level in dB SPL")
    cal = p.add_mutually_exclusive_group()
    cal.add_argument("--calibration", metavar="CAL.toml", default=None,
                     help="calibration file of this set-up")
    cal.add_argument("--uncalibrated", action="store_true",
                     help="explicit uncalibrated mode: digital ceiling -20 dBFS")
    p.add_argument("--device", default=None, help="device index or part of its name")
    p.add_argument("--channels", default=None, metavar="0,1",
                   help="output channel for each file channel (default 0, 1, ...); a mono "
                        "file may name several")
    p.add_argument("--max-calibration-age-days", type=float, default=None,
                   help="warn if the calibration is older (default 365)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _channels(text: str | None, n_file: int) -> list[int]:
    from audiolab._errors import ConfigError

    if text is None:
        return list(range(n_file))
    try:
        chans = [int(c) for c in text.split(",") if c.strip() != ""]
    except ValueError:
        raise ConfigError(f"--channels must be comma-separated integers, got {text!r}") from None
    if not chans or (n_file != 1 and len(chans) != n_file):
        raise ConfigError(f"--channels must list {n_file} output channels, got {text!r}")
    return chans


def run(args: argparse.Namespace) -> int:
    """Play the file and report when it started and ended."""
    import json
    import math

    import numpy as np

    from audiolab._audio_io import read_audio
    from audiolab._errors import ConfigError
    from audiolab.calibration import db_spl_to_pa_rms
    from audiolab.engine import Engine
    from audiolab.engine._setup import choose_calibration, device_setup

    if not math.isfinite(args.level_db_spl):
        raise ConfigError(f"--level-db-spl must be a finite number, got {args.level_db_spl}")
    if not args.calibration and not args.uncalibrated:
        choose_calibration(None, False, n_outputs=1)  # raises: says what to give
    audio = read_audio(args.file)
    chans = _channels(args.channels, audio.n_channels)
    setup = device_setup(args.device, want_inputs=False, max_outputs=None, block_frames=None)
    try:
        if max(chans) >= setup.n_outputs:
            raise ConfigError(
                f"--channels names output {max(chans)}, but {setup.name!r} has {setup.n_outputs}"
            )
        cal = choose_calibration(args.calibration, args.uncalibrated,
                                 n_outputs=setup.n_outputs,
                                 max_age_days=args.max_calibration_age_days)
        x = audio.data.astype(np.float64)
        if audio.fs != setup.fs:
            from scipy.signal import resample_poly

            g = math.gcd(int(setup.fs), int(audio.fs))
            x = resample_poly(x, int(setup.fs) // g, int(audio.fs) // g, axis=1)
        if x.shape[0] == 1 and len(chans) > 1:
            x = np.repeat(x, len(chans), axis=0)
        rms = math.sqrt(float(np.mean(x * x)))
        if rms == 0:
            raise ConfigError(f"{args.file} is silent: its level cannot be set")
        x_pa = (x * (float(db_spl_to_pa_rms(args.level_db_spl)) / rms)).astype(np.float32)
        engine = Engine(fs=setup.fs, n_inputs=0, n_outputs=setup.n_outputs, calibration=cal,
                        max_block_frames=max(4096, setup.block_frames))
        # Refused here, before the stream opens, if the level would exceed the ceiling.
        engine.ceiling.check_signal_pa(x_pa, chans, what=f"{args.file} at {args.level_db_spl:g} "
                                                         "dB SPL")
        engine.configure(None)
        engine.start(device=setup.output_device, block_frames=setup.block_frames)
        try:
            pb = engine.play(x_pa, channels=chans)
            engine.wait(pb, timeout_s=x_pa.shape[1] / setup.fs + 10.0)
            # Let the last block reach the device before closing the stream.
            import time

            time.sleep(2 * setup.block_frames / setup.fs + 0.05)
        finally:
            engine.stop()
        assert pb.start_frame is not None and pb.end_frame is not None
        result = {
            "file": args.file,
            "level_db_spl": args.level_db_spl,
            "channels": chans,
            "start_frame": pb.start_frame,
            "end_frame": pb.end_frame,
            "duration_s": (pb.end_frame - pb.start_frame) / setup.fs,
            "limited_samples": engine.summary()["limited_samples"],
            "device": setup.describe(),
            "calibration": cal.summary(),
        }
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"played {args.file} at {args.level_db_spl:g} dB SPL on channels {chans}: "
                  f"frames {pb.start_frame}-{pb.end_frame} ({result['duration_s']:.3f} s), "
                  f"calibration {cal.source}")
        return 0
    finally:
        setup.close()
