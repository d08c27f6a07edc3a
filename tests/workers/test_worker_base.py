"""The Worker base every QThread worker shares: failures always reach the GUI, cancel is one call,
and a dialog's busy thread outlives the dialog instead of aborting the app."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from cw_desktop.core.generation_settings import preset
from cw_desktop.workers import export_worker, threads
from cw_desktop.workers.export_worker import ExportWorker
from cw_desktop.workers.generation_worker import GenerationWorker
from cw_desktop.workers.model_loader import ModelLoaderWorker
from cw_desktop.workers.scan_worker import ScanWorker
from cw_desktop.workers.threads import Worker, start_in_thread, stop_thread, stop_worker
from signal_relay import relay


def test_every_worker_has_the_same_failure_signal_and_cancel(app_paths) -> None:
    for worker in (ExportWorker(), ScanWorker(app_paths), ModelLoaderWorker(app_paths)):
        assert isinstance(worker, Worker)
        worker.cancel()  # no arguments, whatever the worker
        assert worker.cancel_requested()
    generation = GenerationWorker()  # answers many requests: cancel() stops every unfinished one
    assert isinstance(generation, Worker)
    idle = QThread()  # never started: the requests stay queued, unfinished
    generation.moveToThread(idle)
    first, second = generation.submit_suggest("a", preset("prose")), generation.submit_write("poem", "The Sea")
    assert not generation.is_stopped(first) and not generation.is_stopped(second, superseded_by_newer=False)
    generation.cancel()
    assert generation.is_stopped(first) and generation.is_stopped(second, superseded_by_newer=False)


def test_an_unexpected_export_error_still_reaches_the_writer(qtbot, tmp_path: Path, monkeypatch) -> None:
    """Before the base class only RegistryError/OSError were reported: anything else left the
    model manager saying "Exporting…" for ever."""
    def broken_copy(*_args, **_kwargs):
        raise ValueError("metadata is not valid JSON")

    monkeypatch.setattr(export_worker, "export_model", broken_copy)
    worker = ExportWorker()
    thread = start_in_thread(worker, "test-export")
    try:
        with qtbot.waitSignal(relay(worker.failed).fired, timeout=10_000) as failed:
            worker.export(str(tmp_path / "model"), str(tmp_path / "out"))
        folder, message = failed.args[0]
        assert folder == str(tmp_path / "model") and "ValueError" in message and "not valid JSON" in message
    finally:
        assert stop_thread(thread)


class _Busy(QObject):
    """A job that ignores cancel() until the test releases it (like a file the scanner is reading)."""

    started = Signal()
    _go = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self._go.connect(self._run)

    def cancel(self) -> None:
        pass

    @Slot()
    def _run(self) -> None:
        self.started.emit()
        self.release.wait(10)


def test_a_thread_still_busy_when_its_dialog_closes_is_kept_until_it_ends(qtbot) -> None:
    busy = _Busy()
    thread = start_in_thread(busy, "test-busy")
    with qtbot.waitSignal(relay(busy.started).fired, timeout=5_000):
        busy._go.emit()
    assert not stop_worker(busy, thread, 50)
    assert (busy, thread) in threads._finishing  # referenced: a destroyed running QThread aborts the app
    busy.release.set()
    qtbot.waitUntil(lambda: not thread.isRunning(), timeout=5_000)
    threads._finishing.remove((busy, thread))
