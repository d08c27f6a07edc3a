"""The adapter strength slider in the generation panel: how strongly the project's LoRA adapter
pulls suggestions toward what it learned (0 = the base model, 1 = as trained, up to 1.5)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from cw_desktop.core.adapters import MAX_STRENGTH

STEPS_PER_UNIT = 100
SETTLE_MS = 200  # dragging the slider sends one change when it rests, not one per pixel


class AdapterStrength(QWidget):
    strength_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round(MAX_STRENGTH * STEPS_PER_UNIT))
        self.slider.setPageStep(10)
        self.slider.setToolTip("0 = the base model alone, 1 = the adapter as trained, 1.5 = stronger")
        self.value = QLabel()
        self.value.setMinimumWidth(40)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.value)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.addWidget(self.title)
        layout.addLayout(row)
        self.settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self.settle.timeout.connect(lambda: self.strength_changed.emit(self.strength()))
        self.slider.valueChanged.connect(self._moved)
        self.show_adapter(None)

    def strength(self) -> float:
        return self.slider.value() / STEPS_PER_UNIT

    def show_adapter(self, name: str | None, strength: float = 1.0) -> None:
        """The project's adapter (None: hidden, the model answers alone). Does not emit strength_changed."""
        self.setVisible(name is not None)
        self.title.setText(f"Adapter for this project: <b>{name}</b>" if name else "")
        self.slider.blockSignals(True)
        self.slider.setValue(round(strength * STEPS_PER_UNIT))
        self.slider.blockSignals(False)
        self.value.setText(f"{strength:.2f}×")

    def _moved(self, value: int) -> None:
        self.value.setText(f"{value / STEPS_PER_UNIT:.2f}×")
        self.settle.start()
