"""The project dock in the real window: the chapter tree, new/rename/reorder/delete, find across
chapters, word counts and the session target, export, and a bad project file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cw_desktop.core.project import PROJECT_DIR, Project
from cw_desktop.core.story_context import StoryContext
from cw_desktop.ml import readers

from gui_helpers import gui_settings, make_window

CHAPTER_TEXTS = {
    "01 Arrival.md": "The coach reached Highbury at dusk.",
    "02 Dinner.md": "Dinner was long and the soup was cold.",
    "03 The Letter.md": "Line one.\n🐉 Emma found the lantern by the door.",
    "04 Morning.txt": "Morning came grey.",
}


@pytest.fixture
def novel(tmp_path: Path) -> Path:
    folder = tmp_path / "novel"
    folder.mkdir()
    for name, text in CHAPTER_TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def win(qtbot, app_paths):
    settings = gui_settings()
    # No model and no project vocabulary: the dock needs neither, and building the vocabulary
    # imports torch in the worker thread, which can outlast the window on a loaded machine.
    settings.suggestions.use_project_vocabulary = False
    return make_window(qtbot, app_paths, settings)


def tree_order(win) -> list[str]:
    return win.project_panel.tree.order()


def test_opening_a_folder_lists_its_chapters_in_order_with_word_counts(win, novel: Path) -> None:
    win.projects.open_project(novel)
    assert win.project_dock.isVisible()
    assert tree_order(win) == list(CHAPTER_TEXTS)
    tree = win.project_panel.tree
    assert [tree.topLevelItem(i).text(1) for i in range(4)] == ["6", "8", "10", "3"]
    assert win.project_panel.total.text() == "Total: 27 words in 4 chapters"
    assert win.session_status.text() == "Session: +0 words"
    assert str(novel.resolve()) in win.settings.editor.recent_projects
    tree.itemActivated.emit(tree.topLevelItem(2), 0)  # double-click or Enter on a chapter
    assert win.current_tab().path == (novel / "03 The Letter.md").resolve()
    assert win.current_tab().text() == CHAPTER_TEXTS["03 The Letter.md"]


def test_the_file_menu_offers_the_project_actions(win, novel: Path) -> None:
    texts = [action.text() for action in win.main_menu.file_menu.actions()]
    assert {"New &Project…", "Open Pro&ject…", "Recent projec&ts", "E&xport project…"} <= set(texts)
    assert texts.index("Open Pro&ject…") < texts.index("&Save")
    assert not win.project_menu.export_project.isEnabled()
    win.projects.open_project(novel)
    assert win.project_menu.export_project.isEnabled()
    win.project_menu.recent_menu.aboutToShow.emit()
    assert [a.text() for a in win.project_menu.recent_menu.actions()] == [str(novel.resolve())]


def test_typing_in_a_chapter_updates_its_count_and_the_session_target(win, novel: Path, qtbot) -> None:
    win.projects.open_project(novel)
    win.project_panel.target.setValue(10)
    tab = win.projects.open_chapter("02 Dinner.md")
    tab.editor.moveCursor(tab.editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(tab.editor, " Then everyone went home early")
    qtbot.waitUntil(lambda: win.project_panel.tree.topLevelItem(1).text(1) == "13", timeout=3000)
    assert win.session_status.text() == "Session: 5 / 10 words"
    assert win.project_panel.session_bar.value() == 500
    assert Project.open(novel).session_target == 10  # the target is kept with the project


def test_new_rename_and_reorder_persist_across_reopening(win, novel: Path, qtbot) -> None:
    projects, panel = win.projects, win.project_panel
    projects.open_project(novel)
    projects.ask_text = lambda parent, title, label, text: "Interlude"
    panel.select_chapter("01 Arrival.md")
    panel.new_button.click()
    assert tree_order(win)[1] == "Interlude.md" and (novel / "Interlude.md").exists()
    assert win.current_tab().path == (novel / "Interlude.md").resolve()  # opened to write in
    projects.ask_text = lambda parent, title, label, text: "05 Evening"
    panel.select_chapter("04 Morning.txt")
    panel.rename_button.click()
    assert (novel / "05 Evening.txt").read_text(encoding="utf-8") == "Morning came grey."
    panel.select_chapter("03 The Letter.md")
    panel.up_button.click()
    panel.up_button.click()
    assert panel.current_chapter() == "03 The Letter.md"
    panel.order_changed.emit(["05 Evening.txt", *[c for c in tree_order(win) if c != "05 Evening.txt"]])  # a drag
    expected = ["05 Evening.txt", "01 Arrival.md", "03 The Letter.md", "Interlude.md", "02 Dinner.md"]
    assert tree_order(win) == expected
    projects.close_project()
    assert tree_order(win) == []
    projects.open_project(novel)
    assert tree_order(win) == expected


def test_renaming_an_open_chapter_keeps_its_tab_and_unsaved_text(win, novel: Path, qtbot) -> None:
    win.projects.open_project(novel)
    tab = win.projects.open_chapter("02 Dinner.md")
    qtbot.keyClicks(tab.editor, "Unsaved. ")
    assert win.projects.rename_chapter("02 Dinner.md", "02 Supper") == "02 Supper.md"
    assert tab.path == (novel / "02 Supper.md").resolve() and tab.text().startswith("Unsaved. ")
    assert win.documents.save(tab)
    assert (novel / "02 Supper.md").read_text(encoding="utf-8").startswith("Unsaved. Dinner")


def test_delete_asks_first_and_moves_the_file_to_the_deleted_folder(win, novel: Path) -> None:
    projects = win.projects
    projects.open_project(novel)
    tab = projects.open_chapter("02 Dinner.md")
    win.prompts.confirm = lambda title, text: False
    assert not projects.delete_chapter("02 Dinner.md")
    assert (novel / "02 Dinner.md").exists() and "02 Dinner.md" in tree_order(win)
    win.prompts.confirm = lambda title, text: True
    assert projects.delete_chapter("02 Dinner.md")
    assert "02 Dinner.md" not in tree_order(win) and not (novel / "02 Dinner.md").exists()
    assert tab not in win.document_tabs()
    deleted = list((novel / PROJECT_DIR / "deleted").iterdir())
    assert [p.read_text(encoding="utf-8") for p in deleted] == [CHAPTER_TEXTS["02 Dinner.md"]]
    assert win.project_panel.total.text() == "Total: 19 words in 3 chapters"
    assert win.session_status.text() == "Session: +0 words"  # deleting is not unwriting


def test_find_in_all_chapters_opens_chapter_3_with_the_match_selected(win, novel: Path, qtbot) -> None:
    win.projects.open_project(novel)
    win.project_panel.find_edit.setText("lantern")
    qtbot.keyClick(win.project_panel.find_edit, Qt.Key.Key_Return)
    results = win.project_panel.results
    assert results.count() == 1 and results.item(0).text().startswith("03 The Letter.md:2")
    results.setCurrentRow(0)
    results.itemActivated.emit(results.item(0))
    tab = win.current_tab()
    assert tab.path == (novel / "03 The Letter.md").resolve()
    cursor = tab.editor.textCursor()
    assert cursor.selectedText() == "lantern"  # right place even after an emoji (two UTF-16 units)
    assert tab.editor.hasFocus() or not win.isActiveWindow()


def test_find_sees_unsaved_text_of_an_open_chapter(win, novel: Path, qtbot) -> None:
    win.projects.open_project(novel)
    tab = win.projects.open_chapter("04 Morning.txt")
    qtbot.keyClicks(tab.editor, "A lantern swung. ")
    matches = win.projects.find("LANTERN")
    assert [m.chapter for m in matches] == ["03 The Letter.md", "04 Morning.txt"]
    win.projects.open_match(1)
    assert win.current_tab() is tab and tab.editor.textCursor().selectedText() == "lantern"


def test_a_bad_project_file_is_reported_by_name_and_nothing_is_lost(win, novel: Path) -> None:
    bad = novel / PROJECT_DIR / "project.json"
    bad.parent.mkdir()
    bad.write_text("{ this is not json", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in novel.iterdir() if p.is_file()}
    win.projects.open_project(novel)
    errors = [text for kind, text in win.prompts.asked if kind == "error"]
    assert len(errors) == 1 and str(bad.resolve()) in errors[0]
    assert tree_order(win) == list(CHAPTER_TEXTS)
    assert {p.name: p.read_bytes() for p in novel.iterdir() if p.is_file()} == before
    kept = [p for p in bad.parent.iterdir() if p.name.startswith("project.json.broken-")]
    assert [p.read_text(encoding="utf-8") for p in kept] == ["{ this is not json"]


def test_opening_a_missing_folder_says_which(win, tmp_path: Path) -> None:
    assert win.projects.open_project(tmp_path / "nowhere") is None
    assert any(kind == "error" and "nowhere" in text for kind, text in win.prompts.asked)


def test_export_the_project_from_the_window_reads_back_in_order(win, novel: Path, qtbot, tmp_path: Path) -> None:
    win.projects.open_project(novel)
    tab = win.projects.open_chapter("01 Arrival.md")
    qtbot.keyClicks(tab.editor, "Unsaved opening. ")  # the export takes what the writer sees
    target = tmp_path / "out" / "novel.docx"
    with qtbot.waitSignal(win.projects.exported, timeout=20_000):
        win.projects.export(target)
    text = readers.extract_text(target.read_bytes(), "docx")
    headings = [text.find(h) for h in ("01 Arrival", "02 Dinner", "03 The Letter", "04 Morning")]
    assert -1 not in headings and headings == sorted(headings)
    assert "Unsaved opening. The coach reached Highbury at dusk." in text


def test_a_chapter_of_the_project_uses_the_projects_story_context(win, novel: Path, tmp_path: Path) -> None:
    win.projects.open_project(novel)
    win.projects.open_chapter("01 Arrival.md")
    win.story.set_memory("Highbury, 1815.")
    win.story.flush()
    saved = json.loads((novel / PROJECT_DIR / "project.json").read_text(encoding="utf-8"))
    assert saved["story"]["memory"] == "Highbury, 1815."
    win.projects.open_chapter("02 Dinner.md")  # another chapter: the same story
    assert win.story.current().memory == "Highbury, 1815."
    loose = tmp_path / "loose.txt"
    loose.write_text("Not in the project.", encoding="utf-8")
    win.open_path(loose)
    assert win.story.current().memory == ""  # a loose document keeps its own
    win.projects.close_project()
    assert Project.open(novel).load_story() == StoryContext(memory="Highbury, 1815.")


def test_a_story_edit_still_pending_when_the_project_closes_is_saved_in_it(win, novel: Path) -> None:
    win.projects.open_project(novel)
    win.projects.open_chapter("01 Arrival.md")
    win.story.set_memory("Written just before closing.")  # the save timer has not fired yet
    win.projects.close_project()
    assert Project.open(novel).load_story().memory == "Written just before closing."


def test_reopening_the_open_project_keeps_a_story_edit_still_pending(win, novel: Path) -> None:
    win.projects.open_project(novel)
    win.projects.open_chapter("01 Arrival.md")
    win.story.set_memory("Typed just before reopening.")  # the save timer has not fired yet
    win.projects.open_project(novel)  # e.g. File ▸ Recent projects, or reopen_last at start
    assert win.story.current().memory == "Typed just before reopening."
    assert win.generation_panel.memory.toPlainText() == "Typed just before reopening."
    win.story.flush()
    assert Project.open(novel).load_story().memory == "Typed just before reopening."


def test_the_project_open_at_exit_opens_again_at_the_next_start(win, novel: Path, qtbot, app_paths) -> None:
    win.projects.open_project(novel)
    settings = win.settings
    assert settings.editor.open_project == str(novel.resolve())
    again = make_window(qtbot, app_paths, settings)
    again.projects.reopen_last()
    assert again.project_panel.tree.order() == list(CHAPTER_TEXTS)
    again.projects.close_project()
    assert settings.editor.open_project == ""
