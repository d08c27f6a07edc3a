"""Model manager ▸ Merge adapters…: a new adapter that is a weighted blend of two adapters of one base
("70% my novel's voice, 30% my short stories'")."""

from __future__ import annotations

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout,
                               QWidget)

from cw_desktop.core.adapters import adapter_base
from cw_desktop.core.model_registry import ModelInfo
from cw_desktop.core.paths import AppPaths
from cw_desktop.dialogs.widgets import button, button_row
from cw_desktop.workers.adapter_worker import AdapterMergeWorker
from cw_desktop.workers.threads import start_owned, stop_worker

MERGE_STOP_WAIT_MS = 60_000


class MergeAdaptersDialog(QDialog):
    merged = Signal(str)  # the new adapter's folder

    def __init__(self, paths: AppPaths, adapters: list[ModelInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Merge adapters")
        self.adapters = [a for a in adapters if a.folder is not None]
        self.first, self.second = QComboBox(), QComboBox()
        for combo in (self.first, self.second):
            for info in self.adapters:
                combo.addItem(info.name, str(info.folder))
        if len(self.adapters) > 1:
            self.second.setCurrentIndex(1)
        self.first_weight, self.second_weight = (QDoubleSpinBox(minimum=-2.0, maximum=2.0, singleStep=0.1, value=0.5)
                                                 for _ in range(2))
        self.name = QLineEdit("blend")
        form = QFormLayout()
        form.addRow("First adapter", self.first)
        form.addRow("its weight", self.first_weight)
        form.addRow("Second adapter", self.second)
        form.addRow("its weight", self.second_weight)
        form.addRow("New adapter's name", self.name)
        self.status = QLabel("The new adapter changes the base by the weighted sum of the two adapters' changes.")
        self.status.setWordWrap(True)
        self.merge_button = button("Merge", self.start_merge)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(button_row([], [self.merge_button, button("Close", self.reject)]))
        self.paths = paths
        self.worker: AdapterMergeWorker | None = None
        self.thread: QThread | None = None

    def problem(self) -> str:
        first, second = self.first.currentData(), self.second.currentData()
        if not first or not second or first == second:
            return "Choose two different adapters."
        if adapter_base(first) != adapter_base(second):
            return "These adapters belong to different base models; only adapters of one base can be merged."
        if not self.name.text().strip():
            return "Give the new adapter a name."
        return ""

    def start_merge(self) -> None:
        problem = self.problem()
        if problem:
            self.status.setText(problem)
            return
        self.merge_button.setEnabled(False)
        self.status.setText("Merging (loading the base model)…")
        # A thread per merge, stopped when it answers: none is left running when the dialog goes.
        self.worker = AdapterMergeWorker(self.paths)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(lambda _name, message: self._failed(message))
        self.thread = start_owned(self.worker, "cw-adapter-merge", self, MERGE_STOP_WAIT_MS)
        self.worker.merge([self.first.currentData(), self.second.currentData()],
                          [self.first_weight.value(), self.second_weight.value()], self.name.text().strip())

    def _stop(self) -> None:
        if self.worker is not None and self.thread is not None:
            stop_worker(self.worker, self.thread, MERGE_STOP_WAIT_MS)

    def _finished(self, folder: str) -> None:
        self._stop()
        self.status.setText(f"Saved {folder}")
        self.merge_button.setEnabled(True)
        self.merged.emit(folder)

    def _failed(self, message: str) -> None:
        self._stop()
        self.status.setText(f"Could not merge: {message}")
        self.merge_button.setEnabled(True)
