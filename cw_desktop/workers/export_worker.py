"""Copy a model folder elsewhere off the GUI thread (a fully fine-tuned model is hundreds of MB)."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from cw_desktop.core.model_registry import RegistryError, export_model


class ExportWorker(QObject):
    """Lives in a QThread; export() queues one copy. Signals carry the source folder as the key."""

    progress = Signal(str, int, int)  # source folder, bytes copied, bytes total
    finished = Signal(str, str)  # source folder, new folder
    failed = Signal(str, str)  # source folder, message for the writer
    _requested = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()
        self._requested.connect(self._export)

    def export(self, folder: str, target_parent: str) -> None:
        self._stop.clear()
        self._requested.emit(folder, target_parent)

    def cancel(self) -> None:
        self._stop.set()

    @Slot(str, str)
    def _export(self, folder: str, target_parent: str) -> None:
        last_percent = -1

        def on_progress(done: int, total: int) -> None:
            nonlocal last_percent
            percent = done * 100 // max(1, total)
            if percent != last_percent:  # ~100 signals for any size, not one per 4 MB chunk
                last_percent = percent
                self.progress.emit(folder, done, total)

        try:
            destination = export_model(Path(folder), Path(target_parent), on_progress=on_progress,
                                       should_stop=self._stop.is_set)
        except (RegistryError, OSError) as exc:
            self.failed.emit(folder, str(exc))
            return
        self.finished.emit(folder, str(destination))
