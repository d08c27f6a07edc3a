"""The writing surface: a QPlainTextEdit that shows the model's suggestion as dimmed "ghost text".

How the ghost is drawn: as the *pre-edit area* of the cursor's text block - the mechanism input
methods use to show text that is being composed but not yet typed. Qt lays it out and paints it
inline (in the viewport's paintEvent) right after the cursor, wrapping and pushing the rest of
the line and the following paragraphs down, yet it is not in the document: toPlainText(), saving,
the word count and the undo stack never see it. A suggestion becomes text only when accepted,
through one edit block, so one Ctrl+Z takes it back out.

The editor knows nothing about models; it turns keys into ghost actions and reports outcomes:
  suggestion_requested    the writer asked for a suggestion now (Ctrl+Space by default)
  ghost_interrupted       the writer typed / moved while a suggestion was pending: cancel it
  ghost_finished(outcome, suggestion, accepted)  for the suggestion log
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QKeyCombination, QPoint, Qt, Signal
from PySide6.QtGui import (QColor, QContextMenuEvent, QInputMethodEvent, QKeyEvent, QKeySequence, QMouseEvent,
                           QTextBlock, QTextCharFormat, QTextLayout)
from PySide6.QtWidgets import QMenu, QPlainTextEdit, QWidget

from cw_desktop.core.settings import KeySettings

_NEXT_WORD = re.compile(r"\s*[^\s]+")
# Qt draws a line break inside a block's layout only for U+2028; "\n" would show as a box.
_LINE_SEPARATOR = "\u2028"
KEY_ACTIONS = ("accept", "accept_word", "dismiss", "next_alternative", "previous_alternative", "suggest_now")


@dataclass
class _Ghost:
    request: int
    anchor: int  # document position where the remaining ghost text starts (= the cursor)
    texts: list[str] = field(default_factory=list)  # full text of each alternative, from the start
    index: int = 0
    taken: str = ""  # the part of the suggestion already in the document (typed through / words)
    shown: bool = False  # the writer has seen some text: its fate is worth logging
    typed: bool = False  # some of `taken` was typed by the writer (typing through), not accepted by key

    @property
    def full(self) -> str:
        return self.texts[self.index] if self.index < len(self.texts) else ""

    @property
    def remaining(self) -> str:
        text = self.full
        return text[len(self.taken):] if text.startswith(self.taken) else ""


def key_sequence_matches(event: QKeyEvent, binding: str) -> bool:
    """Whether the key press is the (single-chord) binding, e.g. "Tab", "Ctrl+Right", "Alt+]"."""
    wanted = QKeySequence(binding)
    if wanted.isEmpty():
        return False
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return QKeyCombination(modifiers, Qt.Key(event.key())) == wanted[0]


class GhostTextEditor(QPlainTextEdit):
    suggestion_requested = Signal()
    ghost_interrupted = Signal(int)  # request id to cancel
    ghost_finished = Signal(str, str, str)  # outcome, suggestion as shown, text that went into the document
    ghost_changed = Signal()  # alternatives or the current index changed (side panel refresh)
    context_menu_opening = Signal(QMenu)  # the right-click menu, before it shows: controllers add to it

    def __init__(self, keys: KeySettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("editor")
        self.keys = keys or KeySettings()
        self.ghost_colour = QColor("#9a948a")
        self._ghost: _Ghost | None = None
        self._preedit_block = -1  # block number whose layout currently carries the ghost
        self._internal_edit = False  # our own insertions must not count as "the writer moved away"
        # The text the last finished suggestion put in: (start position, text, writer typed some of it).
        self.last_taken: tuple[int, str, bool] | None = None
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.document().setDocumentMargin(16)
        self.document().setModified(False)  # a margin change counts as a modification in Qt
        self.cursorPositionChanged.connect(self._on_cursor_moved)
        self.document().contentsChange.connect(self._on_contents_change)

    # -- ghost state (used by the suggestion controller and tests) ----------------------------------
    @property
    def ghost_request(self) -> int | None:
        return self._ghost.request if self._ghost else None

    def ghost_text(self) -> str:
        """What is drawn after the cursor right now ("" when nothing is)."""
        return self._ghost.remaining if self._ghost else ""

    def alternatives(self) -> list[str]:
        return list(self._ghost.texts) if self._ghost else []

    def alternative_index(self) -> int:
        return self._ghost.index if self._ghost else 0

    def begin_ghost(self, request: int) -> None:
        """A suggestion for the current cursor position is on its way (nothing drawn yet)."""
        self.end_ghost("rejected")
        self._ghost = _Ghost(request=request, anchor=self.textCursor().position())

    def set_alternative(self, request: int, index: int, text: str) -> None:
        """Streamed or final text of one alternative; ignored unless it answers the current request."""
        ghost = self._ghost
        if ghost is None or ghost.request != request:
            return
        while len(ghost.texts) <= index:
            ghost.texts.append("")
        ghost.texts[index] = text
        if index == ghost.index:
            if ghost.taken and not text.startswith(ghost.taken):
                # The writer typed through characters this text no longer has: it is not a match.
                ghost.texts[index] = ghost.taken
            self._render()
        self.ghost_changed.emit()

    def set_alternatives(self, request: int, texts: list[str]) -> None:
        for index, text in enumerate(texts):
            self.set_alternative(request, index, text)
        ghost = self._ghost
        if ghost is None or ghost.request != request or self.ghost_text():
            return
        # The current alternative came back empty (the model ended the text): show another one.
        self.cycle_alternative(+1)
        if not self.ghost_text():
            self.end_ghost("rejected")  # nothing to add at all

    def choose_alternative(self, index: int) -> None:
        ghost = self._ghost
        if ghost is None or not 0 <= index < len(ghost.texts) or not ghost.texts[index].startswith(ghost.taken):
            return
        ghost.index = index
        self._render()
        self.ghost_changed.emit()

    def cycle_alternative(self, step: int) -> None:
        ghost = self._ghost
        if ghost is None or not ghost.texts:
            return
        count = len(ghost.texts)
        for offset in range(1, count + 1):
            candidate = (ghost.index + step * offset) % count
            text = ghost.texts[candidate]
            if text.startswith(ghost.taken) and len(text) > len(ghost.taken):
                self.choose_alternative(candidate)
                return

    def accept_all(self) -> bool:
        ghost = self._ghost
        if ghost is None or not ghost.remaining:
            return False
        self._insert(ghost.remaining)
        ghost.taken = ghost.full
        ghost.anchor = self.textCursor().position()
        self.end_ghost("accepted")
        return True

    def accept_next_word(self) -> bool:
        ghost = self._ghost
        if ghost is None or not ghost.remaining:
            return False
        match = _NEXT_WORD.match(ghost.remaining)
        word = match.group(0) if match else ghost.remaining
        self._insert(word)
        self._advance_ghost(ghost, word)
        return True

    def end_ghost(self, outcome: str) -> None:
        """Remove the ghost. `outcome` applies when nothing was taken; taking some makes it "partial"."""
        ghost = self._ghost
        if ghost is None:
            return
        self._ghost = None
        self._clear_preedit()
        # The model may still be streaming this one (or its alternatives): stop it now.
        self.ghost_interrupted.emit(ghost.request)
        # The anchor follows the taken text, so the taken text ends right at it.
        self.last_taken = (ghost.anchor - len(ghost.taken), ghost.taken, ghost.typed) if ghost.taken else None
        if ghost.shown:
            if outcome != "accepted" and ghost.taken:
                outcome = "partial"
            self.ghost_finished.emit(outcome, ghost.full, ghost.taken)
        self.ghost_changed.emit()

    # -- drawing -----------------------------------------------------------------------------------
    def _render(self) -> None:
        self._clear_preedit()
        ghost = self._ghost
        if ghost is None or not ghost.remaining:
            return
        ghost.shown = True
        cursor = self.textCursor()
        block = cursor.block()
        layout = block.layout()
        position = cursor.position() - block.position()
        text = ghost.remaining.replace("\n", _LINE_SEPARATOR)
        layout.setPreeditArea(position, text)
        dimmed = QTextCharFormat()
        dimmed.setForeground(self.ghost_colour)
        ghost_range = QTextLayout.FormatRange()
        ghost_range.start, ghost_range.length, ghost_range.format = position, len(text), dimmed
        layout.setFormats([ghost_range])
        self._preedit_block = block.blockNumber()
        self._relayout(block)
        self.ensureCursorVisible()

    def _clear_preedit(self) -> None:
        if self._preedit_block < 0:
            return
        block = self.document().findBlockByNumber(self._preedit_block)
        self._preedit_block = -1
        if block.isValid():
            block.layout().setPreeditArea(-1, "")
            block.layout().setFormats([])
            self._relayout(block)

    def _relayout(self, block: QTextBlock) -> None:
        # Changing a layout's pre-edit text does not notify the document; marking the block dirty
        # makes the plain-text layout re-flow it (and the blocks below) right away.
        self._internal_edit = True
        try:
            self.document().markContentsDirty(block.position(), block.length())
        finally:
            self._internal_edit = False
        self.viewport().update()

    # -- editing -----------------------------------------------------------------------------------
    def _insert(self, text: str) -> None:
        self._clear_preedit()
        cursor = self.textCursor()
        self._internal_edit = True
        try:
            # One edit block = one undo step for the whole accepted text.
            cursor.beginEditBlock()
            cursor.insertText(text)
            cursor.endEditBlock()
            self.setTextCursor(cursor)
        finally:
            self._internal_edit = False

    def _on_cursor_moved(self) -> None:
        ghost = self._ghost
        if ghost is not None and not self._internal_edit and self.textCursor().position() != ghost.anchor:
            self.end_ghost("rejected")

    def _on_contents_change(self, position: int, removed: int, added: int) -> None:
        if self._ghost is not None and not self._internal_edit and (removed or added):
            self.end_ghost("rejected")

    def _action_for(self, event: QKeyEvent) -> str | None:
        for action in KEY_ACTIONS:
            if key_sequence_matches(event, getattr(self.keys, action, "")):
                return action
        return None

    def event(self, event: QEvent) -> bool:
        if isinstance(event, QKeyEvent) and self.ghost_text() and self._action_for(event) is not None:
            if event.type() == QEvent.Type.ShortcutOverride:
                # A window shortcut on the same key must not steal it while a ghost is showing.
                event.accept()
                return True
            if event.type() == QEvent.Type.KeyPress:
                # Tab would otherwise move the focus before keyPressEvent sees it.
                self.keyPressEvent(event)
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        action = self._action_for(event)
        if action == "suggest_now":
            self.suggestion_requested.emit()
            return
        if self._ghost is not None and self.ghost_text() and action is not None:
            self._ghost_key(action)
            return
        if self._ghost is None or _is_modifier_only(event):
            super().keyPressEvent(event)
            return
        typed = event.text()
        ghost = self._ghost
        is_typing = bool(typed) and typed.isprintable() and not (
            event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier))
        if is_typing and ghost.shown and ghost.remaining.startswith(typed) and not self.textCursor().hasSelection():
            self._type_through(event, typed)
            return
        if is_typing:
            self.end_ghost("typed_over")
        else:
            self.end_ghost("rejected")
        super().keyPressEvent(event)

    def _ghost_key(self, action: str) -> None:
        if action == "accept":
            self.accept_all()
        elif action == "accept_word":
            self.accept_next_word()
        elif action == "dismiss":
            self.end_ghost("rejected")
        elif action == "next_alternative":
            self.cycle_alternative(+1)
        elif action == "previous_alternative":
            self.cycle_alternative(-1)

    def _type_through(self, event: QKeyEvent, typed: str) -> None:
        ghost = self._ghost
        assert ghost is not None
        self._clear_preedit()
        self._internal_edit = True
        try:
            super().keyPressEvent(event)
        finally:
            self._internal_edit = False
        ghost.typed = True
        self._advance_ghost(ghost, typed)

    def _advance_ghost(self, ghost: _Ghost, taken: str) -> None:
        """The writer took `taken` of the ghost text (accepted a word or typed it): show the rest, or
        finish the suggestion as accepted when nothing is left."""
        ghost.taken += taken
        ghost.anchor = self.textCursor().position()
        if not ghost.remaining:
            self.end_ghost("accepted")
        else:
            self._render()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        # Drop the ghost before Qt maps the click to a text position: with the ghost still laid
        # out, a click to the right of it would land on the wrong character.
        self.end_ghost("rejected")
        super().mousePressEvent(event)

    def context_menu(self, position: QPoint) -> QMenu:
        """Qt's standard menu for a right click at `position`, with what the controllers add."""
        menu = self.createStandardContextMenu(position)
        self.context_menu_opening.emit(menu)
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        menu = self.context_menu(event.pos())
        menu.exec(event.globalPos())
        menu.deleteLater()

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:  # noqa: N802
        # An input method owns the pre-edit area while composing; the ghost steps aside.
        self.end_ghost("rejected")
        super().inputMethodEvent(event)

    # -- queries -----------------------------------------------------------------------------------
    def text_before_cursor(self) -> str:
        return self.toPlainText()[: self.textCursor().position()]

    def at_suggestion_point(self) -> bool:
        """Where an automatic suggestion makes sense: end of a paragraph, no selection, some text."""
        cursor = self.textCursor()
        if cursor.hasSelection() or self.isReadOnly():
            return False
        block_text = cursor.block().text()
        after = block_text[cursor.positionInBlock():]
        if after.strip():
            return False
        return bool(self.toPlainText()[: cursor.position()].strip())


def _is_modifier_only(event: QKeyEvent) -> bool:
    return event.key() in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta,
                           Qt.Key.Key_AltGr, Qt.Key.Key_CapsLock)
