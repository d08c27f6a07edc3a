"""Offered at start-up when the last session ended without closing its documents (crash, kill)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from cw_desktop.core.documents import RecoveryEntry, count_words


class RecoveryDialog(QDialog):
    """Lists the recovered documents; `chosen()` is what to restore after Restore.

    Discard removes the copies for good; closing the dialog keeps them for the next launch.
    """

    DISCARD = 2

    def __init__(self, entries: list[RecoveryEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover unsaved work")
        self.entries = entries
        intro = QLabel("The last session ended before these documents were saved. "
                       "Restore them to keep your latest words:")
        intro.setWordWrap(True)
        self.list = QListWidget()
        for entry in entries:
            when = _when(entry.saved_at)
            where = entry.path or "never saved"
            item = QListWidgetItem(f"{entry.title} — {count_words(entry.text)} words, copied {when}\n{where}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.list.addItem(item)
        buttons = QDialogButtonBox()
        restore = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.AcceptRole)
        discard = QPushButton("Discard")
        buttons.addButton(discard, QDialogButtonBox.ButtonRole.DestructiveRole)
        later = buttons.addButton("Decide later", QDialogButtonBox.ButtonRole.RejectRole)
        restore.setDefault(True)
        restore.clicked.connect(self.accept)
        discard.clicked.connect(lambda: self.done(self.DISCARD))
        later.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(520, 320)

    def chosen(self) -> list[RecoveryEntry]:
        return [entry for row, entry in enumerate(self.entries)
                if self.list.item(row).checkState() == Qt.CheckState.Checked]


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%d %b %H:%M")
    except ValueError:
        return iso
