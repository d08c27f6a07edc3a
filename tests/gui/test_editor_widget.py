"""The ghost-text editor on its own: drawing, keys, and the suggestion log (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.core.settings import KeySettings, Settings
from cw_desktop.core.suggestion_log import SuggestionLog
from cw_desktop.gui.editor import GhostTextEditor
from cw_desktop.gui.suggestion_controller import SuggestionController
from cw_desktop.workers.generation_worker import GenerationWorker


@pytest.fixture
def editor(qtbot) -> GhostTextEditor:
    widget = GhostTextEditor(KeySettings())
    widget.resize(500, 300)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def show(editor: GhostTextEditor, request: int, *texts: str) -> None:
    editor.begin_ghost(request)
    editor.set_alternatives(request, list(texts))


def test_multi_line_ghost_is_laid_out_below_without_touching_the_document(qtbot, editor) -> None:
    qtbot.keyClicks(editor, "First line")
    lines_before = editor.textCursor().block().layout().lineCount()
    show(editor, 1, " ends here.\nA second line\nand a third.")
    layout = editor.textCursor().block().layout()
    assert layout.preeditAreaText() == " ends here.\u2028A second line\u2028and a third."
    assert layout.lineCount() >= lines_before + 2  # drawn on lines of their own
    assert editor.toPlainText() == "First line" and editor.document().blockCount() == 1
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == "First line ends here.\nA second line\nand a third."
    assert editor.textCursor().block().layout().preeditAreaText() == ""


def test_without_a_ghost_the_keys_do_their_usual_job(qtbot, editor) -> None:
    qtbot.keyClicks(editor, "one two")
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == "one two\t"
    qtbot.keyClick(editor, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert editor.textCursor().position() < len("one two\t")


def test_clicking_elsewhere_dismisses(qtbot, editor) -> None:
    qtbot.keyClicks(editor, "Some text here")
    show(editor, 1, " and more")
    qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(20, 10))
    assert editor.ghost_text() == "" and editor.toPlainText() == "Some text here"


def test_a_ghost_with_nothing_new_is_not_shown(qtbot, editor) -> None:
    qtbot.keyClicks(editor, "End.")
    interrupted: list[int] = []
    editor.ghost_interrupted.connect(interrupted.append)
    show(editor, 5, "")
    assert editor.ghost_text() == "" and editor.ghost_request is None and interrupted == [5]
    show(editor, 6, "", " Then?")  # the first alternative is empty: the next one is shown
    assert editor.ghost_text() == " Then?" and editor.alternative_index() == 1


def test_custom_keys_replace_the_defaults(qtbot, editor) -> None:
    editor.keys = KeySettings(accept="Ctrl+Return", dismiss="Ctrl+D")
    qtbot.keyClicks(editor, "The sea")
    show(editor, 1, " was calm")
    qtbot.keyClick(editor, Qt.Key.Key_Tab)  # no longer "accept": an ordinary key, which ends the ghost
    assert editor.toPlainText() == "The sea\t" and editor.ghost_text() == ""
    show(editor, 2, " rose")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == "The sea\t rose"


def test_the_log_records_what_the_writer_typed_after_accepting(qtbot, editor, tmp_path: Path) -> None:
    settings = Settings()
    log = SuggestionLog(tmp_path / "suggestions.jsonl")
    controller = SuggestionController(GenerationWorker(), settings, log, GenerationSettings, str)
    controller.attach(editor)
    controller.model_spec = "bundled"
    qtbot.keyClicks(editor, "She opened the door")
    controller._context = editor.text_before_cursor()  # what request() records
    show(editor, 1, " and stepped out.")
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    qtbot.keyClicks(editor, " The rain had stopped.")
    controller.flush_log()
    [event] = log.read()
    assert event["outcome"] == "accepted" and event["accepted_text"] == " and stepped out."
    assert event["context_tail"] == "She opened the door"
    assert event["after_text"] == " The rain had stopped."
    assert log.training_texts() == ["She opened the door and stepped out. The rain had stopped."]

    settings.suggestions.log_suggestions = False
    show(editor, 2, " More")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    controller.flush_log()
    assert len(log.read()) == 1  # logging off: nothing new written
