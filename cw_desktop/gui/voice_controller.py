"""View ▸ Sounds like you: the voice gutter of the current document, kept up to date as the writer edits.

Owns the VoiceWorker and one VoiceGutter per editor. The worker is the window's RemoteVoiceWorker
when the model runs in its own process (the voice models and torch load there, never here), else a
VoiceWorker on a QThread of this process (`inference_process = "off"`, the GUI tests). Edits are
debounced: a pause of DEBOUNCE_MS after the last keystroke sends the whole text, and the worker
scores only paragraphs it has not seen (its cache is keyed by paragraph text and models).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from cw_desktop.core.adapters import AdapterChoices, is_adapter_folder
from cw_desktop.core.model_registry import REPORT_FILE
from cw_desktop.core.paths import AppPaths
from cw_desktop.gui.voice_gutter import VoiceGutter, VoiceLegend
from cw_desktop.workers.threads import start_in_thread, stop_thread
from cw_desktop.workers.voice_worker import VoiceWorker

DEBOUNCE_MS = 1500


class VoiceController(QObject):
    notice = Signal(str)  # for the status bar
    scores_shown = Signal(str, list, bool)  # document key, [(start, end, score)], done

    def __init__(self, paths: AppPaths, current_model: Callable[[], str], parent: QObject | None = None,
                 worker: VoiceWorker | None = None) -> None:
        """`current_model()` is the spec suggesting now: the fine-tune compared when the document's
        project has no adapter of its own. `worker` is given when the model runs in the inference
        process (its stand-in needs no thread here)."""
        super().__init__(parent)
        self.current_model = current_model
        self.choices = AdapterChoices(paths.data_dir, paths.models_dir)
        self.enabled = False
        self.tab: Any = None
        self.gutters: dict[int, VoiceGutter] = {}
        self.legend = VoiceLegend()
        self.legend.hide()
        self.worker = worker or VoiceWorker(paths)
        self.thread = start_in_thread(self.worker, "cw-voice") if worker is None else None
        self.worker.scores_ready.connect(self._on_scores)
        self.worker.failed.connect(lambda _request, message: self.notice.emit(f"Sounds like you: {message}"))
        self.worker.status.connect(self.notice)
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self.rescore)
        self._connected_editor: Any = None

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.legend.setVisible(on)
        if on:
            self.attach(self.tab)
            self.rescore()
        else:
            self.timer.stop()
            self.worker.cancel()
            for gutter in self.gutters.values():
                gutter.hide()

    def attach(self, tab: Any) -> None:
        """`tab` (a DocumentTab or None) became the current document."""
        if self._connected_editor is not None:
            try:
                self._connected_editor.textChanged.disconnect(self._on_text_changed)
            except (RuntimeError, TypeError):
                pass
            self._connected_editor = None
        self.tab = tab
        if tab is None or not self.enabled:
            return
        gutter = self.gutter_for(tab.editor)
        gutter.show()
        tab.editor.textChanged.connect(self._on_text_changed)
        self._connected_editor = tab.editor
        self.timer.start(0)  # the other document's scores are cached: this is quick when seen before

    def gutter_for(self, editor: Any) -> VoiceGutter:
        key = id(editor)
        if key not in self.gutters:
            self.gutters[key] = VoiceGutter(editor)
            editor.destroyed.connect(lambda *_: self.gutters.pop(key, None))
        return self.gutters[key]

    def model_spec(self, tab: Any) -> str | None:
        """The project's adapter when it has one, else the model suggesting now if it is a fine-tune
        (a base model has no base of its own to compare with: None)."""
        choice = self.choices.choice_for(tab.path) if tab.path is not None else None
        if choice is not None and choice.adapter is not None:
            return str(choice.adapter)
        spec = self.current_model()
        folder = Path(spec).expanduser() if spec else None
        if folder is None or not (is_adapter_folder(folder) or (folder / REPORT_FILE).is_file()):
            return None
        return spec

    def _on_text_changed(self) -> None:
        self.timer.start(DEBOUNCE_MS)

    def rescore(self) -> int | None:
        tab = self.tab
        if not self.enabled or tab is None:
            return None
        spec = self.model_spec(tab)
        if not spec:
            self.notice.emit("Sounds like you compares a fine-tuned model with its base: choose a fine-tune "
                             "(Model menu) or an adapter for this project first")
            return None
        return self.worker.submit_score(tab.doc_id, tab.text(), spec)

    def _on_scores(self, _request: int, document: str, spans: list, done: bool) -> None:
        tab = self.tab
        if tab is None or tab.doc_id != document or not self.enabled:
            return
        self.gutter_for(tab.editor).set_scores(spans)
        self.scores_shown.emit(document, spans, done)
        if done and self.worker.last_seconds > 2:
            self.notice.emit(f"Sounds like you: scored in {self.worker.last_seconds:.0f} s")

    def stop(self, timeout_ms: int = 5000) -> bool:
        self.worker.cancel()
        return stop_thread(self.thread, timeout_ms) if self.thread is not None else True
