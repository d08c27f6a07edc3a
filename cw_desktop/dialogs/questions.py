"""The questions dialogs ask the writer, as module functions so tests can answer them.

Callers look them up at call time (`questions.confirm(...)`), so one monkeypatch of this module
answers for every dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


def confirm(parent: QWidget | None, title: str, text: str, yes: str = "Yes", no: str = "No", *,
            destructive: bool = False) -> bool:
    """True when the writer clicked `yes`; `destructive` questions (deleting something) get a warning icon."""
    icon = QMessageBox.Icon.Warning if destructive else QMessageBox.Icon.Question
    box = QMessageBox(icon, title, text, parent=parent)
    role = QMessageBox.ButtonRole.DestructiveRole if destructive else QMessageBox.ButtonRole.AcceptRole
    yes_button = box.addButton(yes, role)
    box.addButton(no, QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is yes_button


def choose_folder(parent: QWidget, start: str, title: str = "Choose the folder of your writing") -> str:
    """The chosen folder, or "" when the writer cancelled."""
    return QFileDialog.getExistingDirectory(parent, title, start)


def attempt(parent: QWidget, failure_title: str, action: Callable[[], Any],
            expected: tuple[type[Exception], ...] = (OSError,)) -> bool:
    """Do `action`; an `expected` failure is shown to the writer in a warning box. True when it worked."""
    try:
        action()
    except expected as exc:
        QMessageBox.warning(parent, failure_title, str(exc))
        return False
    return True
