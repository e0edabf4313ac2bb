"""``audiolab play``: a sound file or a pure tone at a calibrated level, refused if too loud."""

import argparse
from typing import Any

HELP = "play a sound file (dB SPL) or a pure tone (dB HL or dB SPL) through a calibrated set-up"
DESCRIPTION = """\
Play a sound file with its overall RMS level set to --level-db-spl, or a pure tone (--tone FREQ)
at --level-db-hl or --level-db-spl, through the calibrated engine (output equaliser -> safety
ceiling). dB HL goes through the calibration's transducer RETSPL table (ISO 389); the output
equaliser makes the tone leave the sound card at HL + RETSPL(f) - full_scale_db_spl(f) dBFS.
Anything whose planned level would exceed the ceiling, or a tone outside the RETSPL table or the
calibration, is refused before anything is played. Prints the planned levels and the exact
stream frames where the sound started and ended.

examples:
  audiolab play --tone 1000 --level-db-hl 40 --duration 2 --calibration calibration/lab1.toml
  audiolab play sentence.wav --level-db-spl 65 --calibration calibration/lab1.toml
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab play``."""
    p.add_argument("file", nargs="?", default=None, help="sound file (WAV, FLAC, ...)")
    p.add_argument("--tone", type=float, default=None, metavar="FREQ_HZ",
                   help="play a pure tone at this frequency instead of a file")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--level-db-spl", type=float, default=None,
                       help="overall RMS level in dB SPL (file or tone)")
    level.add_argument("--level-db-hl", type=float, default=None,
                       help="tone level in dB HL (needs a calibration with a RETSPL transducer)")
    p.add_argument("--duration", type=float, default=1.0, metavar="S",
                   help="tone duration in seconds, ramps included (default 1)")
    p.add_argument("--ramp-ms", type=float, default=None, metavar="MS",
                   help="raised-cosine onset/offset of the tone (default 50 ms: an IEC 60645-1 "
                        "rise time of 29 ms)")
    cal = p.add_mutually_exclusive_group()
    cal.add_argument("--calibration", metavar="CAL.toml", default=None,
                     help="calibration file of this set-up")
    cal.add_argument("--uncalibrated", action="store_true",
                     help="explicit uncalibrated mode: digital ceiling -20 dBFS")
    p.add_argument("--device", default=None, help="device index or part of its name")
    p.add_argument("--channels", default=None, metavar="0,1",
                   help="output channel for each file channel (default 0, 1, ...); a mono "
                        "file or a tone may name several (tone default: 0)")
    p.add_argument("--record", metavar="OUT.wav", default=None,
                   help="write what leaves the ceiling stage (float32 WAV, digital full scale) "
                        "with a JSON manifest beside it")
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


def _check_options(args: argparse.Namespace) -> None:
    """Refuse contradictory or missing options before any device is touched."""
    import math

    from audiolab._errors import ConfigError
    from audiolab.cli._engine_setup import choose_calibration

    if (args.file is None) == (args.tone is None):
        raise ConfigError("give a sound FILE or --tone FREQ_HZ (one of them)")
    if args.tone is None:
        if args.level_db_hl is not None:
            raise ConfigError("--level-db-hl is for tones (--tone FREQ_HZ); give a file's "
                              "level with --level-db-spl")
        if args.ramp_ms is not None:
            raise ConfigError("--ramp-ms is for tones (--tone FREQ_HZ)")
    if args.level_db_spl is None and args.level_db_hl is None:
        raise ConfigError("give the level: --level-db-spl X" +
                          (" or --level-db-hl X" if args.tone is not None else ""))
    for name in ("level_db_spl", "level_db_hl", "tone", "duration"):
        v = getattr(args, name)
        if v is not None and not math.isfinite(v):
            raise ConfigError(f"--{name.replace('_', '-')} must be a finite number, got {v}")
    if not args.calibration and not args.uncalibrated:
        choose_calibration(None, False, n_outputs=1)  # raises: says what to give


def _file_stimulus(args: argparse.Namespace, fs: float) -> tuple[Any, list[int], dict]:
    import numpy as np

    from audiolab._audio_io import read_audio
    from audiolab.calibration import scale_to_db_spl
    from audiolab.dsp import resample

    audio = read_audio(args.file)
    chans = _channels(args.channels, audio.n_channels)
    x = resample(audio.data.astype(np.float64), fs_in=audio.fs, fs_out=fs)
    if x.shape[0] == 1 and len(chans) > 1:
        x = np.repeat(x, len(chans), axis=0)
    x_pa = scale_to_db_spl(x, args.level_db_spl, what=args.file)
    planned = {"file": args.file, "level_db_spl": args.level_db_spl,
               "duration_s": x_pa.shape[1] / fs}
    return x_pa, chans, planned


def run(args: argparse.Namespace) -> int:
    """Play the file or tone and report the planned levels and when it started and ended."""
    import json
    import time

    from audiolab._errors import AudioDeviceError, ConfigError
    from audiolab.cli._engine_setup import choose_calibration, device_setup
    from audiolab.engine import DEFAULT_RAMP_MS, Engine

    _check_options(args)
    setup = device_setup(args.device, want_inputs=False, max_outputs=None, block_frames=None)
    writer = None
    rec_first = -1
    try:
        cal = choose_calibration(args.calibration, args.uncalibrated,
                                 n_outputs=setup.n_outputs,
                                 max_age_days=args.max_calibration_age_days)
        engine = Engine(fs=setup.fs, n_inputs=0, n_outputs=setup.n_outputs, calibration=cal,
                        max_block_frames=max(4096, setup.block_frames))
        if args.tone is not None:
            chans = _channels(args.channels or "0", 1)
            tone = engine.tone(
                frequency_hz=args.tone, level_db_hl=args.level_db_hl,
                level_db_spl=args.level_db_spl if args.level_db_hl is None else None,
                duration_s=args.duration, channels=chans,
                ramp_ms=DEFAULT_RAMP_MS if args.ramp_ms is None else args.ramp_ms,
            )
            x_pa, planned = tone.stimulus_pa, tone.describe()
            what = f"a {args.tone:g} Hz tone"
        else:
            x_pa, chans, planned = _file_stimulus(args, setup.fs)
            what = f"{args.file} at {args.level_db_spl:g} dB SPL"
        if max(chans) >= setup.n_outputs:
            raise ConfigError(
                f"--channels names output {max(chans)}, but {setup.name!r} has {setup.n_outputs}"
            )
        # Refused here, before the stream opens, if the level would exceed the ceiling.
        engine.ceiling.check_signal_pa(x_pa, chans, what=what)
        engine.configure(None)
        if args.record:
            import soundfile as sf

            writer = sf.SoundFile(args.record, "w", samplerate=int(setup.fs),
                                  channels=setup.n_outputs, subtype="FLOAT", format="WAV")
            engine.record(output=True)
        engine.start(device=setup.output_device, block_frames=setup.block_frames)
        try:
            pb = engine.play(x_pa, channels=chans)
            deadline = time.monotonic() + x_pa.shape[1] / setup.fs + 10.0
            while not pb.done:
                if time.monotonic() > deadline:
                    raise AudioDeviceError("the sound did not finish playing in time")
                engine.poll()
                if writer is not None:
                    data, first = engine.recording("output")
                    rec_first = first if rec_first < 0 else rec_first
                    writer.write(data.T)
                time.sleep(0.01)
            # Let the last block reach the device before closing the stream.
            time.sleep(2 * setup.block_frames / setup.fs + 0.05)
        finally:
            engine.stop()
        assert pb.start_frame is not None and pb.end_frame is not None
        summary = engine.summary()
        result = {
            **planned,
            "channels": chans,
            "start_frame": pb.start_frame,
            "end_frame": pb.end_frame,
            "frames": pb.end_frame - pb.start_frame,
            "duration_played_s": (pb.end_frame - pb.start_frame) / setup.fs,
            "limited_samples": summary["limited_samples"],
            "device": setup.describe(),
            "calibration": cal.summary(),
            "output_equalizer": [summary["output_equalizer"][c] for c in chans],
        }
        if writer is not None:
            data, first = engine.recording("output")
            rec_first = first if rec_first < 0 else rec_first
            writer.write(data.T)
            writer.close()
            writer = None
            with open(args.record + ".json", "w") as f:
                json.dump({"recording": args.record, "first_frame": rec_first,
                           "what": "output after the safety ceiling, digital (full-scale "
                                   "sine = 0 dBFS)", **result, "stats": summary}, f, indent=2)
        if args.json:
            print(json.dumps(result, indent=2))
        elif args.tone is not None:
            hl = "" if args.level_db_hl is None else f"{args.level_db_hl:g} dB HL = "
            dbfs = ", ".join(f"ch{c} {v:.2f} dBFS" for c, v in
                             zip(chans, result["level_dbfs"], strict=True))
            print(f"played {args.tone:g} Hz at {hl}{result['level_db_spl']:.2f} dB SPL "
                  f"({dbfs}): frames {pb.start_frame}-{pb.end_frame} "
                  f"({result['duration_played_s']:.3f} s), calibration {cal.source}")
        else:
            print(f"played {args.file} at {args.level_db_spl:g} dB SPL on channels {chans}: "
                  f"frames {pb.start_frame}-{pb.end_frame} "
                  f"({result['duration_played_s']:.3f} s), calibration {cal.source}")
        return 0
    finally:
        if writer is not None:
            writer.close()
        setup.close()
