"""The runner's model, without Qt: experiment files, a session driven step by step, live tracks.

:class:`SessionDriver` runs one session (new or resumed) on a worker thread, trial by trial, as
:func:`~audiolab.experiments.run_session` does (same rendering seeds, same listener seeding, one
committed transaction per trial), and adds what a window needs: pause and resume between trials,
abort with a reason (stored as the session's ``abort`` event), a paced model listener, and a
person who answers through the subject window while the engine plays. The driver never touches
a widget: it posts plain messages on :attr:`SessionDriver.messages`, which the view drains from
a timer, and takes answers through :meth:`SessionDriver.answer` from any thread.

A person's response time is counted in stream frames: the frame the engine is producing when
the answer arrives (:attr:`SessionDriver.stream_frame`, read when the key press is handled)
minus the offset frame the player reported for the stimulus (the frame after its last sample),
converted to ms at the stream's rate. It is exact to one audio block. An answer given while the
stimulus still plays is stored with ``response_during_playback`` in the trial's ``presented``
and no response time (a time before the offset would be negative).

:class:`LiveSession` collects the stored trials and the driver's snapshots into what the plots
show: levels with correct/incorrect markers, reversals, the running estimate, the audiogram.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audiolab._errors import AudiolabError, CalibrationError, ConfigError
from audiolab.calibration import Calibration
from audiolab.experiments import (
    Experiment,
    MatrixSrt,
    Procedure,
    PureToneAudiometry,
    QuestPlus,
    Trial,
    UpDown,
    check_session_levels,
    fit_matrix_srt,
    make_procedure,
    parse_experiment,
    parse_listener,
    render_trial,
    replay,
    response_text,
    reversal_threshold,
    stored_response,
    summarize,
    track_name,
)
from audiolab.store import VIRTUAL_IDEAL_CALIBRATION, LiveRun, ResultsStore, check_pseudonym
from audiolab.store import Trial as StoredTrial

__all__ = [
    "PACES_S",
    "READY_TEXT",
    "Finished",
    "LiveSession",
    "Paused",
    "Presenting",
    "Prompt",
    "ReadyWanted",
    "RunRequest",
    "SessionDriver",
    "Snapshot",
    "Started",
    "TrialDone",
    "check_subject",
    "estimate_remaining",
    "experiment_files",
    "experiments_dir",
    "listener_spec",
    "lit_interval",
    "load_for_resume",
    "plan_text",
    "prompt_of",
    "resumable_sessions",
    "snapshot",
]

_SEED_MOD = 2**63  # as audiolab.experiments.run_session seeds each trial's sound
READY_TEXT = "Press the space bar when you are ready."
#: Pause between the trials of a model listener: "visible" for rehearsing, "fast" for results.
PACES_S = {"visible": 0.25, "fast": 0.0}


# -- experiment files ----------------------------------------------------------------------------
def experiments_dir() -> Path:
    """The shipped ``experiments/`` folder (the working folder's, when it has one)."""
    here = Path.cwd() / "experiments"
    if here.is_dir():
        return here
    import audiolab

    return Path(audiolab.__file__).resolve().parents[1] / "experiments"


def experiment_files(directory: Path | None = None) -> list[Path]:
    """The experiment files (``*.toml``) of ``directory``, sorted by name."""
    directory = directory or experiments_dir()
    return sorted(p for p in directory.glob("*.toml") if p.is_file())


def plan_text(experiment: Experiment, *, calibration: Calibration | None, fs: float,
              listener: str) -> str:
    """What ``audiolab run --dry-run`` checks and prints, as lines for the runner.

    Raises
    ------
    SafetyError
        A level the procedure can reach is above the calibration's ceiling.
    """
    check_session_levels(experiment, calibration=calibration, fs=fs)
    plan = experiment.plan()
    config = ", ".join(f"{k} {v}" for k, v in plan["procedure_config"].items()
                       if k != "task" and v not in (None, (), []))
    stim = ", ".join(f"{k} {v}" for k, v in plan["stimulus"].items() if v not in (None, ""))
    cal = calibration.source if calibration is not None else VIRTUAL_IDEAL_CALIBRATION
    return (f"{plan['procedure']}: {config}\n"
            f"stimulus: {stim}\n"
            f"variable {plan['variable']} in [{plan['x_min_db']:g}, {plan['x_max_db']:g}] dB: "
            f"every level within the ceiling of the {cal}\n"
            f"listener: {listener}")


def check_subject(text: str) -> str:
    """"" for a pseudonym the store takes, else its one-line refusal."""
    try:
        check_pseudonym(text)
    except ConfigError as exc:
        return str(exc)
    return ""


def listener_spec(kind: str, detail: str = "") -> str:
    """The listener's spec: ``person``, ``psychometric:...`` or ``simulated:PRESET``.

    Raises
    ------
    ConfigError
        An unknown kind, or a spec :func:`~audiolab.experiments.parse_listener` refuses.
    """
    if kind == "person":
        return "person"
    if kind not in ("psychometric", "simulated"):
        raise ConfigError(f"listener must be person, psychometric or simulated, got {kind!r}")
    spec = f"{kind}:{detail.strip()}"
    parse_listener(spec, seed=0)  # refuse a bad spec now, in place, not on the worker
    return spec


def resumable_sessions(store: ResultsStore, *, subject: str | None = None) -> list[Any]:
    """Unfinished sessions (running after a crash, or aborted), newest first."""
    return [s for s in reversed(store.sessions(subject=subject)) if s.status != "completed"]


# -- what the driver posts ---------------------------------------------------------------------
@dataclass(frozen=True)
class Prompt:
    """What the subject window may know of a trial: never the target interval."""

    index: int
    response: str  # "afc", "yes_no" or "words"
    n_intervals: int


def prompt_of(trial: Trial) -> Prompt:
    """What the subject window is told of ``trial``: its number, kind and intervals."""
    kind = ("words" if trial.n_words is not None
            else "afc" if trial.target_interval is not None else "yes_no")
    return Prompt(trial.index, kind, trial.n_intervals)


@dataclass(frozen=True)
class Snapshot:
    """The procedure after a trial, as the plots need it."""

    n_trials: int
    finished: bool
    reversals: tuple[tuple[int, float], ...] = ()
    estimate_db: float | None = None
    estimate_label: str = ""
    audiogram: tuple[tuple[str, float, float | None], ...] = ()
    remaining: int | None = None


@dataclass(frozen=True)
class Started:
    """The session is open; ``trials`` are those already stored (a resume)."""

    session_id: int
    experiment: Experiment
    listener: str
    trials: tuple[StoredTrial, ...]
    snapshot: Snapshot


@dataclass(frozen=True)
class ReadyWanted:
    """A person's block starts: show the ready screen with ``text``, wait for the space bar."""

    text: str


@dataclass(frozen=True)
class Presenting:
    """A person's trial is playing: its intervals in stream frames."""

    prompt: Prompt
    onset_frames: tuple[int, ...]
    offset_frames: tuple[int, ...]
    words: tuple[str, ...] | None
    word_indices: tuple[int, ...] | None


@dataclass(frozen=True)
class TrialDone:
    """A trial was committed to the store."""

    trial: StoredTrial
    snapshot: Snapshot


@dataclass(frozen=True)
class Paused:
    """The session is paused (True) or running again (False); a person must say ready."""

    paused: bool


@dataclass(frozen=True)
class Finished:
    """The worker ended: ``status`` completed, aborted, stopped (trial limit) or failed."""

    status: str
    message: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRequest:
    """What to run.

    Attributes
    ----------
    experiment : Experiment
        The experiment (for a resume: the stored file's, see :meth:`SessionDriver.for_resume`).
    subject : str
        The pseudonym.
    listener : str
        ``person`` or a model listener's spec.
    db_path : pathlib.Path
        The results database.
    seed : int
        Session seed (a resume keeps the stored one).
    pace_s : float
        Pause after each trial of a model listener, s (0: as fast as possible).
    inter_trial_s : float
        Pause after a person's answer before the next trial, s (feedback shows meanwhile).
    calibration : Calibration or None
        The set-up's calibration (None: the virtual ideal one, model listeners only).
    calibration_text : str or None
        Stored with the session (default: the calibration's source and hash).
    device : str or None
        Output device of a person's session.
    fs : float
        Rate of a model listener's rendering (a person's is the device's).
    max_trials : int or None
        Stop after this many new trials (the session stays resumable).
    resume_session_id : int or None
        Continue this stored session instead of starting one.
    """

    experiment: Experiment
    subject: str
    listener: str
    db_path: Path
    seed: int = 0
    pace_s: float = 0.0
    inter_trial_s: float = 0.5
    calibration: Calibration | None = None
    calibration_text: str | None = None
    device: str | None = None
    fs: float = 48000.0
    max_trials: int | None = None
    resume_session_id: int | None = None


# -- snapshots and progress ----------------------------------------------------------------------
def estimate_remaining(procedure: Procedure) -> int | None:
    """About how many trials are left (None when the procedure gives no way to tell)."""
    if procedure.finished:
        return 0
    n = len(procedure.history)
    if isinstance(procedure, UpDown):
        cfg = procedure.config
        left: list[float] = []
        if cfg.max_reversals is not None:
            per = n / max(len(procedure.reversals), 1) if procedure.reversals else 3.0
            left.append((cfg.max_reversals - len(procedure.reversals)) * per)
        if cfg.max_trials is not None:
            left.append(cfg.max_trials - n)
        return max(int(math.ceil(min(left))), 1) if left else None
    if isinstance(procedure, QuestPlus):
        return max(procedure.config.max_trials - n, 1)
    if isinstance(procedure, MatrixSrt):
        return max(procedure.config.n_sentences - n, 1)
    if isinstance(procedure, PureToneAudiometry):
        done = len(procedure.results)
        per = n / done if done else 6.0
        return max(int(math.ceil((len(procedure.config.steps) + 1 - done) * per)), 1)
    order = getattr(procedure, "order_db", None)
    return max(len(order) - n, 1) if order is not None else None


def snapshot(procedure: Procedure) -> Snapshot:
    """Reversals, running estimate and audiogram of ``procedure`` now."""
    reversals: tuple[tuple[int, float], ...] = ()
    estimate, label = None, ""
    audiogram: tuple[tuple[str, float, float | None], ...] = ()
    if isinstance(procedure, UpDown):
        reversals = tuple((r.trial_index, r.x_db) for r in procedure.reversals)
        try:
            estimate = reversal_threshold(procedure).threshold_db
            label = "mean of last reversals"
        except ConfigError:
            pass
    elif isinstance(procedure, QuestPlus) and procedure.history:
        estimate = procedure.estimate().threshold_db_mean
        label = "QUEST+ posterior mean"
    elif isinstance(procedure, MatrixSrt) and len(procedure.history) >= 4:
        try:
            estimate = fit_matrix_srt(procedure).srt_db
            label = "SRT (ML fit)"
        except ConfigError:
            pass
    elif isinstance(procedure, PureToneAudiometry):
        audiogram = tuple((p.ear, p.frequency_hz, p.threshold_db_hl)
                          for p in procedure.audiogram())
    if estimate is not None and not math.isfinite(estimate):
        estimate = None
    return Snapshot(n_trials=len(procedure.history), finished=procedure.finished,
                    reversals=reversals, estimate_db=estimate, estimate_label=label,
                    audiogram=audiogram, remaining=estimate_remaining(procedure))


def lit_interval(frame: int | None, onsets: Sequence[int], offsets: Sequence[int]) -> int | None:
    """The interval (1..n) playing at stream ``frame``, None between and after them."""
    if frame is None:
        return None
    for k, (a, b) in enumerate(zip(onsets, offsets, strict=True)):
        if a <= frame < b:
            return k + 1
    return None


# -- the driver ------------------------------------------------------------------------------------
class _Stop(Exception):
    """The worker leaves its loop (abort)."""


class SessionDriver:
    """One session, run trial by trial on a worker thread (module docstring).

    Parameters
    ----------
    request : RunRequest
        What to run.

    Notes
    -----
    Call :meth:`start` from the GUI thread; drain :attr:`messages` from a timer. :meth:`pause`,
    :meth:`resume`, :meth:`abort`, :meth:`ready` and :meth:`answer` may be called from any
    thread. A pause takes effect between trials; a person's unanswered trial is cancelled and
    presented again after the pause (it was never stored, so nothing is lost or doubled).
    """

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        self.messages: queue.Queue[Any] = queue.Queue()
        self._answers: queue.Queue[tuple[Any, int | None]] = queue.Queue()
        self._cond = threading.Condition()
        self._paused = False
        self._ready = False
        self._abort_reason: str | None = None
        self._engine: Any = None
        self._thread = threading.Thread(target=self.run, name="audiolab-session", daemon=True)
        self.session_id: int | None = None

    # -- control, from any thread
    def start(self) -> SessionDriver:
        """Run the session on the worker thread."""
        self._thread.start()
        return self

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker ended (tests, shutdown); True if it did."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        """True while the worker thread runs."""
        return self._thread.is_alive()

    @property
    def paused(self) -> bool:
        """True between :meth:`pause` and :meth:`resume`."""
        return self._paused

    def pause(self) -> None:
        """Pause before the next trial (a person's pending trial is presented again later)."""
        with self._cond:
            self._paused = True
            self._ready = False
            self._cond.notify_all()

    def resume(self) -> None:
        """Continue after :meth:`pause` (a person then says ready on the subject window)."""
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def ready(self) -> None:
        """The person is ready (space on the subject window's ready screen)."""
        with self._cond:
            self._ready = True
            self._cond.notify_all()

    def abort(self, reason: str) -> None:
        """End the session as aborted with ``reason`` (stored with the abort event)."""
        with self._cond:
            self._abort_reason = reason.strip() or "aborted by the experimenter"
            self._cond.notify_all()
        self._answers.put((None, None))

    def answer(self, response: Any, *, response_frame: int | None = None) -> None:
        """A person's answer to the trial being presented, with the stream frame it arrived."""
        self._answers.put((response, response_frame))

    @property
    def stream_frame(self) -> int | None:
        """The frame the engine is producing now (None without a live engine)."""
        engine = self._engine
        return None if engine is None else int(engine.frame)

    @property
    def fs(self) -> float:
        """Rate of the stream (live) or of the rendering."""
        return float(self._engine.fs) if self._engine is not None else self.request.fs

    # -- worker
    def run(self) -> None:
        """The worker's body: every outcome ends with one :class:`Finished` message."""
        try:
            self.messages.put(self._run())
        except AudiolabError as exc:
            self.messages.put(Finished("failed", str(exc)))
        except Exception as exc:  # noqa: BLE001 - shown in the view, never a silent death
            self.messages.put(Finished("failed", f"internal error ({type(exc).__name__}: {exc}); "
                                                 "please report it"))

    def _run(self) -> Finished:
        req = self.request
        check_pseudonym(req.subject)
        person = req.listener == "person"
        if person and (req.calibration is None or req.calibration.uncalibrated
                       or req.calibration.source == VIRTUAL_IDEAL_CALIBRATION):
            raise CalibrationError("a person is never presented sound without a calibration "
                                   "file: choose one with Calibration… (Ctrl+L)")
        live = None
        try:
            if person:
                live = self._open_engine()
            with ResultsStore(req.db_path) as store:
                return self._session(store, person=person, live=live)
        finally:
            if self._engine is not None:
                engine, self._engine = self._engine, None
                engine.stop()

    def _open_engine(self) -> LiveRun:
        from audiolab.engine import (
            Engine,
            JackMonitor,
            ensure_portaudio,
            list_devices,
            resolve_device,
        )

        ensure_portaudio()
        out = resolve_device(self.request.device, kind="output")
        info = list_devices()[out]
        fs, block = float(info["default_samplerate"]), 256
        if "JACK" in str(info["host_api"]):  # JACK runs at its own rate and period
            monitor = JackMonitor(name=f"audiolab-gui-{os.getpid()}")
            try:
                fs, block = float(monitor.samplerate), int(monitor.blocksize)
            finally:
                monitor.close()
        assert self.request.calibration is not None
        engine = Engine(fs=fs, n_inputs=0, n_outputs=2, calibration=self.request.calibration)
        engine.start(device=out, block_frames=block)
        self._engine = engine
        return LiveRun(device=str(info["name"]), host_api=str(info["host_api"]), fs=int(fs),
                       block_size_samples=block)

    def _open(self, store: ResultsStore, listener_spec: str,
              live: LiveRun | None) -> tuple[int, Procedure, Any, list[StoredTrial], int]:
        """Start or reopen the session; the procedure and listener brought up to date."""
        from audiolab import __version__

        req = self.request
        exp = req.experiment
        cal = req.calibration
        if req.resume_session_id is not None:
            session = store.open_session(req.resume_session_id)
            seed = session.seed
            stored = store.trials(session.id)
            procedure = replay(exp.procedure, seed=seed,
                               responses=[stored_response(t) for t in stored])
            listener = None if session.listener == "person" else parse_listener(
                session.listener, seed=seed)
            if listener is not None:  # its generator continues where the killed run left it
                for i, rec in enumerate(procedure.history):
                    listener.respond(rec.trial, self._render(rec.trial, i, seed))
            return session.id, procedure, listener, stored, seed
        cal_text = (VIRTUAL_IDEAL_CALIBRATION if cal is None
                    else req.calibration_text or f"{cal.source} sha256={cal.sha256}")
        session_id = store.start_session(
            subject=req.subject, experiment_name=exp.name, experiment_toml=exp.text,
            calibration=cal_text, software_version=__version__, seed=req.seed,
            listener=listener_spec, live=live)
        listener = None if listener_spec == "person" else parse_listener(listener_spec,
                                                                         seed=req.seed)
        return session_id, make_procedure(exp.procedure, seed=req.seed), listener, [], req.seed

    def _render(self, trial: Trial, index: int, seed: int) -> Any:
        """The trial's sound, from the generator run_session seeds with (seed, index)."""
        rng = np.random.default_rng([seed % _SEED_MOD, index])
        return render_trial(self.request.experiment.stimulus, trial, fs=self.fs, rng=rng,
                            calibration=self.request.calibration)

    def _session(self, store: ResultsStore, *, person: bool, live: LiveRun | None) -> Finished:
        req = self.request
        check_session_levels(req.experiment, calibration=req.calibration, fs=self.fs)
        session_id, procedure, listener, stored, seed = self._open(store, req.listener, live)
        self.session_id = session_id
        listener_name = "person" if person else (req.listener if listener is None
                                                 else listener.describe())
        self.messages.put(Started(session_id, req.experiment, listener_name, tuple(stored),
                                  snapshot(procedure)))
        try:
            n_new = self._trials(store, session_id, procedure, listener, seed)
        except _Stop:
            reason = self._abort_reason or "aborted"
            store.end_session(session_id, status="aborted", detail=reason)
            return Finished("aborted", f"session {session_id} aborted: {reason}",
                            summarize(procedure))
        except BaseException:
            store.end_session(session_id, status="aborted", detail="interrupted")
            raise
        if not procedure.finished:
            return Finished("stopped", f"session {session_id}: stopped after {n_new} new trials; "
                                       "resume it to continue", summarize(procedure))
        counts: dict[str, Any] = {}
        if self._engine is not None:
            s = self._engine.summary()
            counts = {"lost_callbacks": int(s.get("lost_callbacks", 0) or 0),
                      "xruns": int(s.get("xruns", 0) or 0)}
        store.end_session(session_id, status="completed", **counts)
        return Finished("completed", f"session {session_id} completed: "
                                     f"{len(procedure.history)} trials", summarize(procedure))

    def _trials(self, store: ResultsStore, session_id: int, procedure: Procedure,
                listener: Any, seed: int) -> int:
        """Present, answer and commit trials until the stop rule or the trial limit."""
        req = self.request
        person = listener is None
        n_new = 0
        block: str | None = None
        if person:
            self._ask_ready(READY_TEXT)
        while not procedure.finished and (req.max_trials is None or n_new < req.max_trials):
            self._between_trials(store, session_id, person)
            trial = procedure.next_trial()
            if person and block is not None and trial.ear != block:  # audiometry: a new ear
                self._ask_ready("Now the other ear. " + READY_TEXT)
            block = trial.ear
            index = len(procedure.history)
            rendered = self._render(trial, index, seed)
            presented: dict[str, Any] = dict(rendered.description)
            if rendered.words is not None:
                presented["words"] = list(rendered.words)
            timing: dict[str, Any] = {}
            if person:
                response = self._ask_person(trial, rendered, presented, timing)
                if response is None:
                    continue  # paused: the same trial comes again
            else:
                response = listener.respond(trial, rendered)
            record = procedure.record(response)
            stored_trial = store.record_trial(
                session_id, index=index, track=track_name(trial), variable=trial.x_db,
                presented=presented, response=response_text(trial, record.response),
                correct=None if trial.target_interval is None and trial.n_words is None
                else record.positive, state=procedure.state(), **timing)
            n_new += 1
            self.messages.put(TrialDone(stored_trial, snapshot(procedure)))
            pause_s = req.inter_trial_s if person else req.pace_s
            if pause_s > 0:
                self._sleep(pause_s)
        self._check_abort()
        return n_new

    # -- waiting
    def _check_abort(self) -> None:
        if self._abort_reason is not None:
            raise _Stop

    def _sleep(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._abort_reason is not None or self._paused,
                                timeout=seconds)

    def _ask_ready(self, text: str) -> None:
        """Show the subject's ready screen and wait for the space bar."""
        with self._cond:
            self._ready = False
        self.messages.put(ReadyWanted(text))
        with self._cond:
            self._cond.wait_for(lambda: self._ready or self._abort_reason is not None)
        self._check_abort()

    def _between_trials(self, store: ResultsStore, session_id: int, person: bool) -> None:
        self._check_abort()
        if not self._paused:
            return
        store.record_event(session_id, kind="pause")
        self.messages.put(Paused(True))
        with self._cond:
            self._cond.wait_for(lambda: not self._paused or self._abort_reason is not None)
        self._check_abort()
        store.record_event(session_id, kind="resume")
        self.messages.put(Paused(False))
        if person:
            self._ask_ready(READY_TEXT)

    def _ask_person(self, trial: Trial, rendered: Any, presented: dict[str, Any],
                    timing: dict[str, Any]) -> Any:
        """Play the trial, wait for a valid answer; None if a pause cancelled it."""
        engine = self._engine
        while not self._answers.empty():  # a key pressed between trials answers nothing
            self._answers.get_nowait()
        playback = engine.play(rendered.pa, channels=[0, 1])
        while playback.start_frame is None:
            engine.poll()
            time.sleep(0.002)
        start = int(playback.start_frame)
        onsets = tuple(start + o for o in rendered.interval_onsets_samples)
        offsets = tuple(start + o for o in rendered.interval_offsets_samples)
        indices = presented.get("word_indices")
        self.messages.put(Presenting(prompt_of(trial), onsets,
                                     offsets, rendered.words,
                                     None if indices is None else tuple(indices)))
        response: Any = None
        response_frame: int | None = None
        while True:
            try:
                answer, frame = self._answers.get(timeout=0.01)
            except queue.Empty:
                engine.poll()
                if self._paused:
                    engine.cancel(playback)
                    return None
                continue
            self._check_abort()
            if (not self.request.experiment.answers_during_playback
                    and frame < start + rendered.n_samples):
                continue  # the file takes answers only once the sound has ended
            try:
                response = trial.check_response(answer)
            except ConfigError:
                continue
            response_frame = frame
            break
        engine.wait(playback, timeout_s=rendered.n_samples / rendered.fs + 10.0)
        end = int(playback.end_frame)
        presented["interval_onset_frames"] = list(onsets)
        presented["interval_offset_frames"] = list(offsets)
        during = response_frame is not None and response_frame < end
        presented["response_frame"] = response_frame
        presented["response_during_playback"] = bool(during)
        rt_ms = None
        if response_frame is not None and not during:
            rt_ms = (response_frame - end) / engine.fs * 1000.0
        timing.update(onset_frame=start, offset_frame=end, response_time_ms=rt_ms)
        return response


def load_for_resume(store: ResultsStore, session_id: int) -> Experiment:
    """The experiment of a stored session, from the file text stored with it."""
    session = store.session(session_id)
    return parse_experiment(session.experiment_toml, source=f"session {session_id}")


# -- the live view's data ------------------------------------------------------------------------
@dataclass
class LiveSession:
    """Trials and snapshots as the runner's plots show them (plain lists, no Qt)."""

    index: list[int] = field(default_factory=list)
    x_db: list[float] = field(default_factory=list)
    positive: list[bool] = field(default_factory=list)
    rows: list[tuple[str, ...]] = field(default_factory=list)
    last: Snapshot = field(default_factory=lambda: Snapshot(0, False))

    def clear(self) -> None:
        """Forget everything (a new session)."""
        self.index.clear()
        self.x_db.clear()
        self.positive.clear()
        self.rows.clear()
        self.last = Snapshot(0, False)

    def add(self, trial: StoredTrial) -> None:
        """Add one stored trial (plot point and log row)."""
        x = math.nan if trial.variable is None else float(trial.variable)
        pos = bool(trial.correct) if trial.correct is not None else trial.response == "yes"
        self.index.append(trial.index + 1)
        self.x_db.append(x)
        self.positive.append(pos)
        rt = "" if trial.response_time_ms is None else f"{trial.response_time_ms:.0f}"
        if trial.presented.get("response_during_playback"):
            rt = "during"
        correct = "" if trial.correct is None else ("yes" if trial.correct else "no")
        self.rows.append((str(trial.index + 1), trial.track, f"{x:.1f}", trial.response, correct,
                          rt))

    def update(self, snap: Snapshot) -> None:
        """Take the procedure's latest snapshot."""
        self.last = snap

    def progress(self) -> tuple[int, int | None]:
        """(trials done, about how many are left or None)."""
        return len(self.index), self.last.remaining

    def progress_text(self) -> str:
        """One line: trials done, about how many are left, the running estimate."""
        done, left = self.progress()
        text = (f"{done} trials, finished" if self.last.finished else
                f"{done} trials done" + ("" if left is None else f", about {left} to go"))
        if self.last.estimate_db is not None:
            text += f"  ·  {self.last.estimate_label}: {self.last.estimate_db:.1f} dB"
        return text

    def reversal_points(self) -> tuple[list[int], list[float]]:
        """Trial numbers (from 1) and levels of the reversals."""
        return ([i + 1 for i, _ in self.last.reversals], [x for _, x in self.last.reversals])

    def audiogram_points(self, ear: str) -> tuple[list[float], list[float]]:
        """Frequencies and thresholds (dB HL) measured so far in ``ear``."""
        pts = sorted((f, hl) for e, f, hl in self.last.audiogram if e == ear and hl is not None)
        return [f for f, _ in pts], [hl for _, hl in pts]

