"""Generation settings: preset, length, temperature, top-p, anti-repetition (DRY), banned phrases,
the per-document Memory box and the token-window gauge.

The typed path: settings file (core.settings.SuggestionSettings) -> this panel -> options()
returns a GenerationSettings (core.generation_settings) -> the generation worker -> the engine.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QPlainTextEdit, QSpinBox,
                               QVBoxLayout, QWidget)

from cw_desktop.core.generation_settings import PRESETS, GenerationSettings, clean_banned_phrases, preset
from cw_desktop.core.settings import SuggestionSettings
from cw_desktop.gui.story_fields import StoryFields
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
        self.dry = QDoubleSpinBox(minimum=0.0, maximum=5.0, singleStep=0.1, decimals=2, specialValueText="Off")
        self.dry.setToolTip("Anti-repetition (DRY): pushes away words that would repeat a passage already in "
                            "the draft. 0 = off; 0.8 is mild")
        self.dry_allowed = QSpinBox(minimum=1, maximum=20, suffix=" tokens")
        self.dry_allowed.setToolTip("Repeats up to this long are left alone (names, stock phrases)")
        self.banned = QPlainTextEdit()
        self.banned.setPlaceholderText("Banned phrases, one per line: never suggested or written, in any case "
                                       "(e.g. suddenly, a shiver ran down her spine)")
        self.banned.setMaximumHeight(80)
        self.memory = QPlainTextEdit()
        self.memory.setPlaceholderText("Memory: style notes, characters, setting… "
                                       "Put in front of the draft for every suggestion; saved with this document.")
        self.memory.setMaximumHeight(110)
        self.story_fields = StoryFields()  # author's note, its depth, the lorebook button
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
        form.addRow("Repetition (DRY)", self.dry)
        form.addRow("Repeats allowed", self.dry_allowed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(form)
        layout.addWidget(QLabel("Memory"))
        layout.addWidget(self.memory)
        layout.addWidget(QLabel("Banned phrases"))
        layout.addWidget(self.banned)
        layout.addWidget(self.story_fields)
        layout.addWidget(QLabel("Model window"))
        layout.addWidget(self.gauge)
        layout.addWidget(self.gauge_label)
        layout.addStretch(1)

        self.load(suggestions)
        self.preset.currentIndexChanged.connect(self._on_preset)
        for box in (self.length, self.temperature, self.top_p, self.alternatives, self.dry, self.dry_allowed):
            box.valueChanged.connect(lambda _value: self.options_changed.emit())
        # Typing a phrase saves the settings once it pauses, not on every keystroke; requests read
        # the box itself (options()), so a suggestion asked for meanwhile already honours it.
        self._banned_pause = QTimer(self, singleShot=True, interval=500)
        self._banned_pause.timeout.connect(self.options_changed.emit)
        self.banned.textChanged.connect(self._banned_pause.start)
        self.memory.textChanged.connect(lambda: self.memory_changed.emit(self.memory.toPlainText()))

    def load(self, suggestions: SuggestionSettings) -> None:
        index = self.preset.findData(suggestions.preset)
        self.preset.setCurrentIndex(max(0, index))
        self.length.setValue(suggestions.max_new_tokens)
        self.temperature.setValue(suggestions.temperature)
        self.top_p.setValue(suggestions.top_p)
        self.alternatives.setValue(suggestions.alternatives)
        self.dry.setValue(suggestions.dry_multiplier)
        self.dry_allowed.setValue(suggestions.dry_allowed_length)
        self.banned.setPlainText("\n".join(suggestions.banned_phrases))

    def store(self, suggestions: SuggestionSettings) -> None:
        suggestions.preset = str(self.preset.currentData())
        suggestions.max_new_tokens = self.length.value()
        suggestions.temperature = round(self.temperature.value(), 2)
        suggestions.top_p = round(self.top_p.value(), 2)
        suggestions.alternatives = self.alternatives.value()
        suggestions.dry_multiplier = round(self.dry.value(), 2)
        suggestions.dry_allowed_length = self.dry_allowed.value()
        suggestions.banned_phrases = self.banned_phrases()

    def options(self) -> GenerationSettings:
        """The chosen preset with the writer's length, temperature, top-p, alternatives,
        anti-repetition and banned phrases."""
        return preset(str(self.preset.currentData()), max_new_tokens=self.length.value(),
                      temperature=self.temperature.value(), top_p=self.top_p.value(),
                      alternatives=self.alternatives.value(), dry_multiplier=self.dry.value(),
                      dry_allowed_length=self.dry_allowed.value(), banned_phrases=self.banned_phrases())

    def banned_phrases(self) -> list[str]:
        return clean_banned_phrases(self.banned.toPlainText())

    def set_memory(self, text: str) -> None:
        """Show another document's Memory without reporting it as an edit."""
        self.memory.blockSignals(True)
        self.memory.setPlainText(text)
        self.memory.blockSignals(False)

    def _on_preset(self) -> None:
        """A preset choice resets length, temperature, top-p and DRY to that preset's own values
        (the banned phrases are the writer's, whatever the preset)."""
        defaults = PRESETS.get(str(self.preset.currentData()))
        if defaults is not None:
            for box, value in ((self.length, defaults.max_new_tokens), (self.temperature, defaults.temperature),
                               (self.top_p, defaults.top_p), (self.dry, defaults.dry_multiplier),
                               (self.dry_allowed, defaults.dry_allowed_length)):
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        self.options_changed.emit()

    def show_budget(self, budget: Any) -> None:
        self.gauge.set_budget(budget)
        self.gauge_label.setText(self.gauge.describe())
