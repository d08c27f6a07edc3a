"""The questions the window asks the writer, in one replaceable object.

Tests (and scripted sessions) swap in an object with the same methods that answers without
dialogs; the window never calls QMessageBox for a decision directly.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from cw_desktop.core.documents import RecoveryEntry


class Prompts:
    """The questions the window asks the writer; tests replace them with scripted answers."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def unsaved_changes(self, title: str) -> str:
        """"save" | "discard" | "cancel"."""
        answer = QMessageBox.question(
            self.parent, "Unsaved changes", f"Save the changes to “{title}” before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")

    def recover(self, entries: list[RecoveryEntry]) -> list[RecoveryEntry] | None:
        """Entries to restore; [] = discard them all; None = keep them for next time."""
        from cw_desktop.dialogs.recovery import RecoveryDialog

        dialog = RecoveryDialog(entries, self.parent)
        result = dialog.exec()
        if result == QDialog.DialogCode.Accepted:
            return dialog.chosen()
        return [] if result == RecoveryDialog.DISCARD else None

    def confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self.parent, title, text) == QMessageBox.StandardButton.Yes

    def error(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.parent)
        box.open()  # not exec(): this may be called from inside an async slot
