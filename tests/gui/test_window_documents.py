"""Documents in the window: open/save, unsaved-changes prompt, autosave and crash recovery."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from gui_helpers import crash, make_window


def test_open_edit_save_keeps_encoding_and_line_endings(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    draft = tmp_path / "chapter.txt"
    draft.write_bytes("Caf\xe9 scene.\r\n".encode("latin-1"))
    tab = window.open_path(draft)
    assert window.document_tabs() == [tab]  # the blank start-up tab was reused
    assert tab.text() == "Café scene.\n" and not tab.is_modified()
    cursor = tab.editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    tab.editor.setTextCursor(cursor)
    qtbot.keyClicks(tab.editor, "More.")
    assert tab.is_modified() and window.isWindowModified()
    assert window.documents.save(tab)
    assert draft.read_bytes() == "Caf\xe9 scene.\r\nMore.".encode("latin-1")
    assert not tab.is_modified()
    assert window.settings.editor.recent_files[0] == str(draft.resolve())
    assert window.open_path(draft) is tab  # opening it again focuses the tab
    assert len(window.document_tabs()) == 1


def test_unreadable_file_is_reported_with_its_name(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    binary = tmp_path / "picture.txt"
    binary.write_bytes(b"\x89PNG\x00\x00")
    assert window.open_path(binary) is None
    assert "picture.txt" in window.prompts.asked[-1][1] and "binary" in window.prompts.asked[-1][1]


def test_close_asks_about_unsaved_changes(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths)
    qtbot.keyClicks(window.current_editor(), "Unsaved words")
    window.prompts.unsaved_answer = "cancel"
    assert not window.close()
    assert window.isVisible() and window.prompts.asked == [("unsaved", "Untitled")]
    window.prompts.unsaved_answer = "discard"
    assert window.close()
    assert list(app_paths.recovery_dir.glob("*.json")) == []  # a clean exit leaves nothing to recover


def test_memory_is_kept_per_document(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    manuscripts = tmp_path / "manuscripts"
    manuscripts.mkdir()
    first, second = manuscripts / "a.txt", manuscripts / "b.txt"
    first.write_text("A")
    second.write_text("B")
    window.open_path(first)
    window.generation_panel.memory.setPlainText("Anne: shy.")
    window.open_path(second)
    assert window.generation_panel.memory.toPlainText() == ""
    window.tabs.setCurrentIndex(0)
    assert window.generation_panel.memory.toPlainText() == "Anne: shy."
    window.documents.store_memory()
    assert sorted(p.name for p in manuscripts.iterdir()) == ["a.txt", "b.txt"]  # nothing beside the files
    other = make_window(qtbot, app_paths)
    other.open_path(first)
    assert other.generation_panel.memory.toPlainText() == "Anne: shy."


def test_autosave_then_crash_then_restore(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths, will_crash=True)
    window.settings.editor.autosave_seconds = 1
    window.apply_settings()
    saved = tmp_path / "novel.txt"
    saved.write_text("Chapter one.\n")
    tab = window.open_path(saved)
    cursor = tab.editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    tab.editor.setTextCursor(cursor)
    qtbot.keyClicks(tab.editor, "It rained.")
    window.generation_panel.memory.setPlainText("Setting: Bath, 1811.")
    window.documents.new_document()
    qtbot.keyClicks(window.current_editor(), "A brand new idea")
    # The real timer does it: no explicit call.
    with qtbot.waitSignal(window.autosaved, timeout=5_000, check_params_cb=lambda n: n == 2):
        pass
    assert len(list(app_paths.recovery_dir.glob("*.json"))) == 2
    assert saved.read_text() == "Chapter one.\n"  # autosave never touches the writer's file

    crash(window)

    restored = make_window(qtbot, app_paths)
    tabs = restored.documents.restore_from_crash(is_alive=lambda pid: False)
    assert restored.prompts.asked[0][0] == "recover"
    texts = {t.title: t for t in restored.document_tabs()}
    assert texts["novel.txt"].text() == "Chapter one.\nIt rained." and texts["novel.txt"].path == saved.resolve()
    assert texts["novel.txt"].memory == "Setting: Bath, 1811." and texts["novel.txt"].is_modified()
    assert texts["Untitled"].text() == "A brand new idea"
    assert len(tabs) == 2 and len(restored.document_tabs()) == 2  # the blank tab was reused
    # The copies now belong to the new session (re-protected, old ones removed).
    assert len(list(app_paths.recovery_dir.glob("*.json"))) == 2
    assert restored.documents.restore_from_crash() == []  # they belong to this live session now
    restored.documents.save(texts["novel.txt"])
    assert saved.read_text() == "Chapter one.\nIt rained."


def test_declining_recovery_can_keep_or_discard_copies(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths, will_crash=True)
    qtbot.keyClicks(window.current_editor(), "keep me")
    window.documents.autosave()
    crash(window)
    later = make_window(qtbot, app_paths)
    later.prompts.recover_answer = "later"
    assert later.documents.restore_from_crash(is_alive=lambda pid: False) == []
    assert len(list(app_paths.recovery_dir.glob("*.json"))) == 1
    later.prompts.recover_answer = "discard"
    later.documents.restore_from_crash(is_alive=lambda pid: False)
    assert list(app_paths.recovery_dir.glob("*.json")) == []


def test_find_and_replace_all_is_one_undo_step(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths)
    editor = window.current_editor()
    editor.setPlainText("the cat and the hat")
    window.show_find(replace=True)
    window.find_bar.find_edit.setText("the")
    window.find_bar.replace_edit.setText("a")
    assert window.find_bar.replace_all() == 2
    assert editor.toPlainText() == "a cat and a hat"
    editor.undo()
    assert editor.toPlainText() == "the cat and the hat"
    assert window.find_bar.find_next()
    assert editor.textCursor().selectedText() == "the"


def test_distraction_free_hides_chrome_and_escape_leaves(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths)
    window.toggle_distraction_free()
    assert not window.menuBar().isVisible() and not window.statusBar().isVisible()
    assert window.current_editor().viewportMargins().left() > 0
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.menuBar().isVisible() and window.statusBar().isVisible()


def test_window_layout_is_remembered(qtbot, qasync_loop, app_paths) -> None:
    from cw_desktop.core.settings import Settings

    window = make_window(qtbot, app_paths)
    window.resize(700, 520)
    window.creative_dock.show()
    window.creative_dock.raise_()
    window.alternatives_dock.hide()
    assert window.close()
    settings = Settings.load(app_paths.settings_file)
    assert settings.editor.window_geometry and settings.editor.window_state
    again = make_window(qtbot, app_paths, settings)
    assert again.size().width() == 700 and not again.alternatives_dock.isVisible()
