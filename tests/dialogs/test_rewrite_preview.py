"""The rewrite preview dialog on its own: marked differences, throttled streaming, the buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt

from cw_desktop.dialogs.rewrite_preview import DELETED_STYLE, INSERTED_STYLE, RewritePreviewDialog, diff_html

ORIGINAL = "The grey sea rolled in."


def test_removed_and_new_words_are_marked_on_their_own_side() -> None:
    before, after = diff_html(ORIGINAL, "The cold sea rolled in <slowly>.")
    assert f'<span style="{DELETED_STYLE}">grey</span> sea' in before and "cold" not in before
    assert f'<span style="{INSERTED_STYLE}">cold</span> sea' in after and "grey" not in after
    assert "&lt;slowly&gt;" in after  # the model's text is shown, never interpreted as markup


def test_streamed_text_is_drawn_in_batches_and_finish_draws_the_rest(qtbot) -> None:
    dialog = RewritePreviewDialog()
    qtbot.addWidget(dialog)
    dialog.start("Rewrite", ORIGINAL)
    assert not dialog.accept_button.isEnabled() and dialog.stop_button.isEnabled()
    for end in range(1, 12):
        dialog.show_text("The cold sea"[:end])
    assert dialog.rewritten_view.toPlainText() == ""  # not yet: one redraw for a burst of tokens
    qtbot.waitUntil(lambda: dialog.rewritten_view.toPlainText() == "The cold se", timeout=2_000)
    dialog.show_text("The cold sea rolled in.")
    dialog.finish("Done.")
    assert dialog.rewritten_view.toPlainText() == "The cold sea rolled in."
    assert dialog.accept_button.isEnabled() and "of the words changed" in dialog.status.text()


def test_an_empty_answer_cannot_be_accepted(qtbot) -> None:
    dialog = RewritePreviewDialog()
    qtbot.addWidget(dialog)
    dialog.start("Shorten", ORIGINAL)
    dialog.finish("Done.")
    assert not dialog.accept_button.isEnabled() and "gave no text" in dialog.status.text()


def test_buttons_and_escape_only_ask(qtbot) -> None:
    dialog = RewritePreviewDialog()
    qtbot.addWidget(dialog)
    dialog.start("Expand", ORIGINAL)
    dialog.show()
    with qtbot.waitSignal(dialog.stop_requested):
        qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    dialog.show_text("Longer.")
    dialog.finish("Stopped.")
    with qtbot.waitSignal(dialog.accept_requested):
        qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()  # the controller decides whether the accept happens
    with qtbot.waitSignal(dialog.retry_requested):
        qtbot.mouseClick(dialog.retry_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.reject_requested):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
