"""Connects the active editor to the generation worker: when to ask, what to show, what to log.

- Automatic requests fire after a typing pause (debounce) at a sensible point (end of paragraph);
  the suggest-now key asks anywhere.
- Every request has an id; tokens and results for any other id than the editor's current one
  are stale and dropped.
- When the editor ends a ghost (typed over, Esc, cursor moved), the worker is told to stop at
  once through its thread-safe cancel flag.
- Each shown suggestion's outcome goes to the suggestion log; for accepted text, and for a
  suggestion typed over, the writer's next words are recorded too ("after_text"), once they have
  typed a little further (what they wrote instead is what preference learning prefers).
- The window budget (how the model's context is spent on Memory, draft and answer) is counted
  again a moment after the text, the Memory or the settings change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QTextCursor

from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.core.settings import Settings
from cw_desktop.core.story_context import StoryContext
from cw_desktop.core.suggestion_log import SuggestionLog, make_event
from cw_desktop.gui.editor import GhostTextEditor
from cw_desktop.workers.generation_worker import GenerationWorker

AFTER_TEXT_CHARS = 300


class SuggestionController(QObject):
    # texts, current index, per alternative "copies your <chapter>" or None (ml/memorisation.py)
    alternatives_changed = Signal(list, int, list)
    status_message = Signal(str)
    # GUI-thread echoes of the worker's answers for the current editor (what tests and panels wait on).
    suggestion_complete = Signal(int, list, float)  # request id, suggestions, seconds
    suggestion_cancelled = Signal(int, int)  # request id, tokens generated after the cancel
    budget_changed = Signal(object)  # the TokenBudget of the current editor's next request
    request_sent = Signal(int, str)  # request id, the draft before the cursor it continues

    def __init__(self, worker: GenerationWorker, settings: Settings, log: SuggestionLog,
                 options: Callable[[], GenerationSettings], memory: Callable[[], StoryContext | str],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.settings = settings
        self.log = log
        self.options = options
        self.memory = memory
        self.editor: GhostTextEditor | None = None
        self.model_spec: str | None = None  # None until a model answers requests
        self.paused_reason = ""  # e.g. while the model writes a draft
        self._context = ""  # draft before the cursor of the current request (for the log)
        self._asked_at = 0.0
        self._first_words_after: float | None = None  # seconds from request to the first visible text
        self._copies: list[str | None] = []  # per alternative of the current suggestion, once finished
        self._pending_event: dict[str, Any] | None = None
        self._after_marker: QTextCursor | None = None
        self._document: Path | None = None  # the current editor's file, if it has one
        # Extra fields for the current suggestion's log line (make_event's attempt / via).
        self.log_notes: dict[str, Any] = {}
        self._shown_again = 0  # ids for suggestions shown again from the history (no worker request)
        self._project_sent: Path | None = None  # what the worker was last told to index (None: nothing)
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.timeout.connect(self.auto_suggest)
        self.budget_timer = QTimer(self, singleShot=True, interval=400)
        self.budget_timer.timeout.connect(self.refresh_budget)
        self.apply_settings()
        worker.token.connect(self._on_token)
        worker.suggestions_ready.connect(self._on_ready)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.budget_ready.connect(self._on_budget)

    def apply_settings(self) -> None:
        self.debounce.setInterval(max(50, int(self.settings.suggestions.debounce_ms)))
        if not self.settings.suggestions.auto_suggest:
            self.debounce.stop()
        self.set_document(self._document)  # the project vocabulary may have been switched on or off

    def set_document(self, path: Path | None) -> None:
        """The current document's file (None: not saved yet, or none open): its folder's other
        manuscripts become the project vocabulary, read by the worker in its own thread."""
        self._document = path
        wanted = path if self.settings.suggestions.use_project_vocabulary else None
        if wanted != self._project_sent:
            self._project_sent = wanted
            self.worker.submit_project(wanted)

    # -- which editor --------------------------------------------------------------------------------
    def attach(self, editor: GhostTextEditor | None) -> None:
        if editor is self.editor:
            return
        if self.editor is not None:
            self.editor.end_ghost("rejected")
            self.flush_log()
            for signal, slot in self._editor_connections(self.editor):
                signal.disconnect(slot)
        self.debounce.stop()
        self.editor = editor
        if editor is not None:
            for signal, slot in self._editor_connections(editor):
                signal.connect(slot)

    def _editor_connections(self, editor: GhostTextEditor) -> list[tuple[Any, Any]]:
        return [(editor.textChanged, self._on_edited), (editor.suggestion_requested, self.suggest_now),
                (editor.ghost_interrupted, self.cancel), (editor.ghost_finished, self._on_finished),
                (editor.ghost_changed, self._on_ghost_changed)]

    # -- asking --------------------------------------------------------------------------------------
    def _on_edited(self) -> None:
        if self.settings.suggestions.auto_suggest and self.model_spec and self.editor is not None:
            if not self.editor.ghost_text():
                self.debounce.start()  # restarts: fires only after a pause in typing

    def auto_suggest(self) -> None:
        editor = self.editor
        if editor is None or editor.ghost_text() or editor.ghost_request is not None:
            return
        if editor.at_suggestion_point():
            self.request()

    def suggest_now(self) -> None:
        if self.model_spec is None:
            self.status_message.emit("No model is ready yet: see the status bar")
            return
        self.request()

    def request(self, options: GenerationSettings | None = None) -> int | None:
        """Ask for a suggestion at the cursor, with the panel's settings unless given `options`."""
        editor = self.editor
        if editor is None or self.model_spec is None or editor.isReadOnly():
            return None
        if self.paused_reason:
            self.status_message.emit(self.paused_reason)
            return None
        self.flush_log()
        context = editor.text_before_cursor()
        request = self.worker.submit_suggest(context, options or self.options(), self.memory())
        self._context = context
        self._asked_at, self._first_words_after = time.perf_counter(), None
        self._copies = []
        editor.begin_ghost(request)
        self.log_notes = {}  # after begin_ghost: the previous ghost's line was written with its own
        self.request_sent.emit(request, context)
        self.status_message.emit("Suggesting…")
        return request

    def show_again(self, texts: list[str], index: int, copies: list[str | None], notes: dict[str, Any]) -> None:
        """Show earlier suggestions for the cursor's place as the ghost, `texts[index]` first."""
        editor = self.editor
        if editor is None or editor.isReadOnly() or not texts:
            return
        self.flush_log()
        self._shown_again -= 1  # negative: never a worker request, so cancelling it is a no-op
        editor.begin_ghost(self._shown_again)
        self._context, self._copies, self.log_notes = editor.text_before_cursor(), list(copies), dict(notes)
        editor.set_alternatives(self._shown_again, texts)
        editor.choose_alternative(index)

    def cancel(self, request: int) -> None:
        # A direct call into the worker's thread-safe flag, never a queued signal: the worker's
        # thread is busy generating and would only see a queued stop after it had finished.
        self.worker.cancel(request)

    # -- answers -------------------------------------------------------------------------------------
    def _current(self, request: int) -> GhostTextEditor | None:
        editor = self.editor
        return editor if editor is not None and editor.ghost_request == request else None

    def _on_token(self, request: int, index: int, text: str) -> None:
        editor = self._current(request)
        if editor is not None:
            editor.set_alternative(request, index, text)
            if self._first_words_after is None and editor.ghost_text():
                self._first_words_after = time.perf_counter() - self._asked_at

    def _on_ready(self, request: int, suggestions: list[Any], seconds: float) -> None:
        editor = self._current(request)
        if editor is None:
            return
        ordered = sorted(suggestions, key=lambda s: s.index)
        self._copies = [getattr(s, "copies", None) for s in ordered]
        editor.set_alternatives(request, [s.text for s in ordered])
        self.suggestion_complete.emit(request, ordered, seconds)
        first = self._first_words_after if self._first_words_after is not None else seconds
        count = len([s for s in ordered if s.text.strip()])
        shown = editor.alternative_index()
        copied = self._copies[shown] if shown < len(self._copies) else None
        self.status_message.emit(f"Suggestion after {first:.1f} s" + (
            f" · {count} alternatives in {seconds:.1f} s" if count > 1 else "") + (
            f" · ⚠ this suggestion {copied}" if copied else ""))

    def _on_cancelled(self, request: int, tokens_after_cancel: int) -> None:
        self.suggestion_cancelled.emit(request, tokens_after_cancel)

    def _on_failed(self, request: int, message: str) -> None:
        editor = self._current(request)
        if editor is not None:
            editor.end_ghost("rejected")
            self.status_message.emit(message)

    def _on_ghost_changed(self) -> None:
        editor = self.editor
        if editor is not None:
            texts = editor.alternatives() if editor.ghost_text() else []
            copies = (self._copies + [None] * len(texts))[:len(texts)]
            self.alternatives_changed.emit(texts, editor.alternative_index(), copies)

    # -- the window budget ---------------------------------------------------------------------------
    def schedule_budget(self) -> None:
        """The text, the Memory or the settings changed: count again after a short pause."""
        self.budget_timer.start()

    def refresh_budget(self) -> None:
        editor = self.editor
        if editor is None or not self.worker.has_model:
            return
        self.worker.submit_budget(editor.text_before_cursor(), self.options(), self.memory())

    def _on_budget(self, _request: int, budget: Any) -> None:
        self.budget_changed.emit(budget)

    # -- the log -------------------------------------------------------------------------------------
    def _on_finished(self, outcome: str, suggestion: str, accepted: str) -> None:
        editor = self.editor
        if editor is None or not self.model_spec:
            return
        if outcome == "accepted" and self.settings.suggestions.auto_suggest:
            self.debounce.start()  # keep co-writing: the next suggestion follows after a pause
        if not self.settings.suggestions.log_suggestions:
            return
        self.flush_log()
        event = make_event(model=self.model_spec, outcome=outcome, suggestion=suggestion,
                           accepted_text=accepted, context=self._context, **self.log_notes)
        if outcome in ("accepted", "partial", "typed_over"):
            self._hold_for_after_text(event, editor, editor.textCursor().position())
        else:
            self._append(event)

    def _hold_for_after_text(self, event: dict[str, Any], editor: GhostTextEditor, position: int) -> None:
        # Wait for the writer's next words: they show how the accepted text was used.
        self._pending_event = event
        self._after_marker = QTextCursor(editor.document())
        self._after_marker.setPosition(position)
        # Text typed right at the marker must land after it, not push it along.
        self._after_marker.setKeepPositionOnInsert(True)

    def record_swap(self, removed: str, inserted: str, end: int, context: str) -> None:
        """Swap replaced the accepted `removed` with `inserted` (now ending at `end`)."""
        editor = self.editor
        if editor is None or not self.model_spec or not self.settings.suggestions.log_suggestions:
            return
        event = self._pending_event
        if event is not None and event.get("accepted_text") == removed:
            # Still waiting for the writer's next words: it was not kept after all.
            self._pending_event = self._after_marker = None
            event.update(outcome="rejected", swapped_out=True)
            self._append(event)
        else:
            self.flush_log()
        self._hold_for_after_text(make_event(model=self.model_spec, outcome="accepted", suggestion=inserted,
                                             accepted_text=inserted, context=context, via="swap"), editor, end)

    def flush_log(self) -> None:
        event, marker = self._pending_event, self._after_marker
        self._pending_event, self._after_marker = None, None
        if event is None:
            return
        if marker is not None and self.editor is not None and marker.document() is self.editor.document():
            start, end = marker.position(), self.editor.textCursor().position()
            if end > start:
                event["after_text"] = self.editor.toPlainText()[start:min(end, start + AFTER_TEXT_CHARS)]
        self._append(event)

    def _append(self, event: dict[str, Any]) -> None:
        try:
            self.log.append(event)
        except OSError as exc:
            self.status_message.emit(f"Could not write the suggestion log {self.log.path}: {exc.strerror or exc}")
