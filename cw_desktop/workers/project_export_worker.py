"""Write a project's export (.docx, .odt, .epub, .md) off the GUI thread: a novel takes a second or two."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot

from cw_desktop.core.export import ExportChapter, ExportError, export_chapters
from cw_desktop.workers.threads import Worker


class ProjectExportWorker(Worker):
    """Lives in a QThread; export() queues one file. finished(target) when it is on disk,
    failed(target, message) from Worker otherwise (the message names the file)."""

    finished = Signal(str)
    _requested = Signal(object, str, str, object)

    def __init__(self) -> None:
        super().__init__()
        self._requested.connect(self._export)

    def export(self, chapters: list[ExportChapter], target: str, title: str, protected: list[Path]) -> None:
        """`chapters` is plain data, read on the GUI thread (open chapters' unsaved text included)."""
        self.begin()
        self._requested.emit(chapters, target, title, protected)

    @Slot(object, str, str, object)
    def _export(self, chapters: list[ExportChapter], target: str, title: str, protected: list[Path]) -> None:
        try:
            written = export_chapters(chapters, target, title, protected=protected)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the writer
            self.report_failure(target, exc, expected=(ExportError, OSError))
            return
        self.finished.emit(str(written))
