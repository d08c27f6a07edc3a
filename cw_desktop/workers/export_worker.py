"""Copy a model folder elsewhere, or an imported one into the models, off the GUI thread (a fully
fine-tuned model is hundreds of MB)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot

from cw_desktop.core.model_import import import_model_folder
from cw_desktop.core.model_registry import RegistryError, export_model
from cw_desktop.core.paths import AppPaths
from cw_desktop.workers.threads import Worker


class ExportWorker(Worker):
    """Lives in a QThread; export() queues one copy. Signals carry the source folder as the key
    (failed(source folder, message) comes from Worker); cancel() removes the partial copy."""

    progress = Signal(str, int, int)  # source folder, bytes copied, bytes total
    finished = Signal(str, str)  # source folder, new folder
    _requested = Signal(str, str)  # folder, target parent ("" : import into the models folder)

    def __init__(self, paths: AppPaths | None = None) -> None:
        super().__init__()
        self.paths = paths
        self._requested.connect(self._export)

    def export(self, folder: str, target_parent: str) -> None:
        self.begin()
        self._requested.emit(folder, target_parent)

    def import_folder(self, folder: str) -> None:
        """Check `folder` (core/model_import.py) and copy it into the models folder; finished or failed."""
        self.begin()
        self._requested.emit(folder, "")

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
            if target_parent:
                destination = export_model(Path(folder), Path(target_parent), on_progress=on_progress,
                                           should_stop=self.cancel_requested)
            else:
                assert self.paths is not None, "an importing ExportWorker needs the app paths"
                destination = import_model_folder(Path(folder), self.paths, on_progress=on_progress,
                                                  should_stop=self.cancel_requested)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the writer
            self.report_failure(folder, exc, expected=(RegistryError, OSError))
            return
        self.finished.emit(folder, str(destination))
