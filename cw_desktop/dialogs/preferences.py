"""Preferences: fonts, theme, autosave, suggestions, key bindings, logging."""

from __future__ import annotations

import copy

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFontComboBox, QFormLayout,
                               QGroupBox, QKeySequenceEdit, QLabel, QSpinBox, QVBoxLayout, QWidget)

from cw_desktop.core.settings import Settings

GENERIC_FONTS = {"serif": "Serif (system default)", "sans": "Sans-serif (system default)"}
KEY_LABELS = {
    "accept": "Accept the whole suggestion",
    "accept_word": "Accept the next word",
    "dismiss": "Dismiss",
    "next_alternative": "Next alternative",
    "previous_alternative": "Previous alternative",
    "suggest_now": "Suggest now",
    "retry": "Retry: another suggestion here",
    "swap": "Swap the accepted suggestion",
}


class PreferencesDialog(QDialog):
    """Edits a copy of the settings; `result_settings()` returns it after Ok."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = copy.deepcopy(settings)

        self.font_kind = QComboBox()
        for key, label in GENERIC_FONTS.items():
            self.font_kind.addItem(label, key)
        self.font_kind.addItem("A specific font…", "custom")
        self.font_family = QFontComboBox()
        self.font_size = QSpinBox(minimum=8, maximum=48, suffix=" pt")
        self.theme = QComboBox()
        self.theme.addItem("Light", "light")
        self.theme.addItem("Dark", "dark")
        self.autosave = QSpinBox(minimum=5, maximum=30, suffix=" s")
        self.autosave.setToolTip("Unsaved changes are copied to the recovery folder this often (and when "
                                 "the window loses focus)")
        self.auto_suggest = QCheckBox("Suggest automatically when I pause")
        self.debounce = QSpinBox(minimum=100, maximum=5000, singleStep=100, suffix=" ms")
        self.log_suggestions = QCheckBox("Keep a history of suggestions and what I did with them")
        self.log_suggestions.setToolTip("Stored only on this computer; used for acceptance rates and, if you "
                                        "choose, as extra fine-tuning material")
        self.use_project_vocabulary = QCheckBox("Learn names and phrases from the other files in my document's folder")
        self.use_project_vocabulary.setToolTip("Read only, on this computer; the files are never changed")
        self.key_edits = {name: QKeySequenceEdit() for name in KEY_LABELS}
        for edit in self.key_edits.values():
            edit.setMaximumSequenceLength(1)

        editor_box = QGroupBox("Editor")
        editor_form = QFormLayout(editor_box)
        editor_form.addRow("Font", self.font_kind)
        editor_form.addRow("", self.font_family)
        editor_form.addRow("Size", self.font_size)
        editor_form.addRow("Theme", self.theme)
        editor_form.addRow("Autosave every", self.autosave)
        suggest_box = QGroupBox("Suggestions")
        suggest_form = QFormLayout(suggest_box)
        suggest_form.addRow(self.auto_suggest)
        suggest_form.addRow("Pause before suggesting", self.debounce)
        suggest_form.addRow(self.log_suggestions)
        suggest_form.addRow(self.use_project_vocabulary)
        keys_box = QGroupBox("Keys")
        keys_form = QFormLayout(keys_box)
        for name, label in KEY_LABELS.items():
            keys_form.addRow(label, self.key_edits[name])
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c0392b")
        self.problem.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel |
                                   QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self.load(Settings()))
        layout = QVBoxLayout(self)
        for widget in (editor_box, suggest_box, keys_box, self.problem, buttons):
            layout.addWidget(widget)
        self.font_kind.currentIndexChanged.connect(
            lambda: self.font_family.setEnabled(self.font_kind.currentData() == "custom"))
        self.auto_suggest.toggled.connect(self.debounce.setEnabled)
        self.load(self.settings)

    def load(self, settings: Settings) -> None:
        editor, suggestions = settings.editor, settings.suggestions
        kind = editor.font_family if editor.font_family in GENERIC_FONTS else "custom"
        self.font_kind.setCurrentIndex(self.font_kind.findData(kind))
        if kind == "custom":
            self.font_family.setCurrentText(editor.font_family)
        self.font_family.setEnabled(kind == "custom")
        self.font_size.setValue(editor.font_size)
        self.theme.setCurrentIndex(max(0, self.theme.findData(editor.theme)))
        self.autosave.setValue(max(5, min(30, editor.autosave_seconds)))
        self.auto_suggest.setChecked(suggestions.auto_suggest)
        self.debounce.setValue(suggestions.debounce_ms)
        self.debounce.setEnabled(suggestions.auto_suggest)
        self.log_suggestions.setChecked(suggestions.log_suggestions)
        self.use_project_vocabulary.setChecked(suggestions.use_project_vocabulary)
        for name, edit in self.key_edits.items():
            edit.setKeySequence(QKeySequence(getattr(settings.keys, name)))

    def key_bindings(self) -> dict[str, str]:
        return {name: edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
                for name, edit in self.key_edits.items()}

    def accept(self) -> None:
        bindings = self.key_bindings()
        used = [b for b in bindings.values() if b]
        duplicates = sorted({b for b in used if used.count(b) > 1})
        if duplicates:
            self.problem.setText(f"Each key can do only one thing: {', '.join(duplicates)} is used twice.")
            self.problem.show()
            return
        editor, suggestions = self.settings.editor, self.settings.suggestions
        kind = self.font_kind.currentData()
        editor.font_family = self.font_family.currentFont().family() if kind == "custom" else str(kind)
        editor.font_size = self.font_size.value()
        editor.theme = str(self.theme.currentData())
        editor.autosave_seconds = self.autosave.value()
        suggestions.auto_suggest = self.auto_suggest.isChecked()
        suggestions.debounce_ms = self.debounce.value()
        suggestions.log_suggestions = self.log_suggestions.isChecked()
        suggestions.use_project_vocabulary = self.use_project_vocabulary.isChecked()
        for name, binding in bindings.items():
            setattr(self.settings.keys, name, binding)
        super().accept()

    def result_settings(self) -> Settings:
        return self.settings
