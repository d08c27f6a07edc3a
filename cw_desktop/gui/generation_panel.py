"""Generation settings: preset, length, temperature, top-p, the per-document Memory box and the
token-window gauge.

The typed path: settings file (core.settings.SuggestionSettings) -> this panel -> options()
returns a GenerationSettings (core.generation_settings) -> the generation worker -> the engine.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QPlainTextEdit, QSpinBox,
                               QVBoxLayout, QWidget)

from cw_desktop.core.generation_settings import PRESETS, GenerationSettings, preset
from cw_desktop.core.settings import SuggestionSettings
from cw_desktop.gui.token_gauge import TokenGauge

PRESET_LABELS = {"prose": "Prose", "poetry": "Poetry", "dialogue": "Dialogue"}


class GenerationPanel(QWidget):
    options_changed = Signal()
    memory_changed = Signal(str)

    def __init__(self, suggestions: SuggestionSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset = QComboBox()
        for key, label in PRESET_LABELS.items():
            self.preset.addItem(label, key)
        self.length = QSpinBox(minimum=4, maximum=200, suffix=" tokens")
        self.length.setToolTip("Longest suggestion, in tokens (a token is about ¾ of a word)")
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=2.0, singleStep=0.05, decimals=2)
        self.temperature.setToolTip("Higher is more surprising, lower is safer; 0 always picks the likeliest word")
        self.top_p = QDoubleSpinBox(minimum=0.05, maximum=1.0, singleStep=0.05, decimals=2)
        self.top_p.setToolTip("Only consider the likeliest words that together make up this share")
        self.alternatives = QSpinBox(minimum=1, maximum=5)
        self.alternatives.setToolTip("How many different continuations to offer (Alt+] / Alt+[ cycle)")
        self.memory = QPlainTextEdit()
        self.memory.setPlaceholderText("Memory: style notes, characters, setting… "
                                       "Put in front of the draft for every suggestion; saved with this document.")
        self.memory.setMaximumHeight(110)
        self.gauge = TokenGauge()
        self.gauge_label = QLabel("Load a model to see how its window is used")
        self.gauge_label.setProperty("muted", True)
        self.gauge_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("Length", self.length)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Alternatives", self.alternatives)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(form)
        layout.addWidget(QLabel("Memory"))
        layout.addWidget(self.memory)
        layout.addWidget(QLabel("Model window"))
        layout.addWidget(self.gauge)
        layout.addWidget(self.gauge_label)
        layout.addStretch(1)

        self.load(suggestions)
        self.preset.currentIndexChanged.connect(self._on_preset)
        for box in (self.length, self.temperature, self.top_p, self.alternatives):
            box.valueChanged.connect(lambda _value: self.options_changed.emit())
        self.memory.textChanged.connect(lambda: self.memory_changed.emit(self.memory.toPlainText()))

    def load(self, suggestions: SuggestionSettings) -> None:
        index = self.preset.findData(suggestions.preset)
        self.preset.setCurrentIndex(max(0, index))
        self.length.setValue(suggestions.max_new_tokens)
        self.temperature.setValue(suggestions.temperature)
        self.top_p.setValue(suggestions.top_p)
        self.alternatives.setValue(suggestions.alternatives)

    def store(self, suggestions: SuggestionSettings) -> None:
        suggestions.preset = str(self.preset.currentData())
        suggestions.max_new_tokens = self.length.value()
        suggestions.temperature = round(self.temperature.value(), 2)
        suggestions.top_p = round(self.top_p.value(), 2)
        suggestions.alternatives = self.alternatives.value()

    def options(self) -> GenerationSettings:
        """The chosen preset with the writer's length, temperature, top-p and alternatives."""
        return preset(str(self.preset.currentData()), max_new_tokens=self.length.value(),
                      temperature=self.temperature.value(), top_p=self.top_p.value(),
                      alternatives=self.alternatives.value())

    def set_memory(self, text: str) -> None:
        """Show another document's Memory without reporting it as an edit."""
        self.memory.blockSignals(True)
        self.memory.setPlainText(text)
        self.memory.blockSignals(False)

    def _on_preset(self) -> None:
        """A preset choice resets length, temperature and top-p to that preset's own values."""
        defaults = PRESETS.get(str(self.preset.currentData()))
        if defaults is not None:
            for box, value in ((self.length, defaults.max_new_tokens), (self.temperature, defaults.temperature),
                               (self.top_p, defaults.top_p)):
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        self.options_changed.emit()

    def show_budget(self, budget: Any) -> None:
        self.gauge.set_budget(budget)
        self.gauge_label.setText(self.gauge.describe())
