"""Merging LoRA adapters off the GUI thread (it loads the base model with torch: seconds)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot

from cw_desktop.core.paths import AppPaths
from cw_desktop.workers.threads import Worker


class AdapterMergeWorker(Worker):
    """merge() queues one merge; finished(new adapter folder) or failed(name, message) answers."""

    finished = Signal(str)
    _requested = Signal(list, list, str)

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self.paths = paths
        self._requested.connect(self._merge)

    def merge(self, folders: list[str], weights: list[float], name: str) -> None:
        self._requested.emit(folders, weights, name)

    @Slot(list, list, str)
    def _merge(self, folders: list[str], weights: list[float], name: str) -> None:
        try:
            from cw_desktop.ml.adapters import merge_adapters
            from cw_desktop.ml.loading import ModelLoadError

            output = merge_adapters(self.paths, [Path(f) for f in folders], weights, name)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the writer
            self.report_failure(name, exc, expected=(ValueError, OSError, ModelLoadError))
            return
        self.finished.emit(str(output))
