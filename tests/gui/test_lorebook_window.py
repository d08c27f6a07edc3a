"""Lorebook and author's note in the real window: side panel, menu, dialog, gauge, per-document storage."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog, QDialogButtonBox

from cw_desktop.core.story_context import LoreEntry, StoryContext
from cw_desktop.dialogs.lorebook import KEYS, NAME, REGEX, LorebookDialog
from cw_desktop.gui.token_gauge import segment_colour
from gui_helpers import make_window


def type_at_end(qtbot, editor, text: str) -> None:
    cursor = editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    editor.setTextCursor(cursor)
    for number, line in enumerate(text.split("\n")):
        if number:
            qtbot.keyClick(editor, Qt.Key.Key_Return)
        qtbot.keyClicks(editor, line)


def gauge_parts(window) -> dict[str, int]:
    return dict(window.generation_panel.gauge.parts)


def pixels_of(widget, colour: str) -> int:
    image = widget.grab().toImage()
    wanted = QColor(colour).rgb()
    return sum(1 for x in range(image.width()) for y in range(image.height()) if image.pixel(x, y) == wanted)


def test_gauge_shows_the_lorebook_segment_and_names_dropped_entries(qtbot, window) -> None:
    gauge = window.generation_panel.gauge
    window.story.set_lorebook([LoreEntry("Mara", ["Mara"], "Mara is the harbour master, blunt and kind.",
                                         priority=5)])
    type_at_end(qtbot, window.current_editor(), "At dawn mara walked down to the quay.")
    qtbot.waitUntil(lambda: gauge_parts(window).get("lorebook", 0) > 0, timeout=10_000)
    assert "Lorebook: Mara" in window.generation_panel.gauge_label.text() and "Mara" in gauge.toolTip()
    gauge.resize(400, 14)
    lore_colour = segment_colour(gauge.palette_colours.gauge_memory, 35)
    assert pixels_of(gauge, lore_colour) > 0, "the lorebook segment is not drawn"

    # A long low-priority entry that fires too no longer fits: the gauge says which one was left out.
    window.story.set_lorebook(window.story.current().lorebook + [
        LoreEntry("Quay", ["quay"], "The quay is old stone, slick with weed and salt. " * 6, priority=0)])
    qtbot.waitUntil(lambda: "Left out for lack of room: Quay" in window.generation_panel.gauge_label.text(),
                    timeout=10_000)
    assert "Lorebook: Mara" in gauge.toolTip()


def test_authors_note_field_and_depth_reach_the_story_and_the_gauge(qtbot, window) -> None:
    fields = window.generation_panel.story_fields
    fields.note.setText("Style: terse, present tense")
    fields.depth.setValue(2)
    story = window.story.current()
    assert story.authors_note == "Style: terse, present tense" and story.authors_note_depth == 2
    assert story is window.current_tab().story  # a loose document keeps its own story
    type_at_end(qtbot, window.current_editor(), "One.\nTwo.\nThree")
    qtbot.waitUntil(lambda: gauge_parts(window).get("note", 0) > 0, timeout=10_000)
    assert "author's note" in window.generation_panel.gauge_label.text()
    # Another document shows its own (empty) note; coming back shows this one again.
    window.documents.new_document()
    assert fields.note.text() == "" and window.story.current().authors_note == ""
    window.tabs.setCurrentIndex(0)
    assert fields.note.text() == "Style: terse, present tense" and fields.depth.value() == 2


def test_lorebook_menu_opens_the_editor_and_keeps_the_edit(qtbot, window, monkeypatch) -> None:
    def accept_with_an_entry(dialog: LorebookDialog) -> int:
        dialog.add_entry()
        row = dialog.table.rowCount() - 1
        dialog.table.item(row, NAME).setText("Ship")
        dialog.table.item(row, KEYS).setText("Albatross, the ship")
        dialog.text.setPlainText("The Albatross: a leaky brig.")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(LorebookDialog, "exec", accept_with_an_entry)
    action = next(a for a in window.findChildren(type(window.main_menu.auto_action)) if a.text() == "&Lorebook…")
    action.trigger()
    (entry,) = window.story.current().lorebook
    assert (entry.name, entry.keys, entry.text) == ("Ship", ["Albatross", "the ship"], "The Albatross: a leaky brig.")
    assert window.generation_panel.story_fields.lorebook.text() == "Lorebook (1)…"


def test_dialog_validates_entries_and_blocks_a_bad_regex(qtbot) -> None:
    dialog = LorebookDialog([LoreEntry("Ann", ["Ann"], "Ann is shy.")], 2000)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled() and dialog.messages.text() == "Every entry can fire."
    dialog.add_entry()  # a new entry has no keys or text yet: said, but not blocking
    assert ok.isEnabled() and "no keys" in dialog.messages.text()
    dialog.table.item(1, KEYS).setText("(oops")
    dialog.table.item(1, REGEX).setCheckState(Qt.CheckState.Checked)
    assert not ok.isEnabled() and "not a valid regular expression" in dialog.messages.text()
    dialog.table.item(1, KEYS).setText("oops+")
    dialog.text.setPlainText("Oops happens.")
    assert ok.isEnabled()
    assert [e.regex for e in dialog.entries()] == [False, True] and dialog.entries()[1].text == "Oops happens."
    dialog.table.selectRow(0)
    dialog.remove_selected()
    assert [e.name for e in dialog.entries()] == ["Entry 2"]


def test_story_is_stored_per_document_and_comes_back(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    manuscripts = tmp_path / "manuscripts"
    manuscripts.mkdir()
    chapter = manuscripts / "one.txt"
    chapter.write_text("Mara waited.")
    window.open_path(chapter)
    window.story.set_lorebook([LoreEntry("Mara", ["Mara"], "Mara: fifty, blunt.")])
    window.generation_panel.story_fields.note.setText("[Tone: wry]")
    window.documents.store_memory()
    assert sorted(p.name for p in manuscripts.iterdir()) == ["one.txt"]  # nothing beside the manuscript
    other = make_window(qtbot, app_paths)
    other.open_path(chapter)
    story = other.story.current()
    assert [e.name for e in story.lorebook] == ["Mara"] and story.authors_note == "[Tone: wry]"
    assert other.generation_panel.story_fields.note.text() == "[Tone: wry]"


def test_project_storage_takes_over_and_gives_back(qtbot, window) -> None:
    saved: list[StoryContext] = []
    project = StoryContext(memory="Project memory.", lorebook=[LoreEntry("Vell", ["Vell"], "A harbour town.")])
    loose = window.story.current()
    window.story.use_storage(lambda: project, saved.append)
    assert window.generation_panel.memory.toPlainText() == "Project memory."
    window.generation_panel.memory.setPlainText("Project memory, edited.")
    assert loose.memory == "" and project.memory == "Project memory, edited."
    qtbot.waitUntil(lambda: bool(saved), timeout=5_000)  # written once the typing pauses
    window.story.use_storage(None)
    assert window.story.current() is loose and window.generation_panel.memory.toPlainText() == ""


def test_a_crashed_session_gives_back_the_lorebook_and_note(qtbot, qasync_loop, app_paths) -> None:
    from cw_desktop.core.documents import RecoveryEntry, RecoveryStore

    story = StoryContext(authors_note="[Tone: wry]", lorebook=[LoreEntry("Mara", ["Mara"], "Mara: fifty, blunt.")])
    RecoveryStore(app_paths.recovery_dir).write(RecoveryEntry(
        doc_id=RecoveryEntry.new_id(), title="Untitled", text="Mara waited.", story=story.to_dict()))
    window = make_window(qtbot, app_paths)
    (tab,) = window.documents.restore_from_crash(is_alive=lambda pid: False)
    assert tab.text() == "Mara waited." and tab.story == story
    assert window.story.current() is tab.story
    assert window.generation_panel.story_fields.note.text() == "[Tone: wry]"
