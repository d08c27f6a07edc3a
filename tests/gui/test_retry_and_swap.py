"""Suggestion history, Retry and Swap in the real window, answered by the tiny GPT-2 (gui/history_controller.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from cw_desktop.core.suggestion_history import place_key


def ask(qtbot, window, how) -> str:
    """Ask (suggest now / retry) and wait until the complete answer is showing; returns the ghost."""
    editor = window.current_editor()
    with qtbot.waitSignal(window.controller.suggestion_complete, timeout=20_000,
                          check_params_cb=lambda request, s, t: request == editor.ghost_request):
        how()
    qtbot.waitUntil(lambda: editor.ghost_text() != "", timeout=5_000)
    return editor.ghost_text()


def start(qtbot, window, typed: str):
    """On-demand suggestions only, so no automatic one arrives in the middle of a test."""
    window.main_menu.auto_action.trigger()
    assert window.settings.suggestions.auto_suggest is False
    editor = window.current_editor()
    qtbot.keyClicks(editor, typed)
    return editor


def place_texts(window, editor, before: str) -> list[str]:
    return window.history.history(editor).place(place_key(before)).texts()


def test_retry_adds_a_different_suggestion_at_the_same_place_and_the_earlier_stays_listed(qtbot, window) -> None:
    typed = "The storm broke over the"
    editor = start(qtbot, window, typed)
    window.alternatives_dock.show()
    first = ask(qtbot, window, window.controller.suggest_now)
    assert window.main_menu.retry_action.shortcut().toString() == "Alt+R"
    second = ask(qtbot, window, window.main_menu.retry_action.trigger)
    qtbot.waitUntil(lambda: len(place_texts(window, editor, typed)) == 2, timeout=20_000)
    second = editor.ghost_text()
    assert second != first and editor.toPlainText() == typed  # nothing went into the text
    assert place_texts(window, editor, typed) == [first, second]
    # The panel: the new suggestion as the current card, the earlier one listed below it.
    window.history.refresh_panel()
    assert [card.text for card in window.alternatives_panel.history_cards] == ["…" + first.rstrip()]
    assert window.alternatives_panel.history_title.isVisibleTo(window.alternatives_panel)

    # Clicking the earlier one shows it as ghost text again (still not in the document).
    qtbot.mouseClick(window.alternatives_panel.history_cards[0], Qt.MouseButton.LeftButton)
    assert editor.ghost_text() == first and editor.toPlainText() == typed
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    # With no ghost, the panel lists the whole history of the place, the retry's answer marked new.
    window.history.refresh_panel()
    cards = window.alternatives_panel.history_cards
    assert [c.text for c in cards] == ["…" + second.rstrip(), "…" + first.rstrip()]
    assert [c.note for c in cards] == ["new", ""]

    window.controller.flush_log()
    events = window.log.read()
    retried = [e for e in events if e.get("via") == "retry"]
    assert len(retried) == 1 and retried[0]["suggestion"] == second and retried[0]["attempt"] == 2
    assert retried[0]["outcome"] == "rejected" and retried[0]["context_tail"] == typed
    assert events[0]["suggestion"] == first and "attempt" not in events[0]
    assert events[-1]["via"] == "history" and events[-1]["suggestion"] == first


def accept_two(qtbot, window, typed: str) -> tuple[object, str, str]:
    """Type, get a suggestion X, retry for Y, accept Y with Tab."""
    editor = start(qtbot, window, typed)
    first = ask(qtbot, window, window.controller.suggest_now)
    ask(qtbot, window, window.history.retry)
    qtbot.waitUntil(lambda: len(place_texts(window, editor, typed)) == 2, timeout=20_000)
    second = editor.ghost_text()
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == typed + second
    return editor, first, second


def test_swap_replaces_exactly_the_accepted_text_in_one_undo_step(qtbot, window) -> None:
    typed = "Once upon a time"
    editor, first, second = accept_two(qtbot, window, typed)
    window.history.refresh_panel()  # right after accepting, the panel offers the swap
    assert [card.text for card in window.alternatives_panel.history_cards] == ["…" + first.rstrip()]
    assert window.main_menu.swap_action.shortcut().toString() == "Alt+W"
    window.main_menu.swap_action.trigger()
    assert editor.toPlainText() == typed + first
    assert editor.textCursor().position() == len(typed + first)  # the cursor stays after it
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == typed + second  # the first accepted text, in one step
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == typed  # then the writer's own text
    # Undone: nothing accepted is left to swap, and nothing of the writer's goes.
    assert window.history.swap() is False and editor.toPlainText() == typed

    window.controller.flush_log()
    events = window.log.read()
    swapped_out = [e for e in events if e.get("swapped_out")]
    assert len(swapped_out) == 1 and swapped_out[0]["accepted_text"] == second
    assert swapped_out[0]["outcome"] == "rejected"
    assert [e["accepted_text"] for e in events if e.get("via") == "swap"] == [first]


def test_text_typed_after_accepting_survives_a_swap_and_edits_inside_refuse_it(qtbot, window) -> None:
    typed = "It was a dark and stormy night"
    editor, first, second = accept_two(qtbot, window, typed)
    own = " Then she ran."
    qtbot.keyClicks(editor, own)
    statuses: list[str] = []
    window.history.status_message.connect(statuses.append)
    assert window.history.swap()
    assert editor.toPlainText() == typed + first + own  # only the accepted words changed
    # Swap again: back to the other one; the writer's sentence is still there.
    assert window.history.swap()
    assert editor.toPlainText() == typed + second + own

    # An edit inside the accepted text: swapping would remove it, so nothing happens.
    cursor = editor.textCursor()
    cursor.setPosition(len(typed) + 1)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "Q")
    edited = editor.toPlainText()
    assert window.history.swap() is False
    assert editor.toPlainText() == edited and "Q" in edited
    assert "edited" in statuses[-1]


def test_typing_through_a_suggestion_then_accepting_it_cannot_be_swapped_away(qtbot, window) -> None:
    typed = "She looked at"
    editor = start(qtbot, window, typed)
    first = ask(qtbot, window, window.controller.suggest_now)
    ask(qtbot, window, window.history.retry)
    qtbot.waitUntil(lambda: len(place_texts(window, editor, typed)) == 2, timeout=20_000)
    ghost = editor.ghost_text()
    assert ghost[0].isprintable()
    qtbot.keyClicks(editor, ghost[0])  # the writer types its first character themselves
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == typed + ghost
    assert window.history.swap() is False and editor.toPlainText() == typed + ghost
    assert first  # an alternative existed: only the writer's typing stopped the swap


def test_history_follows_the_document(qtbot, window) -> None:
    typed = "The harbour lights"
    editor_a = start(qtbot, window, typed)
    ask(qtbot, window, window.controller.suggest_now)
    ask(qtbot, window, window.history.retry)
    qtbot.waitUntil(lambda: len(place_texts(window, editor_a, typed)) == 2, timeout=20_000)
    qtbot.keyClick(editor_a, Qt.Key.Key_Escape)
    window.history.refresh_panel()
    assert len(window.alternatives_panel.history_cards) == 2

    window.documents.new_document()
    editor_b = window.current_editor()
    assert editor_b is not editor_a
    qtbot.keyClicks(editor_b, typed)  # the very same words before the cursor, in another document
    window.history.refresh_panel()
    assert window.alternatives_panel.history_cards == []
    ask(qtbot, window, window.controller.suggest_now)
    assert len(place_texts(window, editor_b, typed)) == 1
    assert len(place_texts(window, editor_a, typed)) == 2

    window.tabs.setCurrentWidget(window.documents.document_tabs()[0])
    assert window.current_editor() is editor_a
    window.history.refresh_panel()
    assert len(window.alternatives_panel.history_cards) == 2


def test_the_retry_and_swap_keys_reach_their_actions_from_the_editor(qtbot, window) -> None:
    typed = "The wind rose"
    editor = start(qtbot, window, typed)
    window.activateWindow()
    editor.setFocus()
    ask(qtbot, window, window.controller.suggest_now)
    ask(qtbot, window, lambda: qtbot.keyClick(editor, Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier))
    qtbot.waitUntil(lambda: len(place_texts(window, editor, typed)) == 2, timeout=20_000)
    shown = editor.ghost_text()
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    qtbot.keyClick(editor, Qt.Key.Key_W, Qt.KeyboardModifier.AltModifier)
    other = next(t for t in place_texts(window, editor, typed) if t != shown)
    assert editor.toPlainText() == typed + other


def test_the_place_seen_from_the_cursor_is_the_one_a_request_was_made_for(qtbot) -> None:
    from cw_desktop.gui.editor import GhostTextEditor
    from cw_desktop.gui.history_controller import place_at

    editor = GhostTextEditor()
    qtbot.addWidget(editor)
    # Paragraph breaks, a no-break space and a line separator: a text cursor reads them differently.
    editor.setPlainText(("She said\u00a0no.\n\nThen\u2028the door " * 30).strip())
    text = editor.toPlainText()
    for position in range(0, len(text) + 1, 11):
        assert place_at(editor, position) == place_key(text[:position])
