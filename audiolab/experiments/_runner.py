"""The session runner: procedure + stimulus + listener + results store.

A session runs an :class:`~audiolab.experiments.Experiment` for one subject. Before the first
trial every level the procedure can reach is checked against the calibration's output ceiling
(:func:`~audiolab.experiments.check_ceiling`). Each trial is rendered in Pa, presented (to a
simulated listener, or through the real-time engine to a person answering in the terminal),
answered, and stored with :meth:`~audiolab.store.ResultsStore.record_trial` in its own
committed transaction before anything reports it. A resumed session replays the stored
responses through :func:`~audiolab.experiments.replay` (STYLE.md rule 13) and continues with the
next index, so no trial is lost or stored twice.

Every trial's sound comes from a generator seeded by (session seed, trial index), so a resumed
session renders exactly what an uninterrupted one would have.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from audiolab._errors import CalibrationError, ConfigError, StoreError
from audiolab.calibration import Calibration, OutputCeiling
from audiolab.calibration._calibration import ChannelCalibration
from audiolab.experiments._audiometry import AudiometryConfig
from audiolab.experiments._estimates import summarize
from audiolab.experiments._experiment import Experiment
from audiolab.experiments._listeners import Listener
from audiolab.experiments._procedures import make_procedure, replay
from audiolab.experiments._stimuli import (
    DEFAULT_TRANSDUCER,
    RenderedTrial,
    check_ceiling,
    render_trial,
)
from audiolab.experiments._trials import Procedure, Response, Trial, check_seed
from audiolab.store import VIRTUAL_IDEAL_CALIBRATION, LiveRun, ResultsStore
from audiolab.store import Trial as StoredTrial

__all__ = [
    "IDEAL_CEILING_DB_SPL",
    "SessionResult",
    "TerminalListener",
    "check_session_levels",
    "response_text",
    "resume_session_id",
    "run_session",
    "stored_response",
    "track_name",
    "virtual_ideal_calibration",
]

IDEAL_CEILING_DB_SPL = 130.0
"""Output ceiling of the virtual ideal calibration (simulated runs without a calibration file):
flat 140 dB SPL full scale on both ears, so every level up to the ceiling is exact."""

_SEED_MOD = 2**63


def virtual_ideal_calibration() -> Calibration:
    """A flat, exact, two-ear calibration for simulated listeners (never for a person).

    Full scale is 140 dB SPL at every frequency on channels 0 (left) and 1 (right), the ceiling
    is :data:`IDEAL_CEILING_DB_SPL` and dB HL use :data:`DEFAULT_TRANSDUCER`'s RETSPL table.

    Examples
    --------
    >>> cal = virtual_ideal_calibration()
    >>> cal.transducer, cal.ceiling_db_spl, cal.source
    ('TDH-39', 130.0, 'virtual ideal calibration')
    """
    f = np.array([1.0, 100000.0])
    v = np.full(2, IDEAL_CEILING_DB_SPL + 10.0)
    chans = (ChannelCalibration(0, "left", f, v), ChannelCalibration(1, "right", f, v))
    return Calibration(device="virtual", host_api="none", transducer=DEFAULT_TRANSDUCER,
                       date=_dt.date.today(), operator="audiolab",
                       ceiling_db_spl=IDEAL_CEILING_DB_SPL, channels=chans,
                       source=VIRTUAL_IDEAL_CALIBRATION)


@dataclass(frozen=True)
class SessionResult:
    """What :func:`run_session` returns.

    Attributes
    ----------
    session_id : int
        The stored session.
    n_trials : int
        Trials stored in the session (resumed ones included).
    n_new_trials : int
        Trials this call ran.
    finished : bool
        True when the procedure's stop rule was met (the session is then ``completed``).
    summary : dict
        :func:`~audiolab.experiments.summarize` of the procedure (JSON-ready).
    """

    session_id: int
    n_trials: int
    n_new_trials: int
    finished: bool
    summary: dict[str, Any]


class TerminalListener:
    r"""A person answering each trial on a text stream (the terminal, or one answer per line).

    n-AFC: the interval number (1..n); yes/no: ``y`` or ``n``; words: the number of words
    repeated correctly (0..n_words, the words are shown to the experimenter). On a terminal
    one key press is the answer (no Enter; Ctrl-C still interrupts); on any other stream, one
    answer per line. A wrong answer is asked again; the end of the stream (or Ctrl-D) raises
    ConfigError (the session stays resumable).

    Examples
    --------
    >>> import io
    >>> from audiolab.experiments import Trial
    >>> t = Trial(index=0, x_db=50.0, n_intervals=3, target_interval=2, catch=False)
    >>> TerminalListener(io.StringIO("x\n2\n"), io.StringIO()).respond(t)
    2
    """

    def __init__(self, answers: IO[str], prompts: IO[str]) -> None:
        self._answers = answers
        self._prompts = prompts

    def describe(self) -> str:
        """``"person"``: stored as the session's listener."""
        return "person"

    def _question(self, trial: Trial, stimulus: RenderedTrial | None) -> str:
        if trial.n_words is not None:
            words = " ".join(stimulus.words) if stimulus is not None and stimulus.words else ""
            return f"trial {trial.index + 1}: words correct 0-{trial.n_words} [{words}]? "
        if trial.target_interval is not None:
            return (f"trial {trial.index + 1}: which interval had the signal, "
                    f"1-{trial.n_intervals}? ")
        return f"trial {trial.index + 1}: did you hear it, y/n? "

    def respond(self, trial: Trial, stimulus: RenderedTrial | None = None) -> Response:
        """Ask until a valid answer arrives; ConfigError at the end of the stream."""
        while True:
            self._prompts.write(self._question(trial, stimulus))
            self._prompts.flush()
            line = self._read_answer()
            if not line:
                raise ConfigError("the answers ended before the session finished; continue it "
                                  "with --resume")
            text = line.strip().lower()
            answer: Any = text
            if trial.n_words is None and trial.target_interval is None:
                answer = {"y": True, "yes": True, "n": False, "no": False}.get(text, text)
            elif text.isdigit():
                answer = int(text)
            try:
                return trial.check_response(answer)
            except ConfigError as exc:
                self._prompts.write(f"  {exc}\n")


    def discard_pending(self) -> None:
        """Forget keys typed so far on a terminal (answers given during the sound).

        For files with ``answers_during_playback = false``. Lines of a script are answers, not
        keys, and are kept.
        """
        try:
            fd = self._answers.fileno()
        except (AttributeError, OSError, ValueError):
            return
        if os.isatty(fd):
            import termios

            termios.tcflush(fd, termios.TCIFLUSH)

    def _read_answer(self) -> str:
        """One key on a terminal, else one line; "" at the end of the answers."""
        try:
            fd = self._answers.fileno()
        except (AttributeError, OSError, ValueError):
            fd = -1
        if fd < 0 or not os.isatty(fd):
            return self._answers.readline()
        import termios
        import tty

        saved = termios.tcgetattr(fd)
        try:
            # Keys arrive one at a time; Ctrl-C still raises KeyboardInterrupt. TCSANOW keeps
            # a key pressed before the question (the default would discard it).
            tty.setcbreak(fd, termios.TCSANOW)
            key = os.read(fd, 1).decode(errors="replace")
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        if key in ("", "\x04"):  # Ctrl-D
            return ""
        self._prompts.write(key.strip() + "\n")
        return key


def response_text(trial: Trial, response: Response) -> str | int:
    if trial.n_words is None and trial.target_interval is None:
        return "yes" if response else "no"
    return int(response)


def stored_response(trial: StoredTrial) -> Response:
    if trial.response in ("yes", "no"):
        return trial.response == "yes"
    return int(trial.response)


def track_name(trial: Trial) -> str:
    if trial.ear is not None and trial.frequency_hz is not None:
        return f"{trial.ear} {trial.frequency_hz:g} Hz"
    return str(trial.track)


def resume_session_id(store: ResultsStore, *, subject: str, experiment: Experiment) -> int:
    """The subject's latest unfinished session of this experiment file (same text).

    Raises
    ------
    StoreError
        If there is none to resume.
    """
    import hashlib

    digest = hashlib.sha256(experiment.text.encode("utf-8")).hexdigest()
    for session in reversed(store.sessions(subject=subject)):
        if session.experiment_sha256 == digest and session.status != "completed":
            return session.id
    raise StoreError(f"--resume: subject {subject} has no unfinished session of "
                      f"{experiment.source} (with this exact file) in {store.path}")


def _check_levels(experiment: Experiment, calibration: Calibration, *, fs: float) -> None:
    ceiling = OutputCeiling.for_outputs(calibration, 2, fs=fs)
    config = experiment.procedure
    if isinstance(config, AudiometryConfig):
        # Each frequency up to its own highest level (max_db_hl_by_frequency may lower it).
        for f in sorted(set(experiment.frequencies_hz)):
            check_ceiling(experiment.stimulus, x_min_db=experiment.x_min_db,
                          x_max_db=config.ceiling_db_hl(f), ceiling=ceiling, channels=(0, 1),
                          fs=fs, frequencies_hz=(f,))
        return
    check_ceiling(experiment.stimulus, x_min_db=experiment.x_min_db,
                  x_max_db=experiment.x_max_db, ceiling=ceiling, channels=(0, 1), fs=fs,
                  frequencies_hz=experiment.frequencies_hz or None)


def check_session_levels(experiment: Experiment, *, calibration: Calibration | None,
                         fs: float) -> Calibration:
    """Check every reachable level against the ceiling; return the calibration used.

    ``calibration=None`` means the virtual ideal calibration (simulated listeners only).
    Raises SafetyError (one line) if any level the procedure can reach would exceed it.
    """
    top_hz = max(experiment.frequencies_hz or (experiment.stimulus.frequency_hz,))
    if experiment.stimulus.kind in ("tone", "tone_in_noise", "notched_noise") and fs <= 2 * top_hz:
        raise ConfigError(f"fs must be above twice the highest tone frequency ({top_hz:g} Hz) "
                          f"to render it, got {fs:g} Hz")
    cal = virtual_ideal_calibration() if calibration is None else calibration
    _check_levels(experiment, cal, fs=fs)
    return cal


def _live_frames(engine: Any, rendered: RenderedTrial,
                 channels: Sequence[int]) -> tuple[int, int, list[int], list[int]]:
    """Play the trial through the engine; the stream frames of its intervals."""
    playback = engine.play(rendered.pa, channels=list(channels))
    engine.wait(playback, timeout_s=rendered.n_samples / rendered.fs + 10.0)
    start = int(playback.start_frame)
    onsets = [start + o for o in rendered.interval_onsets_samples]
    offsets = [start + o for o in rendered.interval_offsets_samples]
    return start, int(playback.end_frame), onsets, offsets


def run_session(
    experiment: Experiment,
    *,
    store: ResultsStore,
    subject: str,
    listener: Listener,
    seed: int = 0,
    calibration: Calibration | None = None,
    calibration_text: str | None = None,
    resume: bool = False,
    max_trials: int | None = None,
    fs: float = 48000.0,
    engine: Any = None,
    channels: Sequence[int] = (0, 1),
    live: LiveRun | None = None,
    on_trial: Callable[[StoredTrial], None] | None = None,
    software_version: str | None = None,
) -> SessionResult:
    """Run (or resume) one session and return its summary.

    Parameters
    ----------
    experiment : Experiment
        From :func:`~audiolab.experiments.load_experiment`.
    store : ResultsStore
        Where the session and each trial are committed.
    subject : str
        The subject's pseudonym (refused before anything is written if it could identify).
    listener : Listener
        A simulated/psychometric listener (headless, as fast as the CPU allows) or a
        :class:`TerminalListener` (a person: needs ``engine`` and a calibration file).
    seed : int
        Session seed in [0, 2**63 - 1] (ignored on resume: the stored one is used).
    calibration : Calibration or None
        The set-up's calibration; None: the virtual ideal calibration (simulated listeners).
    calibration_text : str or None
        The calibration file's text, stored with the session (default: its summary).
    resume : bool
        Continue the subject's latest unfinished session of this experiment file, with the
        same listener (its spec is checked). A simulated listener built with the session's
        seed answers every remaining trial as in an uninterrupted session (its draws are a
        function of seed and trial index, :class:`~audiolab.experiments.TrialDraws`).
    max_trials : int or None
        Stop after this many new trials, in [1, 100000] (the session stays resumable).
    fs : float
        Sample rate of the rendered trials in Hz (the engine's rate when live).
    engine : audiolab.engine.Engine or None
        A started engine to play each trial through (live runs); its ``play`` re-checks the
        ceiling and its player reports the stream frames stored as onset and offset.
    channels : sequence of int
        Output channels of the left and right ear.
    live : LiveRun or None
        The audio set-up, stored with a live session.
    on_trial : callable or None
        Called with each stored trial right after its commit (``--log-trials``).
    software_version : str or None
        Stored with the session (default: ``audiolab.__version__``).

    Returns
    -------
    SessionResult

    Raises
    ------
    CalibrationError
        A person without a calibration file.
    SafetyError
        A reachable level above the output ceiling (nothing is stored then).
    ConfigError
        A refused pseudonym, nothing to resume, a bad argument.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> import audiolab
    >>> from audiolab.experiments import load_experiment, parse_listener
    >>> root = Path(audiolab.__file__).resolve().parents[1] / "experiments"
    >>> exp = load_experiment(root / "tone_in_noise_3afc.toml")
    >>> lst = parse_listener("psychometric:midpoint=55,slope=0.5,lapse=0.02", seed=1)
    >>> with ResultsStore(os.path.join(tempfile.mkdtemp(), "r.sqlite")) as store:
    ...     res = run_session(exp, store=store, subject="P01", listener=lst, seed=2)
    >>> res.finished, res.summary["procedure"]
    (True, 'up_down')
    """
    from audiolab import __version__
    from audiolab.store import check_pseudonym

    check_pseudonym(subject)
    seed = check_seed(seed)
    if max_trials is not None:
        from audiolab._validate import check_int

        max_trials = check_int("max_trials", max_trials, low=1, high=100_000)
    person = isinstance(listener, TerminalListener)
    if person and (calibration is None or calibration.uncalibrated
                   or calibration.source == VIRTUAL_IDEAL_CALIBRATION):
        raise CalibrationError("a person is never presented sound without a calibration file: "
                               "give --calibration CAL.toml (see `audiolab calibrate`)")
    if person and engine is None:
        raise ConfigError("a person listens through the engine: engine must be a started "
                          "audiolab.engine.Engine, got None")
    cal = check_session_levels(experiment, calibration=calibration, fs=fs)
    if calibration is None:
        cal_text = VIRTUAL_IDEAL_CALIBRATION
    elif calibration_text:
        cal_text = calibration_text
    else:
        cal_text = f"{calibration.source} sha256={calibration.sha256}"

    if resume:
        session_id = resume_session_id(store, subject=subject, experiment=experiment)
        stored_listener = store.session(session_id).listener
        if stored_listener != listener.describe():
            raise ConfigError(f"--resume: session {session_id} was run with listener "
                              f"{stored_listener!r}; resume it with the same listener, got "
                              f"{listener.describe()!r}")
        session = store.open_session(session_id)
        seed = session.seed
        stored = store.trials(session_id)
        procedure: Procedure = replay(experiment.procedure, seed=seed,
                                      responses=[stored_response(t) for t in stored])
    else:
        session_id = store.start_session(
            subject=subject, experiment_name=experiment.name, experiment_toml=experiment.text,
            calibration=cal_text, software_version=software_version or __version__, seed=seed,
            listener=listener.describe(), live=live)
        procedure = make_procedure(experiment.procedure, seed=seed)
    n_new = 0
    try:
        while not procedure.finished and (max_trials is None or n_new < max_trials):
            trial = procedure.next_trial()
            index = len(procedure.history)
            rng = np.random.default_rng([seed % _SEED_MOD, index])
            rendered = render_trial(experiment.stimulus, trial, fs=fs, rng=rng,
                                    calibration=None if calibration is None else cal)
            presented: dict[str, Any] = dict(rendered.description)
            if rendered.words is not None:
                presented["words"] = list(rendered.words)
            onset = offset = None
            response_time_ms = None
            if engine is not None:
                onset, offset, onsets, offsets = _live_frames(engine, rendered, channels)
                presented["interval_onset_frames"] = onsets
                presented["interval_offset_frames"] = offsets
                t0 = time.monotonic()
                if isinstance(listener, TerminalListener) and \
                        not experiment.answers_during_playback:
                    listener.discard_pending()
            response = listener.respond(trial, rendered)
            if engine is not None:
                response_time_ms = (time.monotonic() - t0) * 1000.0
            record = procedure.record(response)
            stored_trial = store.record_trial(
                session_id, index=index, track=track_name(trial), variable=trial.x_db,
                presented=presented, response=response_text(trial, record.response),
                correct=None if trial.target_interval is None and trial.n_words is None
                else record.positive,
                state=procedure.compact_state(), onset_frame=onset, offset_frame=offset,
                response_time_ms=response_time_ms)
            n_new += 1
            if on_trial is not None:
                on_trial(stored_trial)
    except BaseException:
        store.end_session(session_id, status="aborted", detail="interrupted")
        raise
    if procedure.finished:
        counts: dict[str, Any] = {}
        if engine is not None and live is not None:
            summary = engine.summary()
            counts = {"lost_callbacks": int(summary.get("lost_callbacks", 0) or 0),
                      "xruns": int(summary.get("xruns", 0) or 0)}
        store.end_session(session_id, status="completed", **counts)
    return SessionResult(session_id=session_id, n_trials=len(procedure.history),
                         n_new_trials=n_new, finished=procedure.finished,
                         summary=summarize(procedure))
