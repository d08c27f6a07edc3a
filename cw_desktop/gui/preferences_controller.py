"""Changing settings: the Preferences dialog and the View / Suggest toggles, saved to settings.toml.

Every change is made on the one shared Settings object, then announced: `applied` when the parts
of the window should show the settings again (theme, fonts, keys, timers), `suggestions_changed`
when only the suggestion settings changed. The settings file is written at once; a failure is a
status-bar notice, never a lost edit.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFontDialog, QWidget

from cw_desktop.core.settings import Settings


class PreferencesController(QObject):
    applied = Signal()  # the settings changed: show them everywhere
    suggestions_changed = Signal()  # only the suggestion settings changed
    notice = Signal(str, int)  # a status-bar message, how long to show it (ms)

    def __init__(self, settings: Settings, settings_file: Path, dialog_parent: QWidget) -> None:
        super().__init__(dialog_parent)
        self.settings = settings
        self.settings_file = settings_file
        self.dialog_parent = dialog_parent

    def save(self) -> None:
        try:
            self.settings.save(self.settings_file)
        except OSError as exc:
            self.notice.emit(f"Settings not saved to {self.settings_file}: {exc}", 8000)

    def show_dialog(self) -> None:
        from cw_desktop.dialogs.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.settings, self.dialog_parent)
        if dialog.exec():
            self.adopt(dialog.result_settings())

    def adopt(self, edited: Settings) -> None:
        """Take over edited settings (from Preferences) everywhere and save them."""
        for section in ("editor", "suggestions", "keys", "model"):
            setattr(self.settings, section, getattr(edited, section))
        self._apply_and_save()

    def _apply_and_save(self) -> None:
        self.applied.emit()
        self.save()

    def set_dark_theme(self, dark: bool) -> None:
        self.settings.editor.theme = "dark" if dark else "light"
        self._apply_and_save()

    def set_soft_wrap(self, wrap: bool) -> None:
        self.settings.editor.soft_wrap = wrap
        self._apply_and_save()

    def choose_font(self, current: QFont) -> None:
        ok, font = QFontDialog.getFont(current, self.dialog_parent)
        if ok:
            self.settings.editor.font_family = font.family()
            self.settings.editor.font_size = font.pointSize()
            self._apply_and_save()

    def change_font_size(self, step: int) -> None:
        self.settings.editor.font_size = max(8, min(48, self.settings.editor.font_size + step))
        self._apply_and_save()

    def set_auto_suggest(self, automatic: bool) -> None:
        self.settings.suggestions.auto_suggest = automatic
        self.suggestions_changed.emit()
        self.save()
        self.notice.emit("Suggestions: " + ("automatic after a pause" if automatic
                                            else f"only on {self.settings.keys.suggest_now}"), 4000)
