"""The menu bar's actions reach what they name (the menu is built apart from the window that owns the slots)."""

from __future__ import annotations

from pathlib import Path

from gui_helpers import make_window


def menu_actions(window) -> dict[str, object]:
    found = {}
    for top in window.menuBar().actions():
        for action in top.menu().actions():
            found[action.text().split("\t")[0].replace("&", "")] = action
    return found


def test_file_edit_and_view_actions_act_on_the_document(qtbot, qasync_loop, app_paths, tmp_path: Path,
                                                        monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    window = make_window(qtbot, app_paths)
    actions = menu_actions(window)
    actions["New"].trigger()
    assert [t.title for t in window.document_tabs()] == ["Untitled", "Untitled 2"]
    editor = window.current_editor()
    qtbot.keyClicks(editor, "Fog on the river.")
    actions["Undo"].trigger()
    assert editor.toPlainText() == ""
    actions["Redo"].trigger()
    assert editor.toPlainText() == "Fog on the river."

    size = window.settings.editor.font_size
    actions["Larger text"].trigger()
    assert window.settings.editor.font_size == size + 1 and editor.font().pointSize() == size + 1
    actions["Dark theme"].trigger()
    assert window.settings.editor.theme == "dark"
    actions["Soft wrap"].trigger()
    assert window.settings.editor.soft_wrap is False and editor.lineWrapMode() == editor.LineWrapMode.NoWrap
    assert "theme = \"dark\"" in app_paths.settings_file.read_text()  # each toggle is saved at once

    target = tmp_path / "river.txt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    actions["Save"].trigger()  # untitled: asks for a name
    assert target.read_text() == "Fog on the river." and window.current_tab().title == "river.txt"
    actions["Close tab"].trigger()
    assert [t.title for t in window.document_tabs()] == ["Untitled"]
    actions["Distraction-free mode"].trigger()
    assert not window.menuBar().isVisible() and actions["Distraction-free mode"].isChecked()
    actions["Distraction-free mode"].trigger()
    assert window.menuBar().isVisible() and not actions["Distraction-free mode"].isChecked()
