"""The questions the window asks the writer, in one replaceable object.

Tests (and scripted sessions) swap in an object with the same methods that answers without
dialogs; the window never calls QMessageBox for a decision directly.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from cw_desktop.core.documents import BrokenRecoveryFile, RecoveryEntry
from cw_desktop.core.settings import Settings
from cw_desktop.dialogs import questions


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

    def unencodable(self, title: str, detail: str, label: str) -> bool:
        """A character does not fit the file's encoding: True = save this file as UTF-8 from now on."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Encoding",
                          f"“{title}” is stored as {label}, which cannot hold some of its characters:\n\n"
                          f"{detail}.\n\nSave it as UTF-8 instead (every character fits; most programs read "
                          "it), or cancel and remove those characters?", parent=self.parent)
        utf8 = box.addButton("Save as UTF-8", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is utf8

    def disk_changed(self, title: str, change: str, saving: bool) -> str:
        """Another program changed ("changed") or removed ("deleted") the file.

        "reload" | "keep" (mine wins; when saving: overwrite) | "save_as" | "cancel".
        """
        what = "was deleted or moved" if change == "deleted" else "was changed by another program"
        when = "Saving now would replace that version." if saving else "Your version here is not saved over it yet."
        box = QMessageBox(QMessageBox.Icon.Warning, "File changed on disk",
                          f"“{title}” {what} since you opened or last saved it.\n\n{when}", parent=self.parent)
        buttons = {}
        if change != "deleted":
            buttons[box.addButton("Reload from disk", QMessageBox.ButtonRole.DestructiveRole)] = "reload"
        keep_text = ("Overwrite with mine" if change != "deleted" else "Save mine there") if saving else "Keep mine"
        buttons[box.addButton(keep_text, QMessageBox.ButtonRole.AcceptRole)] = "keep"
        buttons[box.addButton("Save mine as…", QMessageBox.ButtonRole.ActionRole)] = "save_as"
        buttons[box.addButton(QMessageBox.StandardButton.Cancel)] = "cancel"
        box.exec()
        return buttons.get(box.clickedButton(), "cancel")

    def confirm(self, title: str, text: str) -> bool:
        return questions.confirm(self.parent, title, text)

    def error(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.parent)
        box.open()  # not exec(): this may be called from inside an async slot


def settings_problems_message(settings: Settings) -> str:
    """What was wrong in the settings file, and where the writer's own version was kept."""
    shown = "\n".join(f"• {problem}" for problem in settings.problems[:8])
    more = f"\n… and {len(settings.problems) - 8} more" if len(settings.problems) > 8 else ""
    kept = (f"\n\nYour file was copied to {settings.kept_copy} before the app writes its settings again."
            if settings.kept_copy else "")
    return f"Some settings could not be used; their defaults apply for now:\n\n{shown}{more}{kept}"


def broken_recovery_message(broken: list[BrokenRecoveryFile]) -> str:
    shown = "\n".join(f"• {item.path}: {item.reason}" for item in broken[:5])
    return (f"{len(broken)} recovery cop{'y' if len(broken) == 1 else 'ies'} could not be read and "
            f"{'was' if len(broken) == 1 else 'were'} set aside (not deleted):\n\n{shown}\n\n"
            "Any other unsaved work is offered as usual.")
