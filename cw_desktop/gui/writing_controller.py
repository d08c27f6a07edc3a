"""A piece written by the model: a poem, dialogue or short story streamed into a new tab.

The draft arrives from the generation worker token by token into a read-only tab; when it ends
(done, stopped or failed) the tab becomes an ordinary document with unsaved changes. Suggestions
wait meanwhile: `suggestions_paused` says why ("" when they may resume).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from cw_desktop.gui.creative_panel import FORMS, CreativePanel
from cw_desktop.gui.document_tab import DocumentTab
from cw_desktop.workers.generation_worker import GenerationWorker

if TYPE_CHECKING:
    from cw_desktop.gui.documents_controller import DocumentsController

PAUSED = "Suggestions wait while the model writes a draft"
STOPPED = "Stopped. What was written so far is kept."


class WritingController(QObject):
    suggestions_paused = Signal(str)  # why suggestions wait; "" when they may resume

    def __init__(self, generation: GenerationWorker, panel: CreativePanel, documents: DocumentsController,
                 parent: QObject | None = None, banned_phrases: Callable[[], list[str]] | None = None,
                 memory: Callable[[], str] | None = None) -> None:
        super().__init__(parent)
        self.generation = generation
        self.banned_phrases = banned_phrases or list  # the generation panel's list: pieces honour it too
        self.panel = panel
        self.documents = documents
        # The front document's Memory: its project's when it is a chapter (gui/story_controller.py).
        self.memory = memory or documents.current_memory
        panel.write_requested.connect(self.write_piece)
        panel.stop_requested.connect(self.stop_writing)
        documents.tab_closing.connect(self._on_tab_closing)
        # Bound methods of this GUI-thread object: PySide would run a plain function or lambda
        # connected to a worker's signal in the worker's thread.
        generation.write_token.connect(self._on_write_token)
        generation.write_finished.connect(self._on_write_finished)
        generation.cancelled.connect(self._on_generation_cancelled)
        generation.failed.connect(self._on_generation_failed)

    def write_piece(self, form: str, title: str, max_tokens: int) -> DocumentTab | None:
        if not self.generation.has_model:
            self.panel.set_running(False, "No model is ready yet: see the status bar.")
            return None
        # The piece shares the current document's characters and setting.
        memory = self.memory()
        tab = self.documents.new_document(title=f"{FORMS.get(form, form)} — {title[:40]}", memory=memory)
        tab.editor.setReadOnly(True)
        tab.editor.document().setUndoRedoEnabled(False)  # the draft arrives as one piece, not 400 undo steps
        tab.writing_request = self.generation.submit_write(form, title, max_tokens, memory=memory,
                                                           banned_phrases=self.banned_phrases())
        self.suggestions_paused.emit(PAUSED)
        self.panel.set_running(True, f"Writing a {FORMS.get(form, form).lower()}…")
        return tab

    def stop_writing(self) -> None:
        for tab in self.documents.document_tabs():
            self._cancel(tab)

    def _cancel(self, tab: DocumentTab) -> None:
        if tab.writing_request is not None:
            self.generation.cancel(tab.writing_request)

    def _on_tab_closing(self, tab: DocumentTab) -> None:
        self._cancel(tab)

    def _writing_tab(self, request: int) -> DocumentTab | None:
        return next((t for t in self.documents.document_tabs() if t.writing_request == request), None)

    def _on_write_token(self, request: int, text: str) -> None:
        tab = self._writing_tab(request)
        if tab is None:
            return
        editor = tab.editor
        current = editor.toPlainText()
        cursor = editor.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        if text.startswith(current):
            cursor.insertText(text[len(current):])  # append only what is new: no flicker, no reflow
        else:
            editor.setPlainText(text)
        editor.setTextCursor(cursor)
        editor.ensureCursorVisible()

    def _on_write_finished(self, request: int, result: Any) -> None:
        tab = self._writing_tab(request)
        if tab is None:
            return
        self._on_write_token(request, result.text)
        if result.finish_reason == "cancelled":
            self._finish(tab, STOPPED)
            return
        reason = {"eos": "the model ended it", "length": "length reached", "stop": "finished"}.get(
            result.finish_reason, result.finish_reason)
        self._finish(tab, f"Done: {result.tokens} tokens ({reason}). Edit and save it like any document.")

    def _on_generation_cancelled(self, request: int, _tokens_after: int) -> None:
        tab = self._writing_tab(request)
        if tab is not None:
            self._finish(tab, STOPPED)

    def _on_generation_failed(self, request: int, message: str) -> None:
        tab = self._writing_tab(request)
        if tab is not None:
            self._finish(tab, message)

    def _finish(self, tab: DocumentTab, message: str) -> None:
        tab.writing_request = None
        tab.editor.setReadOnly(False)
        document = tab.editor.document()
        document.setUndoRedoEnabled(True)
        document.setModified(bool(tab.text()))
        self.suggestions_paused.emit("")
        self.panel.set_running(False, message)
        self.documents.refresh_title(tab)
