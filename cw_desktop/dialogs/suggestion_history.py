"""Model ▸ Suggestion history…: what the editor suggested, what the writer did with it, per model.

The log (core/suggestion_log.py) stays on this machine; this dialog shows it, the acceptance rate of
each model (the everyday measure of whether a fine-tune helps), and wipes it on request.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QMessageBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from cw_desktop.core.model_registry import list_models
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.suggestion_log import OUTCOMES, SuggestionLog
from cw_desktop.dialogs import questions
from cw_desktop.dialogs.widgets import button

OUTCOME_LABELS = {"accepted": "accepted", "partial": "accepted in part", "rejected": "rejected",
                  "typed_over": "typed over"}
ALL_MODELS = "All models"
# The newest entries are what a writer looks at; a years-long log would make the table slow.
MAX_ROWS = 5000


def _local_time(stamp: str) -> str:
    """The log stores UTC ISO times; show the writer's own clock."""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp[:16].replace("T", " ")


def outcome_label(event: dict) -> str:
    """The outcome, and how the suggestion came about when it was not a first ask (retry, swap…)."""
    label = OUTCOME_LABELS.get(str(event.get("outcome")), str(event.get("outcome")))
    how = []
    if event.get("via") == "retry" or (isinstance(event.get("attempt"), int) and event["attempt"] > 1):
        how.append(f"try {event.get('attempt', 2)} here")
    if event.get("via") == "history":
        how.append("shown again")
    if event.get("via") == "swap":
        how.append("swapped in")
    if event.get("swapped_out"):
        how.append("accepted, then swapped out")
    return label + (f" · {', '.join(how)}" if how else "")


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class SuggestionHistoryDialog(QDialog):
    use_model_requested = Signal(str)  # same signal as the other model dialogs; never emitted here

    def __init__(self, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Suggestion history")
        self.resize(1000, 560)
        self.paths = paths
        self.log = SuggestionLog(paths.suggestion_log)
        self.events: list[dict] = []
        self._names: dict[str, str] = {}

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Acceptance rate per model</b> — the share of shown suggestions you kept "
                                "(whole or in part)."))
        self.rates = QTableWidget(0, 6)
        self.rates.setHorizontalHeaderLabels(["Model", "Shown", "Accepted", "In part", "Rejected / typed over",
                                              "Acceptance rate"])
        self.rates.verticalHeader().hide()
        self.rates.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.rates.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.rates.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.rates.setMaximumHeight(150)
        layout.addWidget(self.rates)

        layout.addLayout(self._build_filters())

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Time", "Model", "Outcome", "Suggestion", "Your text around it"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)

        bottom = QHBoxLayout()
        self.info = QLabel()
        self.info.setProperty("muted", True)
        self.info.setWordWrap(True)
        bottom.addWidget(self.info, 1)
        self.refresh_button = button("Refresh", self.refresh)
        self.wipe_button = button("Wipe history…", self.wipe)
        self.close_button = button("Close", self.accept)
        for widget in (self.refresh_button, self.wipe_button, self.close_button):
            bottom.addWidget(widget)
        layout.addLayout(bottom)
        self.refresh()

    def _build_filters(self) -> QHBoxLayout:
        """Which model and which outcome the table shows."""
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show:"))
        self.model_filter = QComboBox()
        self.outcome_filter = QComboBox()
        self.outcome_filter.addItem("All outcomes", None)
        for outcome in OUTCOMES:
            self.outcome_filter.addItem(OUTCOME_LABELS[outcome], outcome)
        filters.addWidget(self.model_filter)
        filters.addWidget(self.outcome_filter)
        filters.addStretch(1)
        self.model_filter.currentIndexChanged.connect(self._fill_events)
        self.outcome_filter.currentIndexChanged.connect(self._fill_events)
        return filters

    def model_name(self, spec: str) -> str:
        """A readable name for a logged spec: the model's display name, or the folder's name."""
        if spec in self._names:
            return self._names[spec]
        name = spec
        for info in self._models:
            if info.matches_spec(spec):
                name = info.name
                break
        else:
            if "/" in spec and Path(spec).name:
                name = f"{Path(spec).name} (deleted)" if not Path(spec).exists() else Path(spec).name
        self._names[spec] = name
        return name

    def refresh(self) -> None:
        self.events = self.log.read()
        try:
            self._models = list_models(self.paths)
        except Exception:  # names are a nicety: the history must show even with an unreadable catalog
            self._models = []
        self._names.clear()
        self._fill_rates()
        current = self.model_filter.currentData()
        self.model_filter.blockSignals(True)
        self.model_filter.clear()
        self.model_filter.addItem(ALL_MODELS, None)
        for spec in sorted({str(e.get("model", "")) for e in self.events}, key=self.model_name):
            self.model_filter.addItem(self.model_name(spec), spec)
        index = self.model_filter.findData(current)
        self.model_filter.setCurrentIndex(max(0, index))
        self.model_filter.blockSignals(False)
        self._fill_events()
        self.wipe_button.setEnabled(bool(self.events))
        self.info.setText(f"{len(self.events):,} suggestions logged in {self.paths.suggestion_log}. The log never "
                          "leaves this computer; accepted suggestions can be added to fine-tuning.")

    def _fill_rates(self) -> None:
        table = self.log.acceptance_by_model()
        rows = sorted(table.items(), key=lambda item: -item[1]["shown"])
        self.rates.setRowCount(len(rows))
        for row, (spec, stats) in enumerate(rows):
            cells = [self.model_name(spec), str(stats["shown"]), str(stats["accepted"]), str(stats["partial"]),
                     str(stats["rejected"] + stats["typed_over"]), f"{stats['rate'] * 100:.0f}%"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(spec if column == 0 else text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.rates.setItem(row, column, item)

    def visible_events(self) -> list[dict]:
        model, outcome = self.model_filter.currentData(), self.outcome_filter.currentData()
        chosen = [e for e in self.events
                  if (model is None or e.get("model") == model) and (outcome is None or e.get("outcome") == outcome)]
        return list(reversed(chosen))[:MAX_ROWS]  # newest first

    def _fill_events(self) -> None:
        events = self.visible_events()
        self.table.setRowCount(len(events))
        for row, event in enumerate(events):
            taken = str(event.get("accepted_text") or "")
            suggestion = str(event.get("suggestion") or "")
            around = str(event.get("context_tail") or "")[-80:] + " ⟨…⟩ " + str(event.get("after_text") or "")
            cells = [_local_time(str(event.get("time", ""))), self.model_name(str(event.get("model", ""))),
                     outcome_label(event),
                     _one_line(suggestion) + (f"  [kept: {_one_line(taken, 60)}]"
                                             if event.get("outcome") == "partial" and taken else ""),
                     _one_line(around)]
            tips = [cells[0], str(event.get("model", "")), cells[2], suggestion,
                    f"{event.get('context_tail', '')}[{taken or suggestion}]{event.get('after_text', '')}"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tips[column])
                self.table.setItem(row, column, item)

    def wipe(self) -> None:
        if not self.events or not questions.confirm(
                self, "Wipe the suggestion history?",
                f"Delete all {len(self.events):,} logged suggestions? Acceptance rates start again from zero, "
                "and accepted suggestions can no longer be added to fine-tuning. This cannot be undone.",
                "Wipe history", "Keep", destructive=True):
            return
        try:
            self.log.wipe()
        except OSError as exc:
            QMessageBox.warning(self, "Could not wipe the history", f"{self.paths.suggestion_log}: {exc}")
        self.refresh()
