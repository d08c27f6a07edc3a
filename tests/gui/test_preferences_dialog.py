"""Preferences: edits reach the window and survive a restart (settings.toml round trip)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from cw_desktop.core.settings import Settings
from cw_desktop.dialogs.preferences import PreferencesDialog
from gui_helpers import make_window


def test_preferences_round_trip_through_the_settings_file(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths)
    dialog = PreferencesDialog(window.settings, window)
    qtbot.addWidget(dialog)
    dialog.font_size.setValue(19)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.autosave.setValue(12)
    dialog.auto_suggest.setChecked(False)
    dialog.debounce.setValue(900)
    dialog.log_suggestions.setChecked(False)
    dialog.use_project_vocabulary.setChecked(False)
    dialog.key_edits["accept"].setKeySequence(QKeySequence("Ctrl+Return"))
    dialog.accept()
    assert dialog.result() == PreferencesDialog.DialogCode.Accepted
    window.preferences.adopt(dialog.result_settings())

    assert window.current_editor().font().pointSize() == 19
    assert window.main_menu.dark_action.isChecked() and window.documents.autosave_timer.interval() == 12_000
    assert window.current_editor().keys.accept == "Ctrl+Return"
    reloaded = Settings.load(app_paths.settings_file)
    assert reloaded.problems == []
    assert (reloaded.editor.font_size, reloaded.editor.theme, reloaded.editor.autosave_seconds) == (19, "dark", 12)
    assert (reloaded.suggestions.auto_suggest, reloaded.suggestions.debounce_ms,
            reloaded.suggestions.log_suggestions, reloaded.suggestions.use_project_vocabulary) == (False, 900, False, False)
    assert reloaded.keys.accept == "Ctrl+Return" and reloaded.keys.dismiss == "Esc"

    # The new key works in the editor, and Tab is an ordinary key again.
    editor = window.current_editor()
    editor.begin_ghost(1)
    editor.set_alternative(1, 0, " waves")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == " waves"


def test_a_key_used_twice_is_refused(qtbot, qasync_loop, app_paths) -> None:
    dialog = PreferencesDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.key_edits["dismiss"].setKeySequence(QKeySequence("Tab"))
    dialog.accept()
    assert dialog.result() != PreferencesDialog.DialogCode.Accepted
    assert "Tab is used twice" in dialog.problem.text()
