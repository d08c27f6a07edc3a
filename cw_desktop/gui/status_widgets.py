"""Status-bar widgets: the model's state (loading / ready / error) and the live word count."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class ModelStatus(QWidget):
    choose_model = Signal()  # "pick another model" after an error
    details_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = "idle"
        self.message = ""
        self.label = QLabel("No model loaded")
        self.progress = QProgressBar(maximum=1000, textVisible=False)
        self.progress.setFixedWidth(140)
        self.progress.setFixedHeight(10)
        self.progress.hide()
        self.choose_button = QPushButton("Choose model…")
        self.choose_button.setFlat(True)
        self.choose_button.hide()
        self.choose_button.clicked.connect(self.choose_model.emit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        layout.addWidget(self.choose_button)

    def show_loading(self, what: str, fraction: float | None = None, stage: str = "") -> None:
        self.state = "loading"
        self.message = f"Loading {what}… {stage}".rstrip()
        self.label.setText(self.message)
        self.label.setToolTip("")
        self.progress.show()
        if fraction is None:
            self.progress.setRange(0, 0)  # busy indicator until the first real progress value
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        self.choose_button.hide()

    def show_ready(self, description: str, details: str = "") -> None:
        self.state = "ready"
        self.message = description
        self.label.setText(f"● {description}")
        self.label.setToolTip(details or description)
        self.progress.hide()
        self.choose_button.hide()

    def show_error(self, message: str) -> None:
        self.state = "error"
        self.message = message
        first_line = message.split(". ")[0]
        self.label.setText(f"⚠ {first_line[:110]}{'…' if len(first_line) > 110 else ''}")
        self.label.setToolTip(message)
        self.progress.hide()
        self.choose_button.show()
