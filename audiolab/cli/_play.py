"""``audiolab play``: a sound file or a pure tone at a calibrated level, refused if too loud."""

import argparse
from typing import TYPE_CHECKING, Any

from audiolab.cli._options import (
    add_calibration_options,
    add_device_option,
    add_json_option,
    add_level_option,
    add_record_option,
    check_output_file,
    choose_calibration_from,
    level_db_spl_from,
    named_as_options,
    print_result,
    require_calibration,
)

if TYPE_CHECKING:
    from audiolab.cli._engine_setup import DeviceSetup, Recorder
    from audiolab.engine import Engine, Playback

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


# The tone planner's parameters, as the options that set them.
_TONE_OPTIONS = {"frequency_hz": "--tone", "duration_s": "--duration", "ramp_ms": "--ramp-ms",
                 "level_db_hl": "--level-db-hl", "level_db_spl": "--level-db-spl"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``audiolab play``."""
    p.add_argument("file", nargs="?", default=None, help="sound file (WAV, FLAC, ...)")
    p.add_argument("--tone", type=float, default=None, metavar="FREQ_HZ",
                   help="play a pure tone at this frequency in Hz (below fs/2, and within the "
                        "calibration's frequencies) instead of a file")
    level = p.add_mutually_exclusive_group()
    add_level_option(level, default=None,
                     default_text="none: give it, or --level-db-hl for a tone")
    level.add_argument("--level-db-hl", type=float, default=None, metavar="X",
                       help="tone level in dB HL (needs a calibration whose transducer has an "
                            "ISO 389 RETSPL table)")
    p.add_argument("--duration", type=float, default=1.0, metavar="S",
                   help="tone duration in seconds, ramps included, in (0, 600] (default 1)")
    p.add_argument("--ramp-ms", type=float, default=None, metavar="MS",
                   help="raised-cosine onset/offset of the tone in ms, at most half the "
                        "duration (default 50 ms: an IEC 60645-1 rise time of 29 ms)")
    add_calibration_options(p)
    add_device_option(p)
    p.add_argument("--channels", default=None, metavar="0,1",
                   help="output channel for each file channel (default 0, 1, ...); a mono "
                        "file or a tone may name several (tone default: 0)")
    add_record_option(p)
    add_json_option(p)


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
    """Refuse contradictory, missing or out-of-range options before any device is touched."""
    from audiolab._errors import ConfigError
    from audiolab._validate import check_real

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
    level_db_spl_from(args)
    if args.level_db_hl is not None:  # its range depends on the transducer: the engine checks
        check_real("--level-db-hl", args.level_db_hl)
    if args.tone is not None:
        check_real("--tone", args.tone, low=0, low_open=True)
    check_real("--duration", args.duration, low=0, low_open=True)
    if args.ramp_ms is not None:
        check_real("--ramp-ms", args.ramp_ms, low=0)
    check_output_file("--record", args.record)
    require_calibration(args)


def _tone_stimulus(args: argparse.Namespace, engine: "Engine") -> tuple[Any, list[int], dict]:
    """The planned tone in Pa, its output channels and what was planned (levels, frames)."""
    from audiolab._errors import ConfigError
    from audiolab.engine import DEFAULT_RAMP_MS

    chans = _channels(args.channels or "0", 1)
    try:
        tone = engine.tone(
            frequency_hz=args.tone, level_db_hl=args.level_db_hl,
            level_db_spl=args.level_db_spl if args.level_db_hl is None else None,
            duration_s=args.duration, channels=chans,
            ramp_ms=DEFAULT_RAMP_MS if args.ramp_ms is None else args.ramp_ms,
        )
    except ConfigError as exc:
        raise named_as_options(exc, _TONE_OPTIONS) from None
    return tone.stimulus_pa, chans, tone.describe()


def _file_stimulus(args: argparse.Namespace, fs: float) -> tuple[Any, list[int], dict]:
    """The file in Pa at ``fs`` and ``--level-db-spl``, its output channels and the plan."""
    from audiolab._audio_io import read_audio
    from audiolab.cli._engine_setup import file_source_pa

    audio = read_audio(args.file)
    chans = _channels(args.channels, audio.n_channels)
    x_pa = file_source_pa(audio, fs=fs, n_channels=len(chans), level_db_spl=args.level_db_spl,
                          what=args.file)
    planned = {"file": args.file, "level_db_spl": args.level_db_spl,
               "duration_s": x_pa.shape[1] / fs}
    return x_pa, chans, planned


def _play_through(
    engine: "Engine", setup: "DeviceSetup", x_pa: Any, chans: list[int],
    recorder: "Recorder | None",
) -> "Playback":
    """Start the stream, play ``x_pa`` to the end, stop; returns the finished playback."""
    import time

    from audiolab._errors import AudioDeviceError

    engine.start(device=setup.output_device, block_frames=setup.block_frames)
    try:
        pb = engine.play(x_pa, channels=chans)
        deadline = time.monotonic() + x_pa.shape[1] / setup.fs + 10.0
        while not pb.done:
            if time.monotonic() > deadline:
                raise AudioDeviceError("the sound did not finish playing in time")
            engine.poll()
            if recorder is not None:
                recorder.drain()
            time.sleep(0.01)
        # Let the last block reach the device before closing the stream.
        time.sleep(2 * setup.block_frames / setup.fs + 0.05)
    finally:
        engine.stop()
    assert pb.start_frame is not None and pb.end_frame is not None
    return pb


def _print_played(args: argparse.Namespace, result: dict[str, Any], source: str) -> None:
    """One line: what was played at which level, on which frames, with which calibration."""
    frames = (f"frames {result['start_frame']}-{result['end_frame']} "
              f"({result['duration_played_s']:.3f} s), calibration {source}")
    if args.tone is not None:
        hl = "" if args.level_db_hl is None else f"{args.level_db_hl:g} dB HL = "
        dbfs = ", ".join(f"ch{c} {v:.2f} dBFS" for c, v in
                         zip(result["channels"], result["level_dbfs"], strict=True))
        print(f"played {args.tone:g} Hz at {hl}{result['level_db_spl']:.2f} dB SPL "
              f"({dbfs}): {frames}")
    else:
        print(f"played {args.file} at {args.level_db_spl:g} dB SPL on channels "
              f"{result['channels']}: {frames}")


def run(args: argparse.Namespace) -> int:
    """Play the file or tone and report the planned levels and when it started and ended."""
    from audiolab._errors import ConfigError
    from audiolab.cli._engine_setup import device_setup, recording
    from audiolab.engine import Engine

    _check_options(args)
    setup = device_setup(args.device, want_inputs=False, max_outputs=None, block_frames=None)
    try:
        cal = choose_calibration_from(args, n_outputs=setup.n_outputs)
        engine = Engine(fs=setup.fs, n_inputs=0, n_outputs=setup.n_outputs, calibration=cal,
                        max_block_frames=max(4096, setup.block_frames))
        if args.tone is not None:
            x_pa, chans, planned = _tone_stimulus(args, engine)
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
        with recording(engine, args.record, fs=setup.fs, n_channels=setup.n_outputs) as rec:
            pb = _play_through(engine, setup, x_pa, chans, rec)
            summary = engine.summary()
            assert pb.start_frame is not None and pb.end_frame is not None
            result = {
                **planned, "channels": chans,
                "start_frame": pb.start_frame, "end_frame": pb.end_frame,
                "frames": pb.end_frame - pb.start_frame,
                "duration_played_s": (pb.end_frame - pb.start_frame) / setup.fs,
                "limited_samples": summary["limited_samples"], "device": setup.describe(),
                "calibration": cal.summary(),
                "output_equalizer": [summary["output_equalizer"][c] for c in chans],
            }
            if rec is not None:
                rec.finish({**result, "stats": summary})
        print_result(args, result, lambda: _print_played(args, result, cal.source))
        return 0
    finally:
        setup.close()
