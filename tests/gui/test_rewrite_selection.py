"""Rewrite the selection in the real window, answered by the tiny GPT-2 in the worker thread:
streamed preview, Accept as one undo step, Reject, Stop, and a refused Accept after an edit."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor

from cw_desktop.gui.rewrite_controller import MENU_TITLE, REFUSED

BEFORE, PASSAGE, AFTER = "It was late. ", "The rain fell on the old roof all night.", " Morning came grey."
TEXT = BEFORE + PASSAGE + AFTER


def select_passage(window, text: str = TEXT, start: int = len(BEFORE), length: int = len(PASSAGE)):
    editor = window.current_editor()
    editor.setPlainText(text)
    cursor = editor.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(start + length, QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    return editor


def start_rewrite(window, action: str = "rewrite", max_new_tokens: int = 20, **kwargs):
    """Ask for a reproducible rewrite; returns the preview dialog and the texts it was shown."""
    rewriting = window.rewriting
    rewriting.seed, rewriting.max_new_tokens = 2, max_new_tokens
    dialog = rewriting._dialog()
    shown: list[str] = []
    original_show = dialog.show_text
    dialog.show_text = lambda text, **how: (shown.append(text), original_show(text, **how))  # what streamed in
    assert rewriting.rewrite_selection(action, **kwargs)
    assert dialog.isVisible() and not dialog.accept_button.isEnabled()  # nothing to accept while writing
    return dialog, shown


def wait_until_done(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: not dialog.stop_button.isEnabled(), timeout=30_000)


def test_preview_streams_and_accept_replaces_exactly_the_selection_in_one_undo_step(qtbot, window) -> None:
    editor = select_passage(window)
    dialog, shown = start_rewrite(window)
    wait_until_done(qtbot, dialog)
    rewritten = dialog.rewritten
    assert rewritten.strip() and "Done" in dialog.status.text()
    streamed = [text for text in shown if text]
    assert len(streamed) >= 2 and streamed[-1].strip() == rewritten.strip()  # it grew token by token
    assert dialog.rewritten_view.toPlainText() == rewritten
    assert dialog.original_view.toPlainText() == PASSAGE
    assert "background-color" in dialog.rewritten_view.toHtml()  # new words are marked

    qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    assert editor.toPlainText() == BEFORE + rewritten + AFTER
    assert not dialog.isVisible() and editor.textCursor().selectedText() == rewritten.replace("\n", "\u2029")
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == TEXT  # the whole rewrite was one step


def test_reject_leaves_the_document_byte_identical(qtbot, window) -> None:
    text = "Première ligne.\n\nThe rain fell 🌧 on the roof.\tAnd then? Rien."
    editor = select_passage(window, text, start=text.index("The"), length=len("The rain fell 🌧 on the roof."))
    editor.document().setModified(False)
    dialog, _shown = start_rewrite(window)
    wait_until_done(qtbot, dialog)
    qtbot.mouseClick(dialog.reject_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert editor.toPlainText().encode("utf-8") == text.encode("utf-8")
    assert not editor.document().isModified()
    assert window.rewriting.pending is None


def test_stop_cancels_the_rewrite_and_keeps_the_document(qtbot, window) -> None:
    editor = select_passage(window)
    dialog, shown = start_rewrite(window, "expand", max_new_tokens=200)
    qtbot.waitUntil(lambda: any(shown), timeout=30_000)
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Stopped" in dialog.status.text(), timeout=30_000)
    assert not dialog.stop_button.isEnabled() and window.rewriting.pending is not None
    assert not window.rewriting.pending.running
    assert editor.toPlainText() == TEXT
    assert window.controller.paused_reason == ""  # ghost suggestions may come again


def test_editing_the_passage_during_the_preview_makes_accept_refuse(qtbot, window) -> None:
    editor = select_passage(window)
    dialog, _shown = start_rewrite(window)
    typing = editor.textCursor()
    typing.setPosition(len(BEFORE) + 4)  # inside the passage: "The |rain"
    editor.setTextCursor(typing)
    qtbot.keyClicks(editor, "cold ")
    wait_until_done(qtbot, dialog)
    typed = BEFORE + "The cold rain fell on the old roof all night." + AFTER
    assert editor.toPlainText() == typed
    qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    assert editor.toPlainText() == typed  # nothing typed is lost
    assert dialog.isVisible() and dialog.status.text() == REFUSED and not dialog.accept_button.isEnabled()


def test_an_edit_elsewhere_does_not_stop_accept_at_the_moved_passage(qtbot, window) -> None:
    editor = select_passage(window)
    dialog, _shown = start_rewrite(window)
    start = editor.textCursor()
    start.setPosition(0)
    editor.setTextCursor(start)
    qtbot.keyClicks(editor, "Chapter one. ")
    wait_until_done(qtbot, dialog)
    qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    assert editor.toPlainText() == "Chapter one. " + BEFORE + dialog.rewritten + AFTER


def test_the_context_menu_and_the_edit_menu_offer_the_actions(qtbot, window) -> None:
    editor = select_passage(window)
    menu = editor.context_menu(QPoint(5, 5))
    submenu = next(a.menu() for a in menu.actions() if a.menu() is not None and a.text() == MENU_TITLE)
    labels = [a.text() for a in submenu.actions()]
    assert labels == ["Rewrite", "Expand", "Shorten", "Describe (sensory detail)", "Custom instruction…"]
    assert submenu.isEnabled()
    window.rewriting.ask_instruction = lambda: "in the present tense"
    window.rewriting.seed, window.rewriting.max_new_tokens = 2, 8
    next(a for a in submenu.actions() if a.data() == "custom").trigger()
    pending = window.rewriting.pending
    assert pending is not None and pending.request.instruction == "in the present tense"
    assert pending.request.before == BEFORE and pending.request.after == AFTER
    wait_until_done(qtbot, window.rewriting.dialog)
    window.rewriting.dialog.reject()
    assert [a.text() for a in window.main_menu.rewrite_menu.actions()] == labels

    cursor = editor.textCursor()
    cursor.clearSelection()
    editor.setTextCursor(cursor)
    assert not next(a.menu() for a in editor.context_menu(QPoint(5, 5)).actions()
                    if a.text() == MENU_TITLE).isEnabled()
    notices: list[str] = []
    window.rewriting.notice.connect(notices.append)
    assert not window.rewriting.rewrite_selection("shorten")
    assert notices == ["Select the text to rewrite first."]
