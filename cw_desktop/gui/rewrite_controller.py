"""Rewrite the selection: Rewrite / Expand / Shorten / Describe / a custom instruction.

The selection is remembered as a QTextCursor span, which Qt keeps in place while the writer edits
elsewhere. The request goes to the generation worker (submit_rewrite); the answer streams into
the preview dialog (dialogs/rewrite_preview.py). Accept replaces the span in one edit block, so
one Ctrl+Z takes it back, and only if the span still holds exactly the text that was sent:
anything the writer typed into it meanwhile wins, and the accept is refused with a message.
Reject, Esc or closing the preview leave the document untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPoint, Signal
from PySide6.QtGui import QGuiApplication, QTextCursor, QTextDocument
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from cw_desktop.core.rewrite_request import (ACTIONS, CONTEXT_AFTER_CHARS, CONTEXT_BEFORE_CHARS, RewriteRequest,
                                             request_problem)
from cw_desktop.dialogs.rewrite_preview import RewritePreviewDialog
from cw_desktop.gui.editor import GhostTextEditor
from cw_desktop.workers.generation_worker import GenerationWorker

if TYPE_CHECKING:
    from cw_desktop.gui.document_tab import DocumentTab
    from cw_desktop.gui.documents_controller import DocumentsController

PAUSED = "Suggestions wait while the model rewrites the selection"
REFUSED = ("The selected passage was edited after the rewrite was asked for, so it was not replaced: "
           "what you typed stays. Retry to rewrite it again, or Reject.")
MENU_TITLE = "Re&write selection"


@dataclass
class _Pending:
    editor: GhostTextEditor
    span: QTextCursor  # the selection; moves with edits before it, changes with edits inside it
    request: RewriteRequest
    request_id: int
    running: bool = True


def span_text(document: QTextDocument, start: int, end: int) -> str:
    """The document's text between two positions, as plain text. Positions count UTF-16 units: a
    boundary may split a surrogate pair, whose loose half is dropped (a tokenizer rejects it)."""
    cursor = QTextCursor(document)
    cursor.setPosition(max(0, start))
    cursor.setPosition(max(0, min(end, document.characterCount() - 1)), QTextCursor.MoveMode.KeepAnchor)
    text = cursor.selectedText().replace("\u2029", "\n")
    if text and "\udc00" <= text[0] <= "\udfff":
        text = text[1:]
    if text and "\ud800" <= text[-1] <= "\udbff":
        text = text[:-1]
    return text


def _selected(span: QTextCursor) -> str:
    return span.selectedText().replace("\u2029", "\n") if span.hasSelection() else ""


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class RewriteController(QObject):
    suggestions_paused = Signal(str)  # why suggestions wait; "" when they may resume
    notice = Signal(str)  # a sentence for the status bar

    def __init__(self, generation: GenerationWorker, documents: "DocumentsController", window: QWidget,
                 banned_phrases: Callable[[], list[str]] | None = None) -> None:
        super().__init__(window)
        self.banned_phrases = banned_phrases or list  # the generation panel's list: rewrites honour it too
        self.generation = generation
        self.documents = documents
        self.window = window
        self.dialog: RewritePreviewDialog | None = None
        self.pending: _Pending | None = None
        self.seed: int | None = None  # None: a fresh rewrite each time; tests fix it
        self.max_new_tokens: int | None = None  # None: sized from the selection (ml/rewrite.py)
        # Asks for the custom instruction; returns None when the writer cancels (tests replace it).
        self.ask_instruction = self._ask_instruction
        documents.tab_created.connect(self._on_tab_created)
        documents.tab_closing.connect(self._on_tab_closing)
        # Bound methods of this GUI-thread object: PySide would run a lambda in the worker's thread.
        generation.rewrite_token.connect(self._on_token)
        generation.rewrite_finished.connect(self._on_finished)
        generation.cancelled.connect(self._on_cancelled)
        generation.failed.connect(self._on_failed)

    # -- menus -----------------------------------------------------------------------------------
    def add_actions(self, menu: QMenu, editor: GhostTextEditor | None = None) -> QMenu:
        """A "Rewrite selection" submenu in `menu`, for `editor` (the current one when None)."""
        submenu = menu.addMenu(MENU_TITLE)
        for action, label in ACTIONS.items():
            item = submenu.addAction(label)
            item.setData(action)
            item.triggered.connect(partial(self._rewrite_from_menu, editor, action))
        return submenu

    def _on_tab_created(self, tab: "DocumentTab") -> None:
        tab.editor.context_menu_opening.connect(partial(self._extend_context_menu, tab.editor))

    def _extend_context_menu(self, editor: GhostTextEditor, menu: QMenu) -> None:
        menu.addSeparator()
        submenu = self.add_actions(menu, editor)
        submenu.setEnabled(editor.textCursor().hasSelection() and not editor.isReadOnly())

    def _rewrite_from_menu(self, editor: GhostTextEditor | None, action: str, *_checked: Any) -> None:
        self.rewrite_selection(action, editor=editor)

    # -- asking ----------------------------------------------------------------------------------
    def rewrite_selection(self, action: str, instruction: str | None = None,
                          editor: GhostTextEditor | None = None) -> bool:
        """Ask for a rewrite of the selection in `editor` (the current one when None); False, with a
        notice saying why, when there is nothing to ask."""
        if editor is None:
            tab = self.documents.current_tab()
            editor = tab.editor if tab is not None else None
        if editor is None:
            return False
        cursor = editor.textCursor()
        if editor.isReadOnly():
            self.notice.emit("This document is still being written by the model: rewrite it when that ends.")
            return False
        if not cursor.hasSelection():
            self.notice.emit("Select the text to rewrite first.")
            return False
        if not self.generation.has_model:
            self.notice.emit("No model is ready yet: see the status bar.")
            return False
        if action == "custom" and instruction is None:
            instruction = self.ask_instruction()
            if instruction is None:
                return False
        document = editor.document()
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        span = QTextCursor(document)
        span.setPosition(start)
        span.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        request = RewriteRequest(action=action, selection=_selected(span),
                                 before=span_text(document, start - CONTEXT_BEFORE_CHARS, start),
                                 after=span_text(document, end, end + CONTEXT_AFTER_CHARS),
                                 instruction=(instruction or "").strip(), seed=self.seed,
                                 max_new_tokens=self.max_new_tokens,
                                 banned_phrases=tuple(self.banned_phrases()))
        problem = request_problem(request)
        if problem:
            self.notice.emit(problem)
            return False
        self._drop_pending()
        self.pending = _Pending(editor=editor, span=span, request=request,
                                request_id=self.generation.submit_rewrite(request))
        dialog = self._dialog()
        dialog.start(ACTIONS[action].rstrip("…"), request.selection)
        if not dialog.isVisible():
            self._place(dialog, editor, span)
        dialog.show()
        dialog.raise_()
        self.suggestions_paused.emit(PAUSED)
        return True

    def _ask_instruction(self) -> str | None:
        text, ok = QInputDialog.getText(self.window, "Custom rewrite",
                                        "How should the selection be rewritten? (for example: \"in the "
                                        "present tense\", \"make it funnier\", \"as a sailor would tell it\")")
        return text if ok and text.strip() else None

    def _dialog(self) -> RewritePreviewDialog:
        if self.dialog is None:
            self.dialog = RewritePreviewDialog(self.window)
            self.dialog.stop_requested.connect(self.stop)
            self.dialog.retry_requested.connect(self.retry)
            self.dialog.accept_requested.connect(self.accept)
            self.dialog.reject_requested.connect(self._on_rejected)
        return self.dialog

    def _place(self, dialog: RewritePreviewDialog, editor: GhostTextEditor, span: QTextCursor) -> None:
        """Just below the selection, kept on the screen: the passage stays readable above it."""
        end = QTextCursor(span)
        end.setPosition(span.selectionEnd())
        point = editor.viewport().mapToGlobal(editor.cursorRect(end).bottomLeft() + QPoint(0, 12))
        screen = QGuiApplication.screenAt(point) or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        x = max(area.left(), min(point.x(), area.right() - dialog.width()))
        y = max(area.top(), min(point.y(), area.bottom() - dialog.height()))
        dialog.move(x, y)

    # -- the buttons -----------------------------------------------------------------------------
    def stop(self) -> None:
        if self.pending is not None and self.pending.running:
            self.generation.cancel(self.pending.request_id)

    def retry(self) -> None:
        """Ask again for the same passage; with a fixed seed, a different one each time."""
        pending = self.pending
        if pending is None:
            return
        if pending.running:
            self.generation.cancel(pending.request_id)
        request = pending.request
        if request.seed is not None:
            request = replace(request, seed=request.seed + 1)
        pending.request = request
        pending.request_id = self.generation.submit_rewrite(request)
        pending.running = True
        self._dialog().start(ACTIONS[request.action].rstrip("…"), request.selection)
        self.suggestions_paused.emit(PAUSED)

    def accept(self) -> bool:
        """Replace the selection with the rewrite as one undo step; refuse if the selection changed."""
        pending, dialog = self.pending, self.dialog
        if pending is None or dialog is None or pending.running or not dialog.rewritten.strip():
            return False
        if _selected(pending.span) != pending.request.selection:
            dialog.refuse(REFUSED)
            return False
        text = dialog.rewritten
        span = pending.span
        span.beginEditBlock()
        span.insertText(text)
        span.endEditBlock()
        # Leave the new passage selected: the writer sees what came in, and may rewrite it again.
        end = span.position()
        selection = QTextCursor(span.document())
        selection.setPosition(end - _utf16_length(text))
        selection.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        pending.editor.setTextCursor(selection)
        self.pending = None
        dialog.close_accepted()
        pending.editor.setFocus()
        self.notice.emit("Rewrite accepted: Undo (Ctrl+Z) brings the original back.")
        return True

    def _on_rejected(self) -> None:
        self._drop_pending()

    def _drop_pending(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None and pending.running:
            self.generation.cancel(pending.request_id)
            self.suggestions_paused.emit("")

    def _on_tab_closing(self, tab: "DocumentTab") -> None:
        if self.pending is not None and self.pending.editor is tab.editor and self.dialog is not None:
            self.dialog.reject()

    # -- the worker's answers --------------------------------------------------------------------
    def _current(self, request_id: int) -> _Pending | None:
        pending = self.pending
        return pending if pending is not None and pending.request_id == request_id else None

    def _end(self, pending: _Pending) -> None:
        pending.running = False
        self.suggestions_paused.emit("")

    def _on_token(self, request_id: int, text: str) -> None:
        if self._current(request_id) is not None and self.dialog is not None:
            self.dialog.show_text(text)

    def _on_finished(self, request_id: int, result: Any) -> None:
        pending = self._current(request_id)
        if pending is None or self.dialog is None:
            return
        self._end(pending)
        self.dialog.show_text(result.text)
        how = "" if result.chat else " (a model without a chat format: expect a loose result)"
        self.dialog.finish(f"Done in {result.seconds:.1f} s{how}.")

    def _on_cancelled(self, request_id: int, _tokens_after: int) -> None:
        pending = self._current(request_id)
        if pending is None or self.dialog is None:
            return
        self._end(pending)
        self.dialog.show_text(self.dialog.rewritten.strip())
        self.dialog.finish("Stopped.")

    def _on_failed(self, request_id: Any, message: str) -> None:
        pending = self._current(request_id) if isinstance(request_id, int) else None
        if pending is None or self.dialog is None:
            return
        self._end(pending)
        self.dialog.show_text("")
        self.dialog.set_running(False, message)

    def shut_down(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.reject()
