"""Suggestion history, Retry and Swap in the window (the rules live in core/suggestion_history.py).

- Every finished suggestion is kept per open document, by place (the draft's last characters
  before the cursor it continued). The alternatives panel lists the history of the cursor's place;
  a click shows an earlier suggestion again as the ghost.
- Retry asks again at the cursor with a fresh seed and every alternative sampled. Answers already
  in the history are not what the writer asked for: the first new alternative is shown instead,
  or the model is asked once more.
- Swap replaces the text of the suggestion just accepted with another from its place's history,
  as one undo step, and only while that text is exactly as accepted. It touches nothing outside
  the accepted text, so whatever the writer typed after it stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QTextCursor

from cw_desktop.core.suggestion_history import (ANCHOR_CHARS, AcceptedSpan, HistoryEntry, SuggestionHistory,
                                                place_key, retry_settings, same_text, swap_candidate, swap_refusal)
from cw_desktop.gui.alternatives_panel import AlternativesPanel
from cw_desktop.gui.editor import GhostTextEditor
from cw_desktop.gui.suggestion_controller import SuggestionController

# A retry that keeps bringing back suggestions already seen asks at most this many times in all.
RETRY_TRIES = 3
# Requests whose answer never came (cancelled, superseded) are forgotten after this many newer ones.
TRACKED_REQUESTS = 16


@dataclass
class _Request:
    key: str
    attempt: int
    retry_try: int  # 0: not a retry; 1.. which try of one Retry


@dataclass
class _Accepted:
    """The suggestion accepted last, between two markers that follow edits elsewhere."""

    editor: GhostTextEditor
    span: AcceptedSpan
    start: QTextCursor
    end: QTextCursor

    def text_now(self) -> str:
        return text_between(self.editor, self.start.position(), self.end.position())


# What toPlainText() writes for the characters a text cursor's selection keeps as they are.
_PLAIN = str.maketrans({"\u2029": "\n", "\u2028": "\n", "\ufdd0": "\n", "\ufdd1": "\n", "\u00a0": " "})


def text_between(editor: GhostTextEditor, start: int, end: int) -> str:
    """editor.toPlainText()[start:end], without copying the whole document (a cursor move in a
    600,000-character novel took 19 ms that way)."""
    if end <= start:
        return ""
    cursor = QTextCursor(editor.document())
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    return cursor.selectedText().translate(_PLAIN)


def place_at(editor: GhostTextEditor, position: int) -> str:
    """The place key of `position`, as place_key(text before it) names it."""
    return place_key(text_between(editor, max(0, position - ANCHOR_CHARS), position))


def _markers(editor: GhostTextEditor, start: int, end: int) -> tuple[QTextCursor, QTextCursor]:
    first, last = QTextCursor(editor.document()), QTextCursor(editor.document())
    first.setPosition(start)
    last.setPosition(end)
    # Text typed right after the accepted text must stay outside it (the start marker already moves
    # past text typed right before it).
    last.setKeepPositionOnInsert(True)
    return first, last


class HistoryController(QObject):
    status_message = Signal(str)
    panel_refreshed = Signal()

    def __init__(self, suggestions: SuggestionController, panel: AlternativesPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.suggestions = suggestions
        self.panel = panel
        self.editor: GhostTextEditor | None = None
        self._histories: WeakKeyDictionary[GhostTextEditor, SuggestionHistory] = WeakKeyDictionary()
        self._requests: dict[int, _Request] = {}
        self._retry_try = 0  # set while Retry sends its request
        self._accepted: _Accepted | None = None
        # What the panel's history cards stand for: ("again" | "swap", place key, entries).
        self._panel: tuple[str, str, list[HistoryEntry]] = ("", "", [])
        self.refresh_timer = QTimer(self, singleShot=True, interval=150)
        self.refresh_timer.timeout.connect(self.refresh_panel)
        suggestions.request_sent.connect(self._on_request_sent)
        suggestions.suggestion_complete.connect(self._on_complete)
        suggestions.alternatives_changed.connect(self.refresh_timer.start)
        panel.history_chosen.connect(self.choose)

    def history(self, editor: GhostTextEditor) -> SuggestionHistory:
        """The history of the document in `editor` (kept as long as the editor lives)."""
        if editor not in self._histories:
            self._histories[editor] = SuggestionHistory()
        return self._histories[editor]

    def attach(self, editor: GhostTextEditor | None) -> None:
        if editor is self.editor:
            return
        if self.editor is not None:
            try:
                self.editor.ghost_finished.disconnect(self._on_ghost_finished)
                self.editor.cursorPositionChanged.disconnect(self.refresh_timer.start)
            except RuntimeError:  # its tab was closed and the editor already deleted
                if self._accepted is not None and self._accepted.editor is self.editor:
                    self._accepted = None
        self.editor = editor
        if editor is not None:
            editor.ghost_finished.connect(self._on_ghost_finished)
            editor.cursorPositionChanged.connect(self.refresh_timer.start)
        self.refresh_panel()

    # -- asking, and keeping the answers -------------------------------------------------------------
    def retry(self) -> int | None:
        """Ask for a different suggestion at the cursor."""
        if self.suggestions.model_spec is None:
            self.status_message.emit("No model is ready yet: see the status bar")
            return None
        return self._send_retry(1)

    def _send_retry(self, retry_try: int) -> int | None:
        self._retry_try = retry_try
        try:
            return self.suggestions.request(retry_settings(self.suggestions.options()))
        finally:
            self._retry_try = 0

    def _on_request_sent(self, request: int, context: str) -> None:
        editor = self.suggestions.editor
        if editor is None:
            return
        key = place_key(context)
        attempt = self.history(editor).start_attempt(key)
        self._requests[request] = _Request(key, attempt, self._retry_try)
        for stale in list(self._requests)[:-TRACKED_REQUESTS]:
            del self._requests[stale]
        notes: dict[str, Any] = {"attempt": attempt}
        if self._retry_try:
            notes["via"] = "retry"
        self.suggestions.log_notes = notes

    def _on_complete(self, request: int, suggestions: list[Any], _seconds: float) -> None:
        sent, editor = self._requests.pop(request, None), self.suggestions.editor
        if sent is None or editor is None:
            return
        texts = [s.text for s in suggestions]
        added = self.history(editor).add(sent.key, texts, sent.attempt,
                                         [getattr(s, "copies", None) for s in suggestions])
        if sent.retry_try and editor.ghost_request == request:
            if added and not any(same_text(editor.ghost_text(), e.text) for e in added):
                shown = editor.alternatives()
                editor.choose_alternative(next(i for i, t in enumerate(shown) if same_text(t, added[0].text)))
            elif not added and sent.retry_try < RETRY_TRIES:
                # After the controller has finished with this answer.
                QTimer.singleShot(0, lambda: self._send_retry(sent.retry_try + 1))
            elif not added:
                self.status_message.emit("The model keeps suggesting the same here: try changing the "
                                         "temperature in the Generation panel")
        self.refresh_panel()

    # -- accepted text and Swap ----------------------------------------------------------------------
    def _on_ghost_finished(self, outcome: str, _suggestion: str, _accepted: str) -> None:
        editor = self.editor
        if editor is not None and outcome in ("accepted", "partial") and editor.last_taken:
            start, text, typed = editor.last_taken
            key = place_at(editor, start)
            self._accepted = _Accepted(editor, AcceptedSpan(key, text, typed), *_markers(editor, start, start + len(text)))
        self.refresh_timer.start()

    def swap(self, step: int = 1, index: int | None = None) -> bool:
        """Replace the accepted suggestion with the next one (or entry `index`) of its place's history."""
        editor = self.editor
        if editor is not None and editor.ghost_request is not None:
            editor.end_ghost("rejected")  # words taken from it make it the accepted suggestion
        accepted = self._accepted
        if editor is None or accepted is None or accepted.editor is not editor:
            self.status_message.emit("Nothing to swap: accept a suggestion first")
            return False
        refusal = swap_refusal(accepted.span, accepted.text_now())
        if refusal:
            self.status_message.emit(refusal)
            return False
        entries = self.history(editor).place(accepted.span.key).entries
        texts = [entry.text for entry in entries]
        target = index if index is not None else swap_candidate(texts, accepted.span.text, step)
        if target is None or not 0 <= target < len(texts) or texts[target] == accepted.span.text:
            self.status_message.emit("No other suggestion was made there to swap in")
            return False
        start, removed, inserted = accepted.start.position(), accepted.span.text, texts[target]
        cursor = QTextCursor(editor.document())
        cursor.setPosition(start)
        cursor.setPosition(accepted.end.position(), QTextCursor.MoveMode.KeepAnchor)
        cursor.beginEditBlock()  # one undo step gives the previous text back
        cursor.insertText(inserted)
        cursor.endEditBlock()
        end = start + len(inserted)
        self._accepted = _Accepted(editor, AcceptedSpan(accepted.span.key, inserted),
                                   *_markers(editor, start, end))
        self.suggestions.record_swap(removed, inserted, end, editor.toPlainText()[:start])
        self.status_message.emit(f"Swapped in suggestion {target + 1} of {len(texts)} made there "
                                 "(Undo takes it back)")
        self.refresh_panel()
        return True

    # -- the panel -----------------------------------------------------------------------------------
    def refresh_panel(self) -> None:
        self.refresh_timer.stop()
        editor = self.editor
        if editor is None:
            self._show("", "", [], "")
            return
        history = self.history(editor)
        key = place_at(editor, editor.textCursor().position())
        showing = editor.alternatives() if editor.ghost_request is not None else []
        earlier = [e for e in history.place(key).entries if not any(same_text(e.text, t) for t in showing)]
        accepted = self._accepted
        if earlier:
            self._show("again", key, earlier, "Earlier suggestions here (click to show one again; "
                       "Retry asks for another):")
        elif (not showing and accepted is not None and accepted.editor is editor
              and not swap_refusal(accepted.span, accepted.text_now())):
            others = [e for e in history.place(accepted.span.key).entries if e.text != accepted.span.text]
            self._show("swap", accepted.span.key, others, "Swap the suggestion you accepted for:")
        else:
            self._show("", "", [], "")

    def _show(self, mode: str, key: str, entries: list[HistoryEntry], title: str) -> None:
        place = self.history(self.editor).place(key) if self.editor is not None else None
        newest_first = list(reversed(entries))
        self._panel = (mode, key, newest_first)
        tip = "Click to swap it in (one undo step)" if mode == "swap" else "Click to show it again"
        self.panel.show_history(title, [(e.text, bool(place and place.is_new(e))) for e in newest_first], tip)
        self.panel_refreshed.emit()

    def choose(self, index: int) -> None:
        """A history card was clicked."""
        mode, key, entries = self._panel
        editor = self.editor
        if editor is None or not 0 <= index < len(entries):
            return
        all_entries = self.history(editor).place(key).entries
        if entries[index] not in all_entries:
            return  # the history moved on since the panel was drawn
        position = all_entries.index(entries[index])
        if mode == "swap":
            self.swap(index=position)
        elif mode == "again":
            self.suggestions.show_again([e.text for e in all_entries], position,
                                        [e.copies for e in all_entries], {"via": "history"})
        editor.setFocus()
