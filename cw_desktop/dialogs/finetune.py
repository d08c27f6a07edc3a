"""Model ▸ Fine-tune on a folder…: a four-step dialog a writer can use without a terminal.

1. Folder: choose it; a background scan shows files used and skipped (with reasons), words, tokens,
   the time it would take here, or why training would be refused. Interrupted runs can be resumed.
2. Model: the base model, the mode, optionally the writer's accepted suggestions, and "Advanced"
   settings whose defaults are the trainer's own automatic plan.
3. Training: `cw-desktop train --json-progress` in a separate process (the editor survives
   anything that happens to it), with progress, ETA, tokens/s, a live loss chart and a log.
4. Results: held-out perplexity before/after and blind side-by-side samples to rate; the ratings are
   saved with the model; "Use this model" switches the editor to it.

Run standalone for screenshots and manual testing:
    python -m cw_desktop.dialogs.finetune [--data DIR] [--folder FOLDER] [--max-steps N]
"""

from __future__ import annotations

import html
import math
import re
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QCheckBox, QComboBox, QDialog, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QMessageBox, QPlainTextEdit, QProgressBar, QPushButton,
                               QRadioButton, QScrollArea, QSpinBox, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QTextBrowser, QToolButton, QVBoxLayout, QWidget)

from cw_desktop.core.model_registry import (InterruptedRun, RegistryError, discard_run, list_interrupted_runs,
                                            list_models, rename_model, save_run_options)
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.ratings import CRITERIA, Ratings, load_or_create_ratings, save_ratings, summarise
from cw_desktop.core.settings import Settings
from cw_desktop.workers.scan_worker import ScanWorker, plan_from_counts
from cw_desktop.workers.threads import cancel_and_stop, start_in_thread
from cw_desktop.workers.training_process import TrainingProcess, cli_prefix, path_options, train_arguments

STEP_TITLES = ("Folder", "Model", "Training", "Results")
DEFAULT_EVAL_SHARE = 0.10  # = cw_desktop.ml.dataset.DEFAULT_EVAL_SHARE (not imported: it pulls in torch)
MODE_CHOICES = (
    ("lora", "LoRA adapters", "Trains small add-on matrices: the fastest on a CPU and needs the least memory."),
    ("top", "Top layers", "Trains only the last few layers: fast, a lighter touch on the style."),
    ("full", "All weights", "Trains the whole model: the strongest effect, but slowest and needs the most memory."),
)
ERROR_STYLE = "color: #b3261e;"
OK_STYLE = "color: #2e7d32;"
_PYTHON_WARNING = re.compile(r"\.py:\d+: \w*Warning: ")
# How long closing the editor waits for a cancelled trainer to save its checkpoint.
CLOSE_WAIT_MS = 60_000


# -- questions to the writer (module functions so tests can answer them) -------------------------

def confirm(parent: QWidget, title: str, text: str, yes: str, no: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    yes_button = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(no, QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is yes_button


def choose_folder(parent: QWidget, start: str) -> str:
    return QFileDialog.getExistingDirectory(parent, "Choose the folder of your writing", start)


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setProperty("muted", True)
    label.setWordWrap(True)
    return label


def _minutes(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


# Scan threads still busy when their dialog closed (counting the tokens of a big folder cannot be
# interrupted): kept referenced for the rest of the session (two small objects each), since
# destroying a running QThread aborts the app. The quit() already queued ends them.
_finishing_threads: list[tuple[Any, Any]] = []


def _stop_worker_thread(worker: ScanWorker, thread: Any) -> None:
    if not cancel_and_stop(worker, thread, 2_000):
        _finishing_threads.append((worker, thread))


# -- step 1 ------------------------------------------------------------------------------------

class FolderPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)

        self.resume_box = QGroupBox("Interrupted training")
        resume_layout = QHBoxLayout(self.resume_box)
        self.resume_combo = QComboBox()
        self.resume_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.resume_button = QPushButton("Resume")
        self.discard_button = QPushButton("Discard…")
        resume_layout.addWidget(self.resume_combo, 1)
        resume_layout.addWidget(self.resume_button)
        resume_layout.addWidget(self.discard_button)
        layout.addWidget(self.resume_box)

        layout.addWidget(QLabel("<b>Which folder holds your writing?</b>"))
        row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("A folder of .txt, .md, .docx, .odt, .rtf, .html or .epub files")
        self.choose_button = QPushButton("Choose folder…")
        self.rescan_button = QPushButton("Scan again")
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.choose_button)
        row.addWidget(self.rescan_button)
        layout.addLayout(row)
        layout.addWidget(_muted("The folder is only read, never changed. Sub-folders are included; "
                                "Project Gutenberg headers, licences and duplicate files are left out."))

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.summary)
        self.refusal = QLabel()
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet(ERROR_STYLE)
        self.refusal.hide()
        layout.addWidget(self.refusal)

        self.files = QTableWidget(0, 3)
        self.files.setHorizontalHeaderLabels(["File", "Used?", "Words / reason"])
        self.files.verticalHeader().hide()
        self.files.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.files.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.files, 1)

    def show_runs(self, runs: list[InterruptedRun]) -> None:
        self.resume_combo.clear()
        for run in runs:
            folder = Path(run.folder).name or run.folder
            started = run.created[:16].replace("T", " ")
            self.resume_combo.addItem(f"{run.name} — {folder} on {run.base}, started {started}", run)
        self.resume_box.setVisible(bool(runs))

    def show_report(self, report: dict[str, Any]) -> None:
        self.progress.hide()
        used, skipped = report["files_used"], report["files_skipped"]
        parts = [f"<b>{used} file{'s' if used != 1 else ''} used</b>, {skipped} skipped",
                 f"{report['words']:,} words"]
        if "train_tokens" in report:
            parts.append(f"{report['train_tokens']:,} training tokens + {report['eval_tokens']:,} held out "
                         f"(to measure progress)")
            parts.append(f"estimated time on this computer: <b>about {_minutes(report['estimated_seconds'])}</b> "
                         f"with the automatic settings")
        self.summary.setText(" · ".join(parts))
        self.refusal.setText(report.get("refusal") or "")
        self.refusal.setVisible(bool(report.get("refusal")))
        rows = report["files"]
        self.files.setRowCount(len(rows))
        muted = self.palette().color(self.foregroundRole())
        muted.setAlpha(140)
        for index, row in enumerate(rows):
            used_file = row["status"] == "used"
            reason = row.get("reason") or ""
            if row.get("detail") and row["detail"] != reason:
                reason = f"{reason}: {row['detail']}" if reason else row["detail"]
            cells = [row["path"], "yes" if used_file else "skipped", f"{row['words']:,} words" if used_file else reason]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if not used_file:
                    item.setForeground(muted)
                self.files.setItem(index, column, item)

    def show_scanning(self, done: int, total: int, path: str) -> None:
        self.progress.show()
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"Reading {done} of {total}: {path}" if total else "Reading…")

    def show_busy(self, text: str) -> None:
        self.progress.show()
        self.progress.setRange(0, 0)
        self.progress.setFormat(text)
        self.summary.setText(text)
        self.refusal.hide()


# -- step 2 ------------------------------------------------------------------------------------

class ModelPage(QWidget):
    changed = Signal()  # anything that changes the plan or the estimate

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.base_combo = QComboBox()
        form.addRow("Start from:", self.base_combo)
        self.name_edit = QLineEdit()
        form.addRow("Name of the new model:", self.name_edit)
        layout.addLayout(form)

        mode_box = QGroupBox("What to train")
        mode_layout = QVBoxLayout(mode_box)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for key, title, explanation in MODE_CHOICES:
            button = QRadioButton(title)
            self.mode_buttons[key] = button
            self.mode_group.addButton(button)
            mode_layout.addWidget(button)
            note = _muted(explanation)
            note.setContentsMargins(24, 0, 0, 4)
            mode_layout.addWidget(note)
            button.toggled.connect(self.changed)
        layout.addWidget(mode_box)

        self.accepted_check = QCheckBox("Include my accepted suggestions")
        self.accepted_check.toggled.connect(self.changed)
        layout.addWidget(self.accepted_check)

        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced settings")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        layout.addWidget(self.advanced_toggle)
        self.advanced = QGroupBox()
        grid = QGridLayout(self.advanced)
        self.steps_radio = QRadioButton("Steps:")
        self.epochs_radio = QRadioButton("Epochs:")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 1_000_000)
        self.epochs_spin = QDoubleSpinBox()
        self.epochs_spin.setRange(0.01, 100.0)
        self.epochs_spin.setDecimals(2)
        self.epochs_spin.setSingleStep(0.25)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(0.000001, 0.1)
        self.lr_spin.setSingleStep(0.0001)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 256)
        self.block_spin = QSpinBox()
        self.block_spin.setRange(16, 8192)
        self.block_spin.setSingleStep(64)
        self.share_spin = QDoubleSpinBox()
        self.share_spin.setRange(0.02, 0.5)
        self.share_spin.setSingleStep(0.05)
        self.share_spin.setDecimals(2)
        self.share_spin.setValue(DEFAULT_EVAL_SHARE)
        self.reset_button = QPushButton("Back to automatic")
        grid.addWidget(self.steps_radio, 0, 0)
        grid.addWidget(self.steps_spin, 0, 1)
        grid.addWidget(self.epochs_radio, 0, 2)
        grid.addWidget(self.epochs_spin, 0, 3)
        grid.addWidget(QLabel("Learning rate:"), 1, 0)
        grid.addWidget(self.lr_spin, 1, 1)
        grid.addWidget(QLabel("Batch size:"), 1, 2)
        grid.addWidget(self.batch_spin, 1, 3)
        grid.addWidget(QLabel("Block size (tokens):"), 2, 0)
        grid.addWidget(self.block_spin, 2, 1)
        grid.addWidget(QLabel("Held-out share:"), 2, 2)
        grid.addWidget(self.share_spin, 2, 3)
        grid.addWidget(self.reset_button, 3, 3)
        grid.addWidget(_muted("The defaults are the trainer's own plan for this folder and computer. "
                              "A held-out share change re-reads the folder."), 3, 0, 1, 3)
        self.advanced.hide()
        layout.addWidget(self.advanced)
        for spin in (self.steps_spin, self.epochs_spin, self.lr_spin, self.batch_spin, self.block_spin):
            spin.valueChanged.connect(self.changed)
        self.steps_radio.toggled.connect(self._length_kind_changed)
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.estimate.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.estimate)
        layout.addStretch(1)

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _length_kind_changed(self) -> None:
        self.steps_spin.setEnabled(self.steps_radio.isChecked())
        self.epochs_spin.setEnabled(not self.steps_radio.isChecked())
        self.changed.emit()

    @property
    def mode(self) -> str:
        for key, button in self.mode_buttons.items():
            if button.isChecked():
                return key
        return "lora"

    def set_automatic(self, hp: dict[str, Any], eval_share: float) -> None:
        """Fill the Advanced fields with the trainer's automatic plan (without emitting changes)."""
        widgets = (self.steps_spin, self.epochs_spin, self.lr_spin, self.batch_spin, self.block_spin,
                   self.share_spin, self.steps_radio)
        for widget in widgets:
            widget.blockSignals(True)
        self.steps_spin.setValue(int(hp["max_steps"]))
        self.epochs_spin.setValue(max(0.01, float(hp.get("epochs") or 0.01)))
        self.lr_spin.setValue(float(hp["lr"]))
        self.batch_spin.setValue(int(hp["batch_size"]))
        self.block_spin.setValue(int(hp["block_size"]))
        self.share_spin.setValue(eval_share)
        self.steps_radio.setChecked(True)
        for widget in widgets:
            widget.blockSignals(False)
        self.steps_spin.setEnabled(True)
        self.epochs_spin.setEnabled(False)


# -- step 3 ------------------------------------------------------------------------------------

def _nice_interval(rough: float) -> float:
    """The smallest of 1, 2, 5 x 10^n (at least 1) that is >= rough."""
    if rough <= 1:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= rough:
            return float(factor * magnitude)
    return float(10 * magnitude)


class LossChart(QChartView):
    """Training loss and held-out loss against the step, growing as events arrive."""

    def __init__(self) -> None:
        chart = QChart()
        chart.setTitle("Loss (lower is better)")
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setMargins(QMargins(4, 4, 4, 4))
        self.train_series = QLineSeries()
        self.train_series.setName("training")
        self.train_series.setPen(QPen(QColor("#2f6f9f"), 1.6))
        self.eval_series = QLineSeries()
        self.eval_series.setName("held-out")
        self.eval_series.setPen(QPen(QColor("#d9822b"), 2.4))
        self.eval_series.setPointsVisible(True)
        chart.addSeries(self.train_series)
        chart.addSeries(self.eval_series)
        self.x_axis = QValueAxis()
        self.x_axis.setTitleText("step")
        self.x_axis.setLabelFormat("%d")
        self.y_axis = QValueAxis()
        self.y_axis.setTitleText("loss")
        self.y_axis.setLabelFormat("%.2f")
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        for series in (self.train_series, self.eval_series):
            series.attachAxis(self.x_axis)
            series.attachAxis(self.y_axis)
        super().__init__(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(220)
        self.max_steps = 1
        self._rescale()

    def clear(self) -> None:
        self.train_series.clear()
        self.eval_series.clear()
        self._rescale()

    def set_max_steps(self, max_steps: int) -> None:
        self.max_steps = max(1, max_steps)
        self._rescale()

    def add_train(self, step: int, loss: float) -> None:
        self._append(self.train_series, step, loss)

    def add_eval(self, step: int, loss: float) -> None:
        self._append(self.eval_series, step, loss)

    def _append(self, series: QLineSeries, step: int, value: float) -> None:
        if not math.isfinite(value):
            return
        # A resumed run restarts from its checkpoint: drop points it is about to redo.
        while series.count() and series.at(series.count() - 1).x() >= step:
            series.remove(series.count() - 1)
        series.append(QPointF(step, value))
        self._rescale()

    def _rescale(self) -> None:
        values = [series.at(i).y() for series in (self.train_series, self.eval_series) for i in range(series.count())]
        # Whole, round step numbers on the axis (1, 2, 5 x 10^n apart), never "0, 2, 5, 7, 10".
        self.x_axis.setRange(0, self.max_steps)
        self.x_axis.setTickType(QValueAxis.TickType.TicksDynamic)
        self.x_axis.setTickAnchor(0)
        self.x_axis.setTickInterval(_nice_interval(self.max_steps / 6))
        if values:
            low, high = min(values), max(values)
            pad = max(0.02, (high - low) * 0.08)
            self.y_axis.setRange(max(0.0, low - pad), high + pad)
            self.y_axis.applyNiceNumbers()
        else:
            self.y_axis.setRange(0, 5)


class TrainingPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.status = QLabel("Starting…")
        font = self.status.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.status.setFont(font)
        layout.addWidget(self.status)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        layout.addWidget(self.progress)
        self.numbers = QLabel(" ")
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.numbers)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setFrameShape(QFrame.Shape.StyledPanel)
        self.message.setMargin(8)
        self.message.hide()
        layout.addWidget(self.message)
        self.chart = LossChart()
        layout.addWidget(self.chart, 3)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(3000)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.9))
        self.log.setFont(mono)
        self.log.setMinimumHeight(90)
        layout.addWidget(self.log, 1)

    def append_log(self, text: str) -> None:
        self.log.appendPlainText(text)

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.show()


# -- step 4 ------------------------------------------------------------------------------------

class ScoreSelector(QWidget):
    """1-5 as five small toggle buttons; value() is None until the writer picks one."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        for value in range(1, 6):
            button = QToolButton()
            button.setText(str(value))
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setMinimumWidth(26)
            self.group.addButton(button, value)
            layout.addWidget(button)
        layout.addStretch(1)
        self.group.idToggled.connect(lambda _id, checked: checked and self.changed.emit())

    def value(self) -> int | None:
        checked = self.group.checkedId()
        return checked if checked > 0 else None

    def set_value(self, value: int | None) -> None:
        if value is not None:
            self.group.button(value).setChecked(True)


class PairWidget(QGroupBox):
    """One prompt: the two continuations as "A" and "B", scores under each, and the preference."""

    changed = Signal()

    def __init__(self, sample: dict[str, Any], pair: Any) -> None:
        super().__init__(f"{pair.index + 1}. {str(sample.get('form') or 'sample').capitalize()}")
        self.pair = pair
        layout = QVBoxLayout(self)
        prompt = QLabel(f"<i>Prompt:</i> {html.escape(str(sample.get('prompt', ''))).replace(chr(10), '<br>')}")
        prompt.setWordWrap(True)
        prompt.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(prompt)
        columns = QHBoxLayout()
        self.titles: dict[str, QLabel] = {}
        self.scores: dict[str, dict[str, ScoreSelector]] = {}
        for column, letter in (("left", "A"), ("right", "B")):
            text = sample["after"] if pair.role_of(column) == "tuned" else sample["before"]
            box = QVBoxLayout()
            title = QLabel(f"<b>Version {letter}</b>")
            self.titles[column] = title
            box.addWidget(title)
            view = QTextBrowser()
            view.setPlainText(str(text).strip() or "(the model wrote nothing)")
            view.setMinimumHeight(110)
            view.setMaximumHeight(180)
            box.addWidget(view)
            form = QFormLayout()
            self.scores[column] = {}
            for criterion in CRITERIA:
                selector = ScoreSelector()
                selector.changed.connect(self.changed)
                self.scores[column][criterion] = selector
                form.addRow(f"{criterion.capitalize()}:", selector)
            box.addLayout(form)
            columns.addLayout(box, 1)
        layout.addLayout(columns)
        preference = QHBoxLayout()
        preference.addWidget(QLabel("Which is better?"))
        self.preference_group = QButtonGroup(self)
        self.preference_buttons = {}
        for key, label in (("left", "A"), ("right", "B"), ("same", "About the same")):
            button = QRadioButton(label)
            self.preference_group.addButton(button)
            self.preference_buttons[key] = button
            preference.addWidget(button)
            button.toggled.connect(lambda checked: checked and self.changed.emit())
        preference.addStretch(1)
        layout.addLayout(preference)
        self._load_existing()

    def _load_existing(self) -> None:
        if self.pair.preference is None:
            return
        preferred = "same" if self.pair.preference == "same" else self.pair.column_of(self.pair.preference)
        self.preference_buttons[preferred].setChecked(True)
        for role, scores in self.pair.scores.items():
            column = self.pair.column_of(role)
            for criterion, value in scores.items():
                self.scores[column][criterion].set_value(value)

    def is_complete(self) -> bool:
        return self.preference_group.checkedButton() is not None and all(
            selector.value() is not None for column in self.scores.values() for selector in column.values())

    def preferred_column(self) -> str | None:
        for key, button in self.preference_buttons.items():
            if button.isChecked():
                return None if key == "same" else key
        return None

    def scores_by_column(self) -> dict[str, dict[str, int]]:
        return {column: {c: s.value() for c, s in selectors.items() if s.value() is not None}
                for column, selectors in self.scores.items()}

    def reveal(self) -> None:
        for column, title in self.titles.items():
            letter = "A" if column == "left" else "B"
            tuned = self.pair.role_of(column) == "tuned"
            title.setText(f"<b>Version {letter}</b> — "
                          f"<span style='color:{'#2e7d32' if tuned else '#6f6a62'}'>"
                          f"{'tuned model' if tuned else 'base model'}</span>")


class ResultsView(QWidget):
    """Perplexity before/after and the blind rating of report.json's samples, for one model folder."""

    ratings_saved = Signal(str)  # path of ratings.json

    def __init__(self, model_folder: Path, report: dict[str, Any]) -> None:
        super().__init__()
        self.model_folder = Path(model_folder)
        self.report = report
        self.samples = [s for s in report.get("samples") or [] if isinstance(s, dict)]
        layout = QVBoxLayout(self)
        self.perplexity = QLabel(self._perplexity_text())
        self.perplexity.setWordWrap(True)
        self.perplexity.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.perplexity)
        self.pairs: list[PairWidget] = []
        self.ratings: Ratings | None = None
        self.revealed = False
        if not self.samples:
            layout.addWidget(_muted("This model has no samples to compare (it was trained with --no-samples)."))
            layout.addStretch(1)
            self.summary = QLabel()
            self.reveal_button = QPushButton()
            self.reveal_button.hide()
            return
        # Reuses the stored blind layout (and any earlier ratings) when the samples are the same.
        self.ratings = load_or_create_ratings(self.model_folder, self.samples)
        layout.addWidget(_muted("Each prompt was continued by the base model and by the tuned model, with the same "
                                "random seed. Which one is which stays hidden until you have rated them."))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        for sample, pair in zip(self.samples, self.ratings.pairs):
            widget = PairWidget(sample, pair)
            widget.changed.connect(self._update_button)
            self.pairs.append(widget)
            inner_layout.addWidget(widget)
        inner_layout.addStretch(1)
        scroll.setWidget(inner)
        layout.addWidget(scroll, 1)
        bottom = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        bottom.addWidget(self.summary, 1)
        self.reveal_button = QPushButton("Reveal and save ratings")
        self.reveal_button.clicked.connect(self.reveal_and_save)
        bottom.addWidget(self.reveal_button)
        layout.addLayout(bottom)
        if self.ratings.rated:
            # Rated before (the dialog reopened from the model manager): nothing is hidden any more.
            self._show_revealed()
        self._update_button()

    def _perplexity_text(self) -> str:
        before, after = self.report.get("perplexity_before"), self.report.get("perplexity_after")
        if not isinstance(before, (int, float)) or not isinstance(after, (int, float)):
            return "Perplexity was not measured."
        change = (after - before) / before * 100 if before else 0.0
        verdict = ("the tuned model predicts your held-out chapters better" if after < before
                   else "the tuned model does <b>not</b> predict your held-out chapters better; more text or more "
                        "steps may help")
        return (f"<b>Perplexity on held-out text</b> (chapters never trained on; lower is better): "
                f"<b>{before:.2f}</b> before → <b>{after:.2f}</b> after "
                f"(<span style='{OK_STYLE if after < before else ERROR_STYLE}'>{change:+.1f}%</span>): {verdict}.")

    def _update_button(self) -> None:
        if not self.pairs:
            return
        complete = sum(1 for pair in self.pairs if pair.is_complete())
        self.reveal_button.setEnabled(complete > 0)
        if not self.revealed:
            self.summary.setText(f"{complete} of {len(self.pairs)} pairs rated.")

    def reveal_and_save(self) -> Path | None:
        """Record every completely rated pair, save ratings.json and show which column was which."""
        assert self.ratings is not None
        unrated = [pair for pair in self.pairs if not pair.is_complete()]
        if unrated and not self.revealed and not confirm(
                self, "Reveal the models?",
                f"{len(unrated)} of {len(self.pairs)} pairs are not fully rated; they will not be counted, and "
                "once revealed the comparison is no longer blind.", "Reveal", "Keep rating"):
            return None
        for widget in self.pairs:
            if widget.is_complete():
                self.ratings.rate(widget.pair.index, preferred_column=widget.preferred_column(),
                                  scores_by_column=widget.scores_by_column())
        try:
            path = save_ratings(self.model_folder, self.ratings)
        except OSError as exc:
            QMessageBox.warning(self, "Ratings not saved", f"Could not save the ratings in {self.model_folder}: {exc}")
            return None
        self._show_revealed()
        self.ratings_saved.emit(str(path))
        return path

    def _show_revealed(self) -> None:
        assert self.ratings is not None
        self.revealed = True
        for widget in self.pairs:
            widget.reveal()
        self.reveal_button.setText("Save ratings")
        summary = summarise(self.ratings)
        if summary.rated:
            means = ", ".join(f"{c} {summary.tuned_means[c]:.1f} vs {summary.base_means[c]:.1f}" for c in CRITERIA)
            self.summary.setText(f"<b>You preferred the tuned model in {summary.tuned_preferred} of {summary.rated} "
                                 f"pairs</b> (base: {summary.base_preferred}, same: {summary.same}). "
                                 f"Tuned vs base — {means}. Saved with the model.")
        else:
            self.summary.setText("No pair was fully rated.")


# -- the dialog --------------------------------------------------------------------------------

class FineTuneDialog(QDialog):
    use_model_requested = Signal(str)
    scan_done = Signal()  # step 1's report (or its error) is shown; emitted in the GUI thread

    def __init__(self, paths: AppPaths, settings: Settings, parent: QWidget | None = None, *,
                 trainer_command: list[str] | None = None) -> None:
        """`trainer_command` replaces `python -m cw_desktop` (tests run a fake trainer script)."""
        super().__init__(parent)
        self.setWindowTitle("Fine-tune on a folder")
        self.setModal(False)
        self.resize(920, 720)
        self.paths = paths
        self.settings = settings
        self.trainer_command = list(trainer_command) if trainer_command else cli_prefix()
        self.report: dict[str, Any] | None = None  # the latest scan report
        self.automatic_hp: dict[str, Any] = {}
        self.process: TrainingProcess | None = None
        self.run_context: dict[str, Any] = {}  # folder, base, include_accepted, name of the current run
        self.resumable_run: str | None = None
        self.output: Path | None = None
        self.results: ResultsView | None = None
        self._scan_request = 0
        self._close_guard: Any = None  # registered with the editor window while a trainer runs

        layout = QVBoxLayout(self)
        self.steps_label = QLabel()
        self.steps_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.steps_label)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        self.stack = QStackedWidget()
        self.folder_page = FolderPage()
        self.model_page = ModelPage()
        self.training_page = TrainingPage()
        self.results_page = QWidget()
        QVBoxLayout(self.results_page).setContentsMargins(0, 0, 0, 0)
        for page in (self.folder_page, self.model_page, self.training_page, self.results_page):
            self.stack.addWidget(page)
        layout.addWidget(self.stack, 1)

        buttons = QHBoxLayout()
        self.back_button = QPushButton("Back")
        self.next_button = QPushButton("Next")
        self.cancel_training_button = QPushButton("Stop training")
        self.resume_button = QPushButton("Resume training")
        self.use_button = QPushButton("Use this model")
        self.close_button = QPushButton("Close")
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        for button in (self.cancel_training_button, self.resume_button, self.next_button, self.use_button,
                       self.close_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)

        self.back_button.clicked.connect(self._back)
        self.next_button.clicked.connect(self._next)
        self.cancel_training_button.clicked.connect(self.stop_training)
        self.resume_button.clicked.connect(self._resume_current)
        self.use_button.clicked.connect(self._use_model)
        self.close_button.clicked.connect(self.reject)
        self.folder_page.choose_button.clicked.connect(self._choose_folder)
        self.folder_page.rescan_button.clicked.connect(lambda: self.scan(rescan=True))
        self.folder_page.folder_edit.returnPressed.connect(lambda: self.scan())
        self.folder_page.resume_button.clicked.connect(self._resume_selected)
        self.folder_page.discard_button.clicked.connect(self._discard_selected)
        self.model_page.changed.connect(self._update_estimate)
        self.model_page.base_combo.currentIndexChanged.connect(self._base_changed)
        self.model_page.accepted_check.toggled.connect(self._base_changed)
        self.model_page.share_spin.editingFinished.connect(self._share_changed)
        self.model_page.reset_button.clicked.connect(self._reset_advanced)

        self.scan_worker = ScanWorker(paths)
        self.scan_thread = start_in_thread(self.scan_worker, "cw-scan")
        # A dialog destroyed without being closed (its window closing) must not leave the thread running.
        self.destroyed.connect(lambda *_, worker=self.scan_worker, thread=self.scan_thread:
                               _stop_worker_thread(worker, thread))
        self.scan_worker.progress.connect(self._scan_progress)
        self.scan_worker.finished.connect(self._scan_finished)
        self.scan_worker.failed.connect(self._scan_failed)

        self._fill_base_models()
        self._fill_accepted()
        self.folder_page.show_runs(list_interrupted_runs(paths))
        self._go(0)

    # -- navigation ----------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.stack.currentIndex()

    def _go(self, step: int) -> None:
        self.stack.setCurrentIndex(step)
        parts = []
        for index, title in enumerate(STEP_TITLES):
            text = f"{index + 1}&nbsp;&nbsp;{title}"
            parts.append(f"<b style='font-size:large'>{text}</b>" if index == step else
                         f"<span style='color:gray'>{text}</span>")
        self.steps_label.setText("&nbsp;&nbsp;&nbsp;›&nbsp;&nbsp;&nbsp;".join(parts))
        self._update_buttons()

    def _update_buttons(self) -> None:
        step = self.step
        running = self.is_training_running()
        self.back_button.setVisible(step in (1,) or (step == 2 and not running and self.output is None))
        self.next_button.setVisible(step in (0, 1))
        self.next_button.setText("Start training" if step == 1 else "Next")
        ready = self.report is not None and not self.report.get("refusal") and "train_tokens" in self.report
        self.next_button.setEnabled(ready)
        self.cancel_training_button.setVisible(step == 2 and running)
        self.resume_button.setVisible(step == 2 and not running and self.resumable_run is not None)
        self.use_button.setVisible(step == 3)
        self.close_button.setText("Close")

    def _back(self) -> None:
        if self.step == 2:
            self._go(1)
        elif self.step > 0:
            self._go(self.step - 1)

    def _next(self) -> None:
        if self.step == 0:
            self._go(1)
            self._update_estimate()
        elif self.step == 1:
            self.start_training()

    # -- step 1: folder and scan ---------------------------------------------------------------
    def _choose_folder(self) -> None:
        folder = choose_folder(self, self.folder_page.folder_edit.text() or str(Path.home()))
        if folder:
            self.folder_page.folder_edit.setText(folder)
            self.scan()

    def scan(self, *, rescan: bool = False) -> int:
        """Scan the folder in the edit box for the selected base model; returns the request id."""
        folder = self.folder_page.folder_edit.text().strip()
        if not folder:
            return 0
        self.report = None
        if not self.scan_thread.isRunning():  # the dialog was closed and shown again
            self.scan_thread.start()
        self.folder_page.show_busy("Reading the folder…")
        self._update_buttons()
        self._scan_request = self.scan_worker.request(folder, self.base_spec(), self.model_page.share_spin.value(),
                                                      self._accepted_texts(), rescan=rescan)
        return self._scan_request

    @Slot(int, int, int, str)
    def _scan_progress(self, request: int, done: int, total: int, path: str) -> None:
        if request == self._scan_request:
            self.folder_page.show_scanning(done, total, path)

    @Slot(object)
    def _scan_finished(self, report: dict[str, Any]) -> None:
        if report.get("request") != self._scan_request:
            return
        self.report = report
        self.folder_page.show_report(report)
        if "hyperparameters" in report:
            self.automatic_hp = dict(report["hyperparameters"])
            self.model_page.set_automatic(self.automatic_hp, report["eval_share"])
            if self.model_page.mode_group.checkedButton() is None:  # keep a mode the writer chose
                self.model_page.mode_buttons.get(self.automatic_hp["mode"], self.model_page.mode_buttons["lora"]) \
                    .setChecked(True)
            if not self.model_page.name_edit.text().strip():
                self.model_page.name_edit.setText(self._default_name())
        self._update_estimate()
        self._update_buttons()
        self.scan_done.emit()

    @Slot(int, str)
    def _scan_failed(self, request: int, message: str) -> None:
        if request != self._scan_request:
            return
        self.report = None
        self.folder_page.progress.hide()
        self.folder_page.summary.setText("")
        self.folder_page.refusal.setText(message)
        self.folder_page.refusal.show()
        self.model_page.estimate.setText(f"<span style='{ERROR_STYLE}'>{html.escape(message)}</span>")
        self._update_buttons()
        self.scan_done.emit()

    # -- step 2: model and settings ------------------------------------------------------------
    def _fill_base_models(self) -> None:
        combo = self.model_page.base_combo
        combo.clear()
        current = self.settings.model.spec
        found_current = False
        try:
            infos = list_models(self.paths)
        except Exception:  # an unreadable catalog must not stop fine-tuning from the bundled model
            infos = []
        for info in infos:
            label = info.name if not info.is_fine_tuned else f"{info.name} (your fine-tune, continue from it)"
            combo.addItem(label, info.spec)
            if info.matches_spec(current):
                combo.setCurrentIndex(combo.count() - 1)
                found_current = True
        if combo.findData("bundled") < 0:
            combo.insertItem(0, "SmolLM2-135M (bundled)", "bundled")
        if not found_current and current:
            # The editor's current model (a folder opened by hand, say) is always a choice.
            combo.insertItem(0, f"The editor's current model ({Path(current).name or current})", current)
            combo.setCurrentIndex(0)

    def base_spec(self) -> str:
        return str(self.model_page.base_combo.currentData() or "bundled")

    def _fill_accepted(self) -> None:
        count = len(self._all_accepted_texts())
        check = self.model_page.accepted_check
        check.setText(f"Include my accepted suggestions ({count} from the editor's log)")
        check.setEnabled(count > 0)
        check.setToolTip("Suggestions you accepted, with the text around them and what you wrote next, "
                         "are added to the training text (never to the held-out text).")

    def _all_accepted_texts(self) -> list[str]:
        from cw_desktop.core.suggestion_log import SuggestionLog

        try:
            return SuggestionLog(self.paths.suggestion_log).training_texts()
        except OSError:
            return []

    def _accepted_texts(self) -> list[str] | None:
        return self._all_accepted_texts() if self.model_page.accepted_check.isChecked() else None

    def _base_changed(self) -> None:
        # Another tokenizer means other token counts, plan and estimate (the folder is not re-read).
        if self.folder_page.folder_edit.text().strip():
            self.model_page.estimate.setText("Counting tokens with this model's tokenizer…")
            self.scan()

    def _share_changed(self) -> None:
        if self.report is not None and abs(self.model_page.share_spin.value() - self.report["eval_share"]) > 1e-9:
            self.scan()

    def _reset_advanced(self) -> None:
        if self.report is not None and abs(self.report["eval_share"] - DEFAULT_EVAL_SHARE) > 1e-9:
            self.model_page.share_spin.setValue(DEFAULT_EVAL_SHARE)
            self.scan()
        elif self.automatic_hp:
            self.model_page.set_automatic(self.automatic_hp, DEFAULT_EVAL_SHARE)
            self.model_page.mode_buttons[self.automatic_hp["mode"]].setChecked(True)
            self._update_estimate()

    def overrides(self) -> dict[str, Any]:
        """Only what the writer changed from the automatic plan: the trainer plans the rest itself."""
        page, auto = self.model_page, self.automatic_hp
        chosen: dict[str, Any] = {}
        if page.mode != auto.get("mode"):
            chosen["mode"] = page.mode
        # The Advanced fields start at the automatic values, so any difference is the writer's choice.
        if page.steps_radio.isChecked():
            if page.steps_spin.value() != auto.get("max_steps"):
                chosen["max_steps"] = page.steps_spin.value()
        else:
            chosen["epochs"] = round(page.epochs_spin.value(), 2)
        if not math.isclose(page.lr_spin.value(), float(auto.get("lr", 0)), rel_tol=1e-6):
            chosen["lr"] = page.lr_spin.value()
        if page.batch_spin.value() != auto.get("batch_size"):
            chosen["batch_size"] = page.batch_spin.value()
        if page.block_spin.value() != auto.get("block_size"):
            chosen["block_size"] = page.block_spin.value()
        return chosen

    def _update_estimate(self) -> None:
        report = self.report
        if report is None or "train_tokens" not in report:
            return
        try:
            plan = plan_from_counts(report["train_tokens"], report["eval_tokens"], report["model"], self.overrides())
        except ValueError as exc:
            self.model_page.estimate.setText(f"<span style='{ERROR_STYLE}'>{html.escape(str(exc))}</span>")
            self.next_button.setEnabled(False)
            return
        hp = plan["hyperparameters"]
        text = (f"<b>Estimated time: about {_minutes(plan['estimated_seconds'])}</b> on this computer — "
                f"{hp['max_steps']:,} steps of {hp['block_size'] * hp['batch_size'] * hp['grad_accum']:,} tokens "
                f"({hp['epochs']:.2f} passes over your {report['train_tokens']:,} training tokens), "
                f"learning rate {hp['lr']:g}. You can stop at any time and resume later.")
        if plan["refusal"]:
            text += f"<br><span style='{ERROR_STYLE}'>{html.escape(plan['refusal'])}</span>"
        self.model_page.estimate.setText(text)
        self.next_button.setEnabled(self.step != 1 or not plan["refusal"])

    def _default_name(self) -> str:
        folder = Path(self.folder_page.folder_edit.text().strip())
        base = self.base_spec()
        base_name = "smollm2" if base == "bundled" else Path(base).name or base
        return f"{folder.name} on {base_name}"

    # -- step 3: training ----------------------------------------------------------------------
    def is_training_running(self) -> bool:
        """Training in progress; a trainer that already reported its end and is only exiting is not."""
        return self.process is not None and self.process.is_running() and not self.process.training_over

    def start_training(self) -> None:
        if self.report is None or self.is_training_running():
            return
        folder = self.report["folder"]
        base = self.base_spec()
        name = " ".join(self.model_page.name_edit.text().split()) or self._default_name()
        output = self._unique_output(name)
        overrides = self.overrides()
        include_accepted = self.model_page.accepted_check.isChecked()
        args = train_arguments(folder, base, output=str(output), mode=overrides.get("mode", self.model_page.mode),
                               max_steps=overrides.get("max_steps"), epochs=overrides.get("epochs"),
                               lr=overrides.get("lr"), batch_size=overrides.get("batch_size"),
                               block_size=overrides.get("block_size"),
                               eval_share=self.model_page.share_spin.value(), include_accepted=include_accepted)
        self.run_context = {"folder": folder, "base": base, "include_accepted": include_accepted, "name": name,
                            "eval_share": self.model_page.share_spin.value()}
        self.training_page.chart.clear()
        self.training_page.log.clear()
        self._launch(args)

    def _unique_output(self, name: str) -> Path:
        from cw_desktop.core.model_registry import slug

        stem = slug(name)
        candidate, n = stem, 2
        while (self.paths.models_dir / candidate).exists() or (self.paths.runs_dir / candidate).exists():
            candidate, n = f"{stem}-{n}", n + 1
        return self.paths.models_dir / candidate

    def resume_run(self, run: InterruptedRun) -> None:
        """Continue an interrupted run from its checkpoint (same folder, base and settings)."""
        if self.is_training_running():
            return
        # The same held-out share and extra texts as the interrupted run, or the data would differ
        # (the trainer refuses to resume on different data).
        args = train_arguments(run.folder, run.base, eval_share=run.eval_share, include_accepted=run.include_accepted,
                               resume=str(run.run_dir))
        self.run_context = {"folder": run.folder, "base": run.base, "include_accepted": run.include_accepted,
                            "eval_share": run.eval_share, "name": self.run_context.get("name") or run.name,
                            "run_dir": str(run.run_dir)}
        self.training_page.append_log(f"Resuming {run.name} from its last checkpoint…")
        self._launch(args)

    def _launch(self, args: list[str]) -> None:
        command = self.trainer_command + path_options(self.paths) + args
        process = TrainingProcess(command[0], command[1:], parent=self)
        process.stage.connect(self._on_stage)
        process.scan.connect(self._on_scan)
        process.plan.connect(self._on_plan)
        process.baseline.connect(self._on_baseline)
        process.step.connect(self._on_step)
        process.eval.connect(self._on_eval)
        process.checkpoint.connect(self._on_checkpoint)
        process.done.connect(self._on_done)
        process.cancelled.connect(self._on_cancelled)
        process.failed.connect(self._on_failed)
        process.log_line.connect(self._on_log_line)
        process.finished.connect(self._process_finished)
        self.process = process
        self.resumable_run = None
        self.output = None
        page = self.training_page
        page.message.hide()
        page.status.setText("Starting the trainer…")
        page.progress.setRange(0, 0)
        page.numbers.setText(" ")
        self._register_close_guard()
        self._go(2)
        process.start()
        self._update_buttons()

    @Slot()
    def _process_finished(self) -> None:
        if not self.is_training_running():
            self._unregister_close_guard()
        self._update_buttons()

    def stop_training(self) -> None:
        if self.process is not None and self.is_training_running():
            self.training_page.status.setText("Stopping after the current step (saving a checkpoint)…")
            self.cancel_training_button.setEnabled(False)
            self.process.cancel()

    @Slot(str)
    def _on_log_line(self, text: str) -> None:
        # Library deprecation warnings are for developers, not writers (failures still show the full log tail).
        if _PYTHON_WARNING.search(text) or text.strip() == "warnings.warn(":
            return
        self.training_page.append_log(text)

    @Slot(object)
    def _on_stage(self, event: dict[str, Any]) -> None:
        self.training_page.status.setText(str(event.get("message") or event.get("stage", "")).rstrip(".") + "…")
        self.training_page.append_log(f"» {event.get('message', '')}")

    @Slot(object)
    def _on_scan(self, event: dict[str, Any]) -> None:
        self.training_page.append_log(
            f"  {event['files_used']} files used, {event['files_skipped']} skipped, {event['words']:,} words; "
            f"{event['train_tokens']:,} training tokens, {event['eval_tokens']:,} held out; "
            f"estimated {_minutes(event.get('estimated_seconds'))}")

    @Slot(object)
    def _on_plan(self, event: dict[str, Any]) -> None:
        run_dir = event.get("run_dir")
        self.run_context["run_dir"] = run_dir
        if run_dir and Path(run_dir).is_dir():
            try:
                save_run_options(Path(run_dir), eval_share=self.run_context.get("eval_share"),
                                 include_accepted=bool(self.run_context.get("include_accepted")))
            except OSError as exc:  # only resuming later from step 1 would miss it
                self.training_page.append_log(f"(could not record the run's options: {exc})")
        hp = event.get("hyperparameters") or {}
        self.training_page.chart.set_max_steps(int(event["max_steps"]))
        self.training_page.progress.setRange(0, int(event["max_steps"]))
        self.training_page.append_log(
            f"  mode {event.get('mode')}, {event['max_steps']} steps, block {hp.get('block_size')}, batch "
            f"{hp.get('batch_size')}×{hp.get('grad_accum')}, learning rate {hp.get('lr')}")

    @Slot(object)
    def _on_baseline(self, event: dict[str, Any]) -> None:
        perplexity = float(event["perplexity"])
        self.run_context["baseline"] = perplexity
        # The base model's held-out loss is the chart's starting point at step 0.
        self.training_page.chart.add_eval(0, math.log(perplexity))
        self.training_page.append_log(f"  base model: held-out perplexity {perplexity:.2f}")

    @Slot(object)
    def _on_step(self, event: dict[str, Any]) -> None:
        page = self.training_page
        step, max_steps = int(event["step"]), int(event["max_steps"])
        page.progress.setRange(0, max_steps)
        page.progress.setValue(step)
        page.progress.setFormat(f"step {step} of {max_steps} (%p%)")
        page.chart.add_train(step, float(event["loss"]))
        page.numbers.setText(f"<b>{_minutes(event.get('eta_s'))} left</b> · {event.get('tokens_per_s', 0):,.0f} "
                             f"tokens/s · loss {event['loss']:.3f} · running for {_minutes(event.get('elapsed_s'))}")

    @Slot(object)
    def _on_eval(self, event: dict[str, Any]) -> None:
        self.training_page.chart.add_eval(int(event["step"]), float(event["eval_loss"]))
        self.training_page.append_log(f"  step {event['step']}: held-out perplexity {event['perplexity']:.2f}")

    @Slot(object)
    def _on_checkpoint(self, event: dict[str, Any]) -> None:
        self.training_page.append_log(f"  checkpoint saved at step {event['step']}")

    @Slot(object)
    def _on_done(self, event: dict[str, Any]) -> None:
        self.output = Path(event["output"])
        report = dict(event.get("report") or {})
        wanted = self.run_context.get("name")
        if wanted and wanted != report.get("name"):
            try:
                rename_model(self.output, wanted, self.paths)
                report["name"] = wanted
            except (RegistryError, OSError) as exc:
                self.training_page.append_log(f"Could not name the model '{wanted}': {exc}")
        self.training_page.status.setText("Done.")
        self.training_page.progress.setValue(self.training_page.progress.maximum())
        self.training_page.append_log(f"Saved {self.output}")
        self.show_results(self.output, report)

    @Slot(object)
    def _on_cancelled(self, event: dict[str, Any]) -> None:
        self.cancel_training_button.setEnabled(True)
        run_dir = event.get("run_dir")
        if event.get("checkpoint") and run_dir:
            self.resumable_run = str(run_dir)
            text = (f"Training stopped at step {event.get('step')}. The checkpoint is kept: "
                    "“Resume training” continues from there (also later, from step 1 of this dialog).")
        else:
            text = "Training stopped before the first checkpoint; nothing was saved. Start again from step 2."
        self.training_page.status.setText("Stopped.")
        self.training_page.show_message(text, error=False)
        self._update_buttons()

    @Slot(object)
    def _on_failed(self, event: dict[str, Any]) -> None:
        self.cancel_training_button.setEnabled(True)
        run_dir = event.get("run_dir")
        if event.get("checkpoint") and run_dir:
            self.resumable_run = str(run_dir)
        self.training_page.status.setText("Training failed.")
        self.training_page.show_message(str(event.get("message")), error=True)
        self.training_page.append_log(f"ERROR: {event.get('message')}")
        self._update_buttons()

    def _resume_current(self) -> None:
        if self.resumable_run is None:
            return
        for run in list_interrupted_runs(self.paths):
            if str(run.run_dir) == self.resumable_run:
                self.resume_run(run)
                return
        self.training_page.show_message("The interrupted run's folder is gone; start a new run from step 2.",
                                        error=True)

    def _selected_run(self) -> InterruptedRun | None:
        run = self.folder_page.resume_combo.currentData()
        return run if isinstance(run, InterruptedRun) else None

    def _resume_selected(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.training_page.chart.clear()
            self.training_page.log.clear()
            self.run_context = {"name": run.name}
            self.resume_run(run)

    def _discard_selected(self) -> None:
        run = self._selected_run()
        if run is None or not confirm(self, "Discard the interrupted run?",
                                      f"Delete the checkpoint of {run.name}? The run cannot be resumed afterwards. "
                                      "Your manuscripts are not touched.", "Discard", "Keep"):
            return
        try:
            discard_run(run.run_dir, self.paths)
        except (RegistryError, OSError) as exc:
            QMessageBox.warning(self, "Could not discard the run", str(exc))
        self.folder_page.show_runs(list_interrupted_runs(self.paths))

    # -- step 4: results -----------------------------------------------------------------------
    def show_results(self, folder: Path, report: dict[str, Any]) -> None:
        layout = self.results_page.layout()
        if self.results is not None:
            layout.removeWidget(self.results)
            self.results.deleteLater()
        self.results = ResultsView(folder, report)
        layout.addWidget(self.results)
        self._go(3)

    def _use_model(self) -> None:
        if self.output is not None:
            self.use_model_requested.emit(str(self.output))
            self.use_button.setText("Used in the editor ✓")
            self.use_button.setEnabled(False)

    # -- closing -------------------------------------------------------------------------------
    def _register_close_guard(self) -> None:
        """While a trainer runs, the editor asks before closing (contract E); no-op without a window."""
        window = self.parent()
        if self._close_guard is not None or window is None or not hasattr(window, "register_close_guard"):
            return
        dialog_alive = [True]
        self.destroyed.connect(lambda *_: dialog_alive.__setitem__(0, False))

        def ok_to_close() -> bool:
            # The window may outlive this dialog: a destroyed dialog has nothing left to guard.
            return not dialog_alive[0] or self.ask_to_stop()

        self._close_guard = ok_to_close
        window.register_close_guard(ok_to_close)

    def _unregister_close_guard(self) -> None:
        window = self.parent()
        if self._close_guard is not None and window is not None and hasattr(window, "unregister_close_guard"):
            window.unregister_close_guard(self._close_guard)
            self._close_guard = None

    def ask_to_stop(self) -> bool:
        """True when nothing is running or the writer agreed to stop training (which then stops)."""
        if not self.is_training_running():
            return True
        if not confirm(self, "Training is running",
                       "A model is being trained. Stop training now? The last checkpoint is kept, and you can "
                       "resume the run later from Model ▸ Fine-tune on a folder.",
                       "Stop training", "Keep training"):
            return False
        self.stop_training()
        assert self.process is not None
        self.process.wait(CLOSE_WAIT_MS)
        return True

    def reject(self) -> None:
        # The window's close button, Esc and "Close" all land here (QDialog.closeEvent calls reject).
        if self.ask_to_stop():
            super().reject()

    def done(self, result: int) -> None:
        self.shutdown()
        self._unregister_close_guard()
        super().done(result)

    def shutdown(self) -> None:
        """Stop the scan thread (a scan in progress stops at the next file)."""
        _stop_worker_thread(self.scan_worker, self.scan_thread)
        if self.process is not None and self.process.is_running() and self.process.training_over:
            # The model is saved; give the trainer its second or two to exit instead of killing it.
            self.process.wait(10_000)


# -- standalone launcher (screenshots, manual testing) -----------------------------------------

def main(argv: list[str] | None = None) -> int:
    import argparse

    from PySide6.QtWidgets import QApplication

    parser = argparse.ArgumentParser(description="Open the fine-tuning dialog on its own.")
    parser.add_argument("--data")
    parser.add_argument("--config")
    parser.add_argument("--cache")
    parser.add_argument("--folder", help="folder to scan straight away")
    parser.add_argument("--base", help="base model spec to preselect")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        from cw_desktop.gui.theme import apply_theme

        apply_theme(app, "light")  # type: ignore[arg-type]
    except ImportError:
        pass
    paths = AppPaths.default(config=args.config, data=args.data, cache=args.cache).ensure()
    settings = Settings.load(paths.settings_file)
    if args.base:
        settings.model.spec = args.base
    dialog = FineTuneDialog(paths, settings)
    dialog.use_model_requested.connect(lambda spec: print(f"use model: {spec}"))
    if args.folder:
        dialog.folder_page.folder_edit.setText(args.folder)
        dialog.scan()
    dialog.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
