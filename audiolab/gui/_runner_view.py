"""The runner view: choose an experiment, subject and listener; run, watch, pause, abort, resume.

Widgets show, models decide: the session runs in
:class:`~audiolab.gui._session_model.SessionDriver` on a worker thread, and a timer drains its
messages into :class:`~audiolab.gui._session_model.LiveSession` and the plots (items created
once, updated with ``setData``). A person answers in the
:class:`~audiolab.gui._subject_window.SubjectWindow`; in the matrix test the experimenter scores
the repeated words on the 5 x 10 word matrix here.
"""

import contextlib
import queue
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from audiolab._errors import AudiolabError
from audiolab.audiology import MATRIX_WORD_CLASSES, load_speech_corpus
from audiolab.experiments import Experiment, load_experiment, resume_session_id
from audiolab.gui._app import View
from audiolab.gui._session_model import (
    PACES_S,
    Finished,
    LiveSession,
    Paused,
    Presenting,
    ReadyWanted,
    RunRequest,
    SessionDriver,
    Started,
    TrialDone,
    check_subject,
    experiment_files,
    listener_spec,
    lit_interval,
    load_for_resume,
    plan_text,
    resumable_sessions,
)
from audiolab.gui._subject_window import SubjectWindow
from audiolab.store import ResultsStore, default_path

__all__ = ["RunnerView", "WordMatrix"]

_LISTENERS = (("person (subject window)", "person", ""),
              ("psychometric listener", "psychometric", "midpoint=55,slope=0.5,lapse=0.02"),
              ("simulated listener", "simulated", "N3"))
_LOG_COLUMNS = ("#", "track", "level (dB)", "response", "correct", "RT (ms)")
_ERROR_STYLE = "color: #b00020;"


class WordMatrix(QWidget):
    """The 5 x 10 matrix of words: the presented ones marked, the correct ones clicked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = load_speech_corpus().matrix_grid()
        layout = QGridLayout(self)
        layout.setSpacing(3)
        self.buttons: list[list[QPushButton]] = []
        for col, word_class in enumerate(MATRIX_WORD_CLASSES):
            head = QLabel(f"<b>{word_class}</b>")
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(head, 0, col)
            column = []
            for row, item in enumerate(grid[word_class]):
                b = QPushButton(item.words)
                b.setCheckable(True)
                b.setEnabled(False)
                b.setObjectName(f"word-{col}-{row}")
                b.setStyleSheet("QPushButton:enabled { background: #fff3c4; font-weight: bold; }"
                                "QPushButton:checked { background: #7bc47f; }")
                layout.addWidget(b, row + 1, col)
                column.append(b)
            self.buttons.append(column)
        self.presented: tuple[int, ...] = ()

    def present(self, word_indices: tuple[int, ...] | None) -> None:
        """Mark the sentence's words (index within each column); None clears."""
        self.presented = tuple(word_indices or ())
        for col, column in enumerate(self.buttons):
            for row, b in enumerate(column):
                b.setChecked(False)
                b.setEnabled(col < len(self.presented) and self.presented[col] == row)

    def toggle(self, column: int) -> None:
        """Mark word ``column`` (0..4) of the sentence correct or not (keys 1..5)."""
        if column < len(self.presented):
            b = self.buttons[column][self.presented[column]]
            b.setChecked(not b.isChecked())

    def score(self) -> int:
        """Words marked correct."""
        return sum(self.buttons[c][r].isChecked() for c, r in enumerate(self.presented))


class RunnerView(View):
    """Run experiment files with a person or a model listener (module docstring)."""

    title = "Runner"
    file_filter = "Experiment (*.toml)"

    def __init__(self, context: Any, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.live = LiveSession()
        self.driver: SessionDriver | None = None
        self.experiment: Experiment | None = None
        self.subject_window: SubjectWindow | None = None
        self.presenting: Presenting | None = None
        self.last_finished: Finished | None = None
        self.busy = False
        self._example_dir: tempfile.TemporaryDirectory[str] | None = None
        splitter = QSplitter(self)
        splitter.addWidget(self._build_controls())
        splitter.addWidget(self._build_live())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([400, 880])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.timer = QTimer(self)
        self.timer.setInterval(15)
        self.timer.timeout.connect(self.poll)
        self._shortcuts()
        self.refresh_experiments()
        self._update_buttons()
        context.subscribe(self._context_changed)

    # -- construction -------------------------------------------------------------------------
    def _build_controls(self) -> QWidget:
        box = QGroupBox("Session")
        form = QFormLayout(box)
        self.experiment_combo = QComboBox()
        self.experiment_combo.setToolTip("Experiment files of experiments/ (File > Open for "
                                         "another)")
        self.experiment_combo.currentIndexChanged.connect(self._experiment_chosen)
        form.addRow("Experiment", self.experiment_combo)
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        form.addRow(self.description_label)
        self.plan_text = QPlainTextEdit()
        self.plan_text.setReadOnly(True)
        self.plan_text.setMaximumHeight(120)
        self.plan_text.setToolTip("What `audiolab run --dry-run` checks and prints")
        form.addRow(self.plan_text)
        self.subject_edit = QLineEdit()
        self.subject_edit.setPlaceholderText("pseudonym, e.g. P01")
        self.subject_edit.textChanged.connect(self._subject_changed)
        form.addRow("Subject", self.subject_edit)
        self.subject_problem = QLabel()
        self.subject_problem.setWordWrap(True)
        self.subject_problem.setStyleSheet(_ERROR_STYLE)
        form.addRow(self.subject_problem)
        self.subject_problem.setVisible(False)
        self.listener_combo = QComboBox()
        for text, kind, detail in _LISTENERS:
            self.listener_combo.addItem(text, (kind, detail))
        self.listener_combo.setCurrentIndex(1)
        self.listener_combo.currentIndexChanged.connect(self._listener_chosen)
        form.addRow("Listener", self.listener_combo)
        self.listener_edit = QLineEdit(_LISTENERS[1][2])
        self.listener_edit.setToolTip("psychometric: midpoint=M,slope=S,lapse=L; simulated: an "
                                      "audiogram preset N1..N7, S1..S3 or file")
        self.listener_edit.editingFinished.connect(self._refresh_plan)
        form.addRow("", self.listener_edit)
        self.pace_combo = QComboBox()
        self.pace_combo.addItem("visible pace", PACES_S["visible"])
        self.pace_combo.addItem("as fast as possible", PACES_S["fast"])
        form.addRow("Pace", self.pace_combo)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        form.addRow("Seed", self.seed_spin)
        self.max_trials_spin = QSpinBox()
        self.max_trials_spin.setRange(0, 100000)
        self.max_trials_spin.setSpecialValueText("until the stop rule")
        form.addRow("Stop after", self.max_trials_spin)
        self.feedback_check = QCheckBox("feedback to the listener")
        form.addRow("", self.feedback_check)
        self.db_edit = QLineEdit(str(default_path()))
        self.db_edit.editingFinished.connect(self.refresh_resumable)
        form.addRow("Database", self.db_edit)
        form.addRow(self._build_buttons())
        self.status_label = QLabel("ready")
        self.status_label.setWordWrap(True)
        form.addRow(self.status_label)
        return box

    def _build_buttons(self) -> QWidget:
        w = QWidget()
        grid = QGridLayout(w)
        grid.setContentsMargins(0, 6, 0, 0)
        self.start_button = QPushButton("Start (Ctrl+R)")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause (Ctrl+P)")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.abort_reason = QLineEdit()
        self.abort_reason.setPlaceholderText("reason for aborting (stored)")
        self.abort_button = QPushButton("Abort")
        self.abort_button.clicked.connect(lambda: self.abort(self.abort_reason.text()))
        self.resume_combo = QComboBox()
        self.resume_combo.setToolTip("Unfinished sessions of this subject in the database")
        self.resume_button = QPushButton("Resume session")
        self.resume_button.clicked.connect(self.resume_stored)
        self.subject_button = QPushButton("Subject window (F11: full screen)")
        self.subject_button.clicked.connect(self.show_subject_window)
        grid.addWidget(self.start_button, 0, 0)
        grid.addWidget(self.pause_button, 0, 1)
        grid.addWidget(self.abort_button, 1, 0)
        grid.addWidget(self.abort_reason, 1, 1)
        resume_row = QHBoxLayout()
        resume_row.addWidget(self.resume_combo, 2)
        resume_row.addWidget(self.resume_button, 1)
        grid.addLayout(resume_row, 2, 0, 1, 2)
        grid.addWidget(self.subject_button, 3, 0, 1, 2)
        return w

    def _build_live(self) -> QWidget:
        w = QWidget()
        box = QVBoxLayout(w)
        row = QHBoxLayout()
        self.progress_label = QLabel("no session")
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        row.addWidget(self.progress_label, 1)
        row.addWidget(self.progress_bar, 1)
        box.addLayout(row)
        plots = QHBoxLayout()
        self.track_plot = pg.PlotWidget()
        self.track_plot.setLabel("bottom", "trial")
        self.track_plot.setLabel("left", "level (dB)")
        self.track_plot.showGrid(x=True, y=True, alpha=0.3)
        self.track_plot.addLegend(offset=(-10, 10))
        self.track_curve = self.track_plot.plot([], [], pen=pg.mkPen(0.55, width=1.5))
        self.pos_scatter = self.track_plot.plot([], [], pen=None, symbol="o", symbolSize=8,
                                                symbolBrush="k", symbolPen="k",
                                                name="correct / yes")
        self.neg_scatter = self.track_plot.plot([], [], pen=None, symbol="o", symbolSize=8,
                                                symbolBrush="w", symbolPen="k",
                                                name="wrong / no")
        self.rev_scatter = self.track_plot.plot([], [], pen=None, symbol="s", symbolSize=14,
                                                symbolBrush=pg.mkBrush(0, 0, 0, 0),
                                                symbolPen=pg.mkPen("#e07b00", width=2),
                                                name="reversals")
        # The estimate's value is written in the progress line, not on the plot (where a
        # label would cover trials).
        self.estimate_line = pg.InfiniteLine(angle=0, pen=pg.mkPen(
            "#c62828", width=2, style=Qt.PenStyle.DashLine))
        self.estimate_line.setVisible(False)
        self.track_plot.addItem(self.estimate_line)
        plots.addWidget(self.track_plot, 3)
        self.side = QStackedWidget()
        self.side.addWidget(QWidget())
        self.side.addWidget(self._build_audiogram())
        self.side.addWidget(self._build_matrix())
        plots.addWidget(self.side, 2)
        self.side.setVisible(False)
        box.addLayout(plots, 3)
        self.log_table = QTableWidget(0, len(_LOG_COLUMNS))
        self.log_table.setHorizontalHeaderLabels(_LOG_COLUMNS)
        self.log_table.verticalHeader().setVisible(False)
        self.log_table.verticalHeader().setDefaultSectionSize(22)
        self.log_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.log_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        box.addWidget(self.log_table, 2)
        return w

    def _build_audiogram(self) -> QWidget:
        self.audiogram_plot = pg.PlotWidget(title="audiogram")
        p = self.audiogram_plot
        p.setLogMode(x=True, y=False)
        p.invertY(True)  # dB HL grows downwards (ASHA 1990)
        p.setXRange(np.log10(100), np.log10(10000), padding=0)
        p.setYRange(-10, 110, padding=0)
        p.getAxis("bottom").setTicks([[(np.log10(f), f"{f:g}" if f < 1000 else f"{f // 1000:g}k")
                                       for f in (125, 250, 500, 1000, 2000, 4000, 8000)], []])
        p.setLabel("bottom", "frequency (Hz)")
        p.setLabel("left", "hearing level (dB HL)")
        p.showGrid(x=True, y=True, alpha=0.3)
        p.addLegend(offset=(10, -10))
        self.right_curve = p.plot([], [], pen=pg.mkPen("#d32f2f", width=1.5), symbol="o",
                                  symbolSize=13, symbolBrush=pg.mkBrush(0, 0, 0, 0),
                                  symbolPen=pg.mkPen("#d32f2f", width=2), name="right (O)")
        self.left_curve = p.plot([], [], pen=pg.mkPen("#1565c0", width=1.5), symbol="x",
                                 symbolSize=13, symbolBrush="#1565c0",
                                 symbolPen=pg.mkPen("#1565c0", width=2), name="left (X)")
        return p

    def _build_matrix(self) -> QWidget:
        w = QWidget()
        box = QVBoxLayout(w)
        box.addWidget(QLabel("Words the listener repeated (click, or keys 1-5):"))
        self.word_matrix = WordMatrix()
        box.addWidget(self.word_matrix)
        self.score_button = QPushButton("Score sentence (Enter)")
        self.score_button.setEnabled(False)
        self.score_button.clicked.connect(self.submit_score)
        box.addWidget(self.score_button)
        box.addStretch(1)
        return w

    def _shortcuts(self) -> None:
        for key, slot in (("Ctrl+R", self.start), ("Ctrl+P", self.toggle_pause),
                          ("Return", self.submit_score), ("Enter", self.submit_score)):
            QShortcut(QKeySequence(key), self, slot,
                      Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for k in range(5):  # a line edit with the focus still takes its digits
            QShortcut(QKeySequence(str(k + 1)), self,
                      lambda c=k: self._toggle_word(c),
                      Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # -- choosing ------------------------------------------------------------------------------
    def refresh_experiments(self) -> None:
        """List the files of experiments/."""
        self.experiment_combo.blockSignals(True)
        self.experiment_combo.clear()
        for path in experiment_files():
            self.experiment_combo.addItem(path.stem, str(path))
        self.experiment_combo.blockSignals(False)
        self._experiment_chosen()

    def open_file(self, path: Path) -> bool:
        """Take an experiment file (a TOML with an [experiment] table)."""
        if path.suffix.lower() != ".toml" or "[experiment]" not in path.read_text(
                encoding="utf-8", errors="replace"):
            return False
        index = self.experiment_combo.findData(str(path))
        if index < 0:
            self.experiment_combo.addItem(path.stem, str(path))
            index = self.experiment_combo.count() - 1
        self.experiment_combo.setCurrentIndex(index)
        return True

    def select_experiment(self, stem: str) -> None:
        """Choose the listed file named ``stem`` (tests, examples)."""
        self.experiment_combo.setCurrentIndex(self.experiment_combo.findText(stem))

    def _experiment_chosen(self, *_: Any) -> None:
        path = self.experiment_combo.currentData()
        self.experiment = None
        if not path:
            self.description_label.setText("no experiment files in experiments/")
            return
        try:
            self.experiment = load_experiment(path)
        except (AudiolabError, OSError) as exc:
            self.description_label.setText("")
            self.plan_text.setPlainText(f"not usable: {exc}")
            return
        self.description_label.setText(f"<b>{self.experiment.name}</b>: "
                                       f"{self.experiment.description}")
        self._refresh_plan()
        self.refresh_resumable()

    def _context_changed(self, what: str) -> None:
        if what == "calibration":  # the levels are checked against the new ceiling
            self._refresh_plan()

    def _listener_chosen(self, *_: Any) -> None:
        kind, detail = self.listener_combo.currentData()
        self.listener_edit.setText(detail)
        self.listener_edit.setEnabled(kind != "person")
        self.pace_combo.setEnabled(kind != "person")
        self._refresh_plan()

    def _subject_changed(self, text: str) -> None:
        problem = check_subject(text) if text else ""
        self.subject_problem.setText(problem)
        self.subject_problem.setVisible(bool(problem))
        self.refresh_resumable()

    def listener(self) -> str:
        """The chosen listener's spec (ConfigError for a bad one)."""
        kind, _ = self.listener_combo.currentData()
        return listener_spec(kind, self.listener_edit.text())

    def _refresh_plan(self) -> None:
        if self.experiment is None:
            return
        try:
            text = plan_text(self.experiment, calibration=self.context.calibration, fs=48000.0,
                             listener=self.listener())
        except AudiolabError as exc:
            text = f"refused: {exc}"
        self.plan_text.setPlainText(text)

    def refresh_resumable(self) -> None:
        """List the subject's unfinished sessions in the database."""
        self.resume_combo.clear()
        subject = self.subject_edit.text()
        path = Path(self.db_edit.text())
        if not subject or check_subject(subject) or not path.is_file():
            return
        latest = None
        try:
            with ResultsStore(path, create=False) as store:
                sessions = resumable_sessions(store, subject=subject)
                counts = [len(store.trials(s.id)) for s in sessions]
                if self.experiment is not None:
                    with contextlib.suppress(AudiolabError):
                        latest = resume_session_id(store, subject=subject,
                                                   experiment=self.experiment)
        except AudiolabError as exc:
            self.status_label.setText(str(exc))
            return
        for s, n in zip(sessions, counts, strict=True):
            self.resume_combo.addItem(f"{s.id}: {s.experiment_name} ({s.status}, {n} trials)",
                                      s.id)
        if latest is not None:  # the latest unfinished session of the chosen file first
            self.resume_combo.setCurrentIndex(max(self.resume_combo.findData(latest), 0))
        self._update_buttons()

    # -- running -------------------------------------------------------------------------------
    def _request(self, resume_id: int | None = None) -> RunRequest:
        subject = self.subject_edit.text()
        problem = check_subject(subject)
        if problem:
            raise _Refused(problem)
        db = Path(self.db_edit.text())
        experiment = self.experiment
        if resume_id is not None:
            with ResultsStore(db, create=False) as store:
                experiment = load_for_resume(store, resume_id)
                listener = store.session(resume_id).listener
        else:
            listener = self.listener()
        if experiment is None:
            raise _Refused("choose an experiment file")
        max_trials = self.max_trials_spin.value() or None
        return RunRequest(experiment=experiment, subject=subject, listener=listener,
                          db_path=db, seed=self.seed_spin.value(),
                          pace_s=float(self.pace_combo.currentData()),
                          calibration=self.context.calibration, device=self.context.device,
                          max_trials=max_trials, resume_session_id=resume_id)

    def start(self, *, resume_id: int | None = None) -> bool:
        """Start (or resume) a session with what the form says; False with the reason shown."""
        if self.driver is not None and self.driver.running:
            return False
        try:
            request = self._request(resume_id)
        except (AudiolabError, _Refused) as exc:
            self.status_label.setText(f"<span style='{_ERROR_STYLE}'>{exc}</span>")
            return False
        if request.listener == "person":
            self.show_subject_window()
        self.live.clear()
        self.log_table.setRowCount(0)
        self.last_finished = None
        self.driver = SessionDriver(request).start()
        self.status_label.setText("starting…")
        self.timer.start()
        self._update_buttons()
        return True

    def resume_stored(self) -> bool:
        """Resume the session chosen in the list."""
        session_id = self.resume_combo.currentData()
        if session_id is None:
            self.status_label.setText("no unfinished session of this subject to resume")
            return False
        return self.start(resume_id=int(session_id))

    def toggle_pause(self) -> None:
        """Pause before the next trial, or continue."""
        if self.driver is None or not self.driver.running:
            return
        if self.driver.paused:
            self.driver.resume()
        else:
            self.driver.pause()
            self.status_label.setText("pausing before the next trial…")
        self._update_buttons()

    def abort(self, reason: str = "") -> None:
        """End the session as aborted; ``reason`` is stored with the abort event."""
        if self.driver is not None and self.driver.running:
            self.driver.abort(reason)

    def wait_finished(self, timeout_s: float = 60.0) -> Finished | None:
        """Block until the worker ends, then apply its messages (tests, examples)."""
        if self.driver is not None:
            self.driver.wait(timeout_s)
        self.poll()
        return self.last_finished

    # -- messages ------------------------------------------------------------------------------
    def poll(self) -> None:
        """Apply the driver's messages; light the subject's intervals."""
        driver = self.driver
        if driver is None:
            return
        changed = False
        while True:
            try:
                message = driver.messages.get_nowait()
            except queue.Empty:
                break
            self._apply(message)
            changed = True
        if changed:
            self._redraw()
        if self.presenting is not None and self.subject_window is not None:
            p = self.presenting
            self.subject_window.set_lit(lit_interval(driver.stream_frame, p.onset_frames,
                                                     p.offset_frames))
        if not driver.running and driver.messages.empty():
            self.timer.stop()
            self._update_buttons()

    def _apply(self, message: Any) -> None:
        if isinstance(message, Started):
            for t in message.trials:
                self.live.add(t)
                self._log(self.live.rows[-1])
            self.live.update(message.snapshot)
            self._show_kind(message.experiment)
            self.status_label.setText(f"session {message.session_id}: {message.listener}")
        elif isinstance(message, ReadyWanted):
            if self.subject_window is not None:
                self.subject_window.show_ready(message.text)
        elif isinstance(message, TrialDone):
            self.live.add(message.trial)
            self.live.update(message.snapshot)
            self._log(self.live.rows[-1])
            self._trial_done(message)
        elif isinstance(message, Presenting):
            self._present(message)
        elif isinstance(message, Paused):
            self.status_label.setText("paused" if message.paused else "running")
            if message.paused:  # a pending trial was cancelled: it comes again later
                self.presenting = None
                self.score_button.setEnabled(False)
                if self.subject_window is not None:
                    self.subject_window.show_message("A short break.")
            self._update_buttons()
        elif isinstance(message, Finished):
            self.last_finished = message
            style = _ERROR_STYLE if message.status == "failed" else ""
            self.status_label.setText(f"<span style='{style}'>{message.message}</span>")
            self.presenting = None
            if self.subject_window is not None:
                self.subject_window.show_message("Thank you. The session has ended.")
            self.refresh_resumable()

    def _present(self, message: Presenting) -> None:
        self.presenting = message
        if message.prompt.response == "words":
            self.word_matrix.present(message.word_indices)
            self.score_button.setEnabled(True)
            self.score_button.setFocus()  # keys 1-5 and Enter score (a text field would eat them)
            self.status_label.setText("sentence: " + " ".join(message.words or ()))
        if self.subject_window is not None:
            self.subject_window.show_prompt(message.prompt)

    def _trial_done(self, message: TrialDone) -> None:
        self.presenting = None
        self.score_button.setEnabled(False)
        self.word_matrix.present(None)
        sw = self.subject_window
        if sw is not None and self.driver is not None and self.driver.request.listener == \
                "person":
            if self.feedback_check.isChecked():
                sw.show_feedback(message.trial.correct)
            sw.set_lit(None)

    def _show_kind(self, experiment: Experiment) -> None:
        kind = type(experiment.procedure).__name__
        side = {"AudiometryConfig": 1, "MatrixSrtConfig": 2}.get(kind, 0)
        self.side.setCurrentIndex(side)
        self.side.setVisible(side > 0)
        label = {"level_db_spl": "level (dB SPL)", "level_db_hl": "level (dB HL)",
                 "snr_db": "SNR (dB)", "depth_db": "modulation depth (dB)",
                 "gap_ms": "gap (ms)"}.get(experiment.stimulus.variable,
                                           experiment.stimulus.variable)
        self.track_plot.setLabel("left", label)
        self.track_plot.setTitle(experiment.name)

    def _log(self, row: tuple[str, ...]) -> None:
        r = self.log_table.rowCount()
        self.log_table.insertRow(r)
        for c, text in enumerate(row):
            self.log_table.setItem(r, c, QTableWidgetItem(text))
        self.log_table.scrollToBottom()

    def _redraw(self) -> None:
        live = self.live
        idx = np.asarray(live.index, float)
        x = np.asarray(live.x_db, float)
        pos = np.asarray(live.positive, bool)
        self.track_curve.setData(idx, x)
        self.pos_scatter.setData(idx[pos], x[pos])
        self.neg_scatter.setData(idx[~pos], x[~pos])
        self.rev_scatter.setData(*live.reversal_points())
        est = live.last.estimate_db
        self.estimate_line.setVisible(est is not None)
        if est is not None:
            self.estimate_line.setValue(est)
        for ear, curve in (("right", self.right_curve), ("left", self.left_curve)):
            f, hl = live.audiogram_points(ear)
            curve.setData(f, hl)
        done, left = live.progress()
        self.progress_label.setText(live.progress_text())
        self.progress_bar.setRange(0, max(done + (left or 0), 1))
        self.progress_bar.setValue(done)

    def _update_buttons(self) -> None:
        running = self.driver is not None and self.driver.running
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running and self.resume_combo.count() > 0)
        self.pause_button.setEnabled(running)
        self.abort_button.setEnabled(running)
        paused = running and self.driver is not None and self.driver.paused
        self.pause_button.setText("Resume (Ctrl+P)" if paused else "Pause (Ctrl+P)")

    # -- the person's answers ------------------------------------------------------------------
    def show_subject_window(self) -> SubjectWindow:
        """Open (or raise) the listener's window."""
        if self.subject_window is None:
            self.subject_window = SubjectWindow(self)  # a window of its own, deleted with us
            self.subject_window.answered.connect(self._subject_answered)
            self.subject_window.ready_pressed.connect(self._subject_ready)
        self.subject_window.show()
        self.subject_window.raise_()
        return self.subject_window

    def _subject_answered(self, response: Any) -> None:
        if self.driver is None:
            return
        # The stream frame now, not the key event's time: see _session_model.
        frame = self.driver.stream_frame
        p = self.presenting
        if (not self.driver.request.experiment.answers_during_playback and p is not None
                and p.offset_frames and frame is not None and frame < p.offset_frames[-1]):
            # The file takes answers once the sound has ended: this one answers nothing.
            if self.subject_window is not None:
                self.subject_window.accept_again()
            return
        self.driver.answer(response, response_frame=frame)

    def _subject_ready(self) -> None:
        if self.driver is not None and self.driver.running and not self.driver.paused:
            self.driver.ready()
            if self.subject_window is not None:
                self.subject_window.show_waiting()

    def _toggle_word(self, column: int) -> None:
        if self.score_button.isEnabled():
            self.word_matrix.toggle(column)

    def submit_score(self) -> None:
        """Send the number of words marked correct as the sentence's answer."""
        if not self.score_button.isEnabled() or self.driver is None:
            return
        self.score_button.setEnabled(False)
        self.driver.answer(self.word_matrix.score(), response_frame=self.driver.stream_frame)

    # -- view protocol -------------------------------------------------------------------------
    def fill_example(self) -> None:
        """Tone in noise, psychometric listener, 24 trials run synchronously into a temp file."""
        self.shutdown()
        self._example_dir = tempfile.TemporaryDirectory(prefix="audiolab-runner-")
        self.select_experiment("tone_in_noise_3afc")
        self.subject_edit.setText("DEMO01")
        self.listener_combo.setCurrentIndex(1)
        self.db_edit.setText(str(Path(self._example_dir.name) / "example.sqlite"))
        self.max_trials_spin.setValue(24)
        self.seed_spin.setValue(5)
        request = self._request()
        self.driver = SessionDriver(request)
        self.driver.run()  # synchronously: the screenshot shows the tracks at once
        self.poll()
        self.status_label.setText("example: session 1 after 24 trials of a psychometric "
                                  "listener (resumable)")

    def extra_screenshots(self) -> dict[str, QWidget]:
        """The subject window showing a 3-AFC trial with its second interval lit."""
        from audiolab.gui._session_model import Prompt

        sw = self.show_subject_window()
        sw.resize(1000, 620)
        sw.show_prompt(Prompt(index=0, response="afc", n_intervals=3))
        sw.set_lit(2)
        return {"subject_window": sw}

    def shutdown(self) -> None:
        """Abort a running session (stored as aborted: closing the window) and close windows."""
        self.timer.stop()
        if self.driver is not None and self.driver.running:
            self.driver.abort("the application was closed")
            self.driver.wait(10.0)
        if self.subject_window is not None:
            self.subject_window.close()


class _Refused(Exception):
    """The form cannot start a session; the message says why."""
