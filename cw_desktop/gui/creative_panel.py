"""Creative output: the model writes a poem, a dialogue or a short story into a new document."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

FORMS = {"poem": "Poem", "dialogue": "Dialogue", "story": "Short story"}
DEFAULT_LENGTH = {"poem": 160, "dialogue": 320, "story": 480}


class CreativePanel(QWidget):
    write_requested = Signal(str, str, int)  # form, title or first line, max tokens
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QComboBox()
        for key, label in FORMS.items():
            self.form.addItem(label, key)
        self.title = QLineEdit(placeholderText="A title, or the first line")
        self.length = QSpinBox(minimum=32, maximum=2000, singleStep=32, suffix=" tokens")
        self.length.setValue(DEFAULT_LENGTH["poem"])
        self.write_button = QPushButton("Write draft")
        self.write_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.status = QLabel("The draft opens in a new tab and streams in as the model writes.")
        self.status.setWordWrap(True)
        self.status.setProperty("muted", True)

        form = QFormLayout()
        form.addRow("Form", self.form)
        form.addRow("Start", self.title)
        form.addRow("Length", self.length)
        buttons = QHBoxLayout()
        buttons.addWidget(self.write_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.form.currentIndexChanged.connect(
            lambda: self.length.setValue(DEFAULT_LENGTH[str(self.form.currentData())]))
        self.write_button.clicked.connect(self._write)
        self.title.returnPressed.connect(self._write)
        self.stop_button.clicked.connect(self.stop_requested.emit)

    def _write(self) -> None:
        if not self.write_button.isEnabled():
            return
        title = self.title.text().strip()
        if not title:
            self.status.setText("Give a title or a first line first.")
            self.title.setFocus()
            return
        self.write_requested.emit(str(self.form.currentData()), title, self.length.value())

    def set_running(self, running: bool, message: str = "") -> None:
        self.write_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if message:
            self.status.setText(message)
