"""The results view: the sessions of a results database, one session's plot and trials, CSV.

Binds to :class:`~audiolab.gui._results_model.ResultsModel`; the plot (matplotlib, the same
figure as ``audiolab results --plot``) is drawn by a background task and shown as an image.
"""

import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from audiolab._errors import AudiolabError
from audiolab.gui._app import View
from audiolab.gui._results_model import TRIAL_COLUMNS, ResultsModel, SessionRow, result_text
from audiolab.gui._tasks import Task, run_task

__all__ = ["ResultsView"]

_SESSION_COLUMNS = ("session", "subject", "experiment", "status", "listener", "trials",
                    "started (UTC)")
_ALL = "(all)"


class ResultsView(View):
    """Browse stored sessions (module docstring)."""

    title = "Results"
    file_filter = "Results database (*.sqlite)"

    def __init__(self, context: Any, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = ResultsModel()
        self.rows: list[SessionRow] = []
        self.session_id: int | None = None
        self.busy = False
        self._task: Task | None = None
        self._plot_dir = tempfile.TemporaryDirectory(prefix="audiolab-results-")
        self._example_dir: tempfile.TemporaryDirectory[str] | None = None
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_top())
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.sessions_table = self._table(_SESSION_COLUMNS)
        self.sessions_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.sessions_table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.sessions_table.itemSelectionChanged.connect(self._session_selected)
        splitter.addWidget(self.sessions_table)
        lower = QSplitter(Qt.Orientation.Horizontal)
        plot_box = QWidget()
        pbox = QVBoxLayout(plot_box)
        pbox.setContentsMargins(0, 0, 0, 0)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        pbox.addWidget(self.result_label)
        self.plot_label = QLabel("open a session to see its plot")
        self.plot_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_label.setMinimumSize(320, 240)
        self.plot_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        pbox.addWidget(self.plot_label, 1)
        lower.addWidget(plot_box)
        self.trials_table = self._table(TRIAL_COLUMNS)
        lower.addWidget(self.trials_table)
        lower.setSizes([700, 560])
        splitter.addWidget(lower)
        splitter.setSizes([220, 520])
        layout.addWidget(splitter, 1)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self._pixmap: QPixmap | None = None
        QShortcut(QKeySequence("Ctrl+E"), self, self.choose_export,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence("F5"), self, self.reload,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.reload()

    def _build_top(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Database"))
        self.db_edit = QLineEdit(str(self.model.path))
        self.db_edit.editingFinished.connect(lambda: self.set_database(self.db_edit.text()))
        row.addWidget(self.db_edit, 3)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_database)
        row.addWidget(browse)
        reload_button = QPushButton("Reload (F5)")
        reload_button.clicked.connect(self.reload)
        row.addWidget(reload_button)
        row.addWidget(QLabel("Subject"))
        self.subject_combo = QComboBox()
        self.subject_combo.setMinimumWidth(110)
        self.subject_combo.currentIndexChanged.connect(self._filter_changed)
        row.addWidget(self.subject_combo, 1)
        row.addWidget(QLabel("Experiment"))
        self.experiment_combo = QComboBox()
        self.experiment_combo.setMinimumWidth(170)
        self.experiment_combo.currentIndexChanged.connect(self._filter_changed)
        row.addWidget(self.experiment_combo, 1)
        self.export_button = QPushButton("Export CSV… (Ctrl+E)")
        self.export_button.clicked.connect(self.choose_export)
        row.addWidget(self.export_button)
        return row

    @staticmethod
    def _table(columns: tuple[str, ...]) -> QTableWidget:
        t = QTableWidget(0, len(columns))
        t.setHorizontalHeaderLabels(columns)
        t.verticalHeader().setVisible(False)
        t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        t.horizontalHeader().setStretchLastSection(True)
        return t

    # -- the database and filters --------------------------------------------------------------
    def set_database(self, path: str | Path) -> None:
        """Show the sessions of the database at ``path``."""
        self.model = ResultsModel(path)
        self.db_edit.setText(str(self.model.path))
        self.reload()

    def _choose_database(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Results database", str(self.model.path),
                                              self.file_filter)
        if path:
            self.set_database(path)

    def open_file(self, path: Path) -> bool:
        """Take a results database (``*.sqlite``)."""
        if path.suffix.lower() != ".sqlite":
            return False
        self.set_database(path)
        return True

    def reload(self) -> None:
        """Read the subjects, experiments and sessions again (the runner may have added some)."""
        try:
            subjects, experiments = self.model.subjects(), self.model.experiments()
        except AudiolabError as exc:
            subjects, experiments = [], []
            self.status_label.setText(str(exc))
        for combo, values in ((self.subject_combo, subjects),
                              (self.experiment_combo, experiments)):
            keep = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([_ALL, *values])
            combo.setCurrentIndex(max(combo.findText(keep), 0))
            combo.blockSignals(False)
        self._filter_changed()

    def set_filter(self, *, subject: str | None = None, experiment: str | None = None) -> None:
        """Show only ``subject``'s sessions of ``experiment`` (None: all)."""
        self.subject_combo.setCurrentIndex(max(self.subject_combo.findText(subject or _ALL), 0))
        self.experiment_combo.setCurrentIndex(
            max(self.experiment_combo.findText(experiment or _ALL), 0))
        self._filter_changed()

    def _filter_changed(self, *_: Any) -> None:
        subject = self.subject_combo.currentText()
        experiment = self.experiment_combo.currentText()
        try:
            self.rows = self.model.sessions(
                subject=None if subject in ("", _ALL) else subject,
                experiment=None if experiment in ("", _ALL) else experiment)
        except AudiolabError as exc:
            self.rows = []
            self.status_label.setText(str(exc))
        else:
            n = len(self.rows)
            self.status_label.setText(f"{n} session{'s' if n != 1 else ''} in {self.model.path}")
        t = self.sessions_table
        t.blockSignals(True)
        t.setRowCount(len(self.rows))
        for r, s in enumerate(self.rows):
            values = (s.id, s.subject, s.experiment, s.status, s.listener, s.n_trials,
                      s.started_utc.replace("T", " ")[:19])
            for c, v in enumerate(values):
                t.setItem(r, c, QTableWidgetItem(str(v)))
        t.blockSignals(False)

    # -- one session -----------------------------------------------------------------------------
    def open_session(self, session_id: int) -> None:
        """Show the session's result, trials and plot (drawn in the background)."""
        self.session_id = session_id
        for r, s in enumerate(self.rows):
            if s.id == session_id and self.sessions_table.currentRow() != r:
                self.sessions_table.blockSignals(True)
                self.sessions_table.selectRow(r)
                self.sessions_table.blockSignals(False)
        try:
            trials = self.model.trial_rows(session_id)
            summary = self.model.summary(session_id)
        except AudiolabError as exc:
            self.status_label.setText(str(exc))
            return
        self.result_label.setText(f"<b>session {session_id}</b>: {len(trials)} trials, "
                                  f"{result_text(summary)}")
        t = self.trials_table
        t.setRowCount(len(trials))
        for r, row in enumerate(trials):
            for c, v in enumerate(row):
                text = "" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
                t.setItem(r, c, QTableWidgetItem(text))
        self._draw(session_id)

    def _session_selected(self) -> None:
        r = self.sessions_table.currentRow()
        if 0 <= r < len(self.rows):
            self.open_session(self.rows[r].id)

    def _draw(self, session_id: int) -> None:
        if not self.trials_table.rowCount():
            self.plot_label.setText("no trials to plot yet")
            return
        self.busy = True
        self.plot_label.setText("drawing…")
        path = Path(self._plot_dir.name) / f"session-{session_id}.png"
        model = self.model
        self._task = run_task(lambda report: model.plot(session_id, path), name="plot")
        self._task.done.connect(lambda _kind: self._show_plot(session_id, path))
        self._task.failed.connect(self._plot_failed)

    def _show_plot(self, session_id: int, path: Path) -> None:
        if session_id == self.session_id:
            self._pixmap = QPixmap(str(path))
            self._scale_plot()
        self.busy = False

    def _plot_failed(self, message: str) -> None:
        self.plot_label.setText(message)
        self.busy = False

    def _scale_plot(self) -> None:
        if self._pixmap is not None and not self._pixmap.isNull():
            self.plot_label.setPixmap(self._pixmap.scaled(
                self.plot_label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Keep the plot fitted to its label."""
        super().resizeEvent(event)
        self._scale_plot()

    # -- export -------------------------------------------------------------------------------
    def choose_export(self) -> None:
        """Ask where to write the CSV of the open session (all shown sessions without one)."""
        name = f"session-{self.session_id}.csv" if self.session_id else "trials.csv"
        start = str(Path(self.context.settings.last_directory or Path.cwd()) / name)
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV", start, "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> int:
        """Write the open session's trials (or the filtered subject's) to ``path``."""
        subject = self.subject_combo.currentText()
        try:
            n = self.model.export_csv(
                path, session_id=self.session_id,
                subject=None if self.session_id is not None or subject in ("", _ALL)
                else subject)
        except (AudiolabError, OSError) as exc:
            self.status_label.setText(f"not exported: {exc}")
            return 0
        self.status_label.setText(f"wrote {n} trials to {path}")
        return n

    # -- view protocol -------------------------------------------------------------------------
    def fill_example(self) -> None:
        """A completed tone-in-noise session of a psychometric listener, in a temporary file."""
        from audiolab.experiments import load_experiment, parse_listener, run_session
        from audiolab.gui._session_model import experiments_dir
        from audiolab.store import ResultsStore

        self._example_dir = tempfile.TemporaryDirectory(prefix="audiolab-results-example-")
        db = Path(self._example_dir.name) / "example.sqlite"
        exp = load_experiment(experiments_dir() / "tone_in_noise_3afc.toml")
        with ResultsStore(db) as store:
            run_session(exp, store=store, subject="DEMO01", seed=5,
                        listener=parse_listener("psychometric:midpoint=55,slope=0.5,lapse=0.02",
                                                seed=5))
        self.set_database(db)
        self.open_session(self.rows[0].id)

    def shutdown(self) -> None:
        """Let a plot being drawn finish."""
        if self._task is not None:
            self._task.wait(5.0)
