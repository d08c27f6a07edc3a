"""Step 2 of the fine-tune dialog: base model, name, mode, accepted suggestions, learning from accept/reject,
continuing a fine-tune on what changed, Advanced settings."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout,
                               QGroupBox, QLabel, QLineEdit, QPushButton, QRadioButton, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from cw_desktop.core.training_manifest import ContinuationOffer
from cw_desktop.dialogs.finetune.common import muted
from cw_desktop.workers.scan_worker import DEFAULT_EVAL_SHARE

MODE_CHOICES = (
    ("full", "All weights", "Trains the whole model: the most typing saved per minute of training "
                            "(the default); needs the most memory (about 3 GB for the bundled model)."),
    ("lora", "LoRA adapters", "Trains small add-on matrices: little memory, and can be saved as a small "
                              "adapter beside the base model."),
    ("top", "Top layers", "Trains only the last few layers: the most text per minute, a lighter touch on the style."),
)


DEFAULT_TONIGHT_MINUTES = 30


class ModelPage(QWidget):
    changed = Signal()  # anything that changes the plan or the estimate

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.base_combo = QComboBox()
        form.addRow("Start from:", self.base_combo)
        self.name_edit = QLineEdit()
        form.addRow("Name of the new model:", self.name_edit)
        layout.addLayout(form)

        mode_box = QGroupBox("What to train")
        mode_layout = QVBoxLayout(mode_box)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for key, title, explanation in MODE_CHOICES:
            button = QRadioButton(title)
            self.mode_buttons[key] = button
            self.mode_group.addButton(button)
            mode_layout.addWidget(button)
            note = muted(explanation)
            note.setContentsMargins(24, 0, 0, 4)
            mode_layout.addWidget(note)
            button.toggled.connect(self.changed)
        layout.addWidget(mode_box)

        self.accepted_check = QCheckBox("Include my accepted suggestions")
        self.accepted_check.toggled.connect(self.changed)
        layout.addWidget(self.accepted_check)
        self.preferences_check = QCheckBox()
        self.preferences_check.setToolTip(
            "After training, a short extra step teaches the model to prefer what you took (or wrote yourself) "
            "over the suggestions you turned down. It is kept only if it does not make the held-out chapters "
            "or the typing saved worse; the report shows how it did on choices it never saw.")
        layout.addWidget(self.preferences_check)
        self.show_preferences(0)
        self.continue_check = QCheckBox()
        self.continue_check.toggled.connect(self.changed)
        self.minutes_spin = QSpinBox()
        self.minutes_spin.setRange(1, 24 * 60)
        self.minutes_spin.setValue(DEFAULT_TONIGHT_MINUTES)
        self.minutes_spin.setSuffix(" min")
        self.continue_note = muted("")
        self.continue_box = QGroupBox("Train tonight on what changed")
        continue_layout = QGridLayout(self.continue_box)
        continue_layout.addWidget(self.continue_check, 0, 0, 1, 2)
        continue_layout.addWidget(QLabel("Time budget:"), 1, 0)
        continue_layout.addWidget(self.minutes_spin, 1, 1)
        continue_layout.addWidget(self.continue_note, 2, 0, 1, 2)
        layout.addWidget(self.continue_box)
        self.offer: ContinuationOffer | None = None
        self.show_continuation(None)

        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced settings")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        layout.addWidget(self.advanced_toggle)
        self.advanced = self._build_advanced()
        self.advanced.hide()
        layout.addWidget(self.advanced)
        for spin in (self.steps_spin, self.epochs_spin, self.lr_spin, self.batch_spin, self.block_spin):
            spin.valueChanged.connect(self.changed)
        self.steps_radio.toggled.connect(self._length_kind_changed)
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.estimate.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.estimate)
        layout.addStretch(1)

    def show_preferences(self, pairs: int) -> None:
        from cw_desktop.core.preference_pairs import MIN_PAIRS

        self.preferences_check.setText(f"Also learn from the suggestions you accepted and rejected ({pairs} pairs)")
        self.preferences_check.setEnabled(pairs >= MIN_PAIRS)
        if pairs < MIN_PAIRS:
            self.preferences_check.setChecked(False)

    def show_continuation(self, offer: ContinuationOffer | None) -> None:
        """Offer to continue the chosen fine-tune on what changed (hidden when the base is not one of this folder)."""
        self.offer = offer
        self.continue_box.setVisible(offer is not None)
        if offer is None:
            self.continue_check.setChecked(False)
            return
        self.continue_check.setText(f"Continue {offer.name} on what changed ({offer.changed} file"
                                    f"{'' if offer.changed == 1 else 's'} changed since {offer.since})")
        self.continue_check.setEnabled(offer.changed > 0)
        if offer.changed == 0:
            self.continue_check.setChecked(False)
        self.continue_note.setText((offer.note + " " if offer.note else "") +
                                   "Trains only on new or edited files and measures on the same held-out chapters "
                                   "as before, so the perplexities compare.")

    @property
    def continuing(self) -> ContinuationOffer | None:
        return self.offer if self.offer is not None and self.continue_check.isChecked() else None

    def _build_advanced(self) -> QGroupBox:
        """The Advanced fields: length, learning rate, batch, block and held-out share."""
        advanced = QGroupBox()
        grid = QGridLayout(advanced)
        self.steps_radio = QRadioButton("Steps:")
        self.epochs_radio = QRadioButton("Epochs:")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 1_000_000)
        self.epochs_spin = QDoubleSpinBox()
        self.epochs_spin.setRange(0.01, 100.0)
        self.epochs_spin.setDecimals(2)
        self.epochs_spin.setSingleStep(0.25)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(0.000001, 0.1)
        self.lr_spin.setSingleStep(0.0001)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 256)
        self.block_spin = QSpinBox()
        self.block_spin.setRange(16, 8192)
        self.block_spin.setSingleStep(64)
        self.share_spin = QDoubleSpinBox()
        self.share_spin.setRange(0.02, 0.5)
        self.share_spin.setSingleStep(0.05)
        self.share_spin.setDecimals(2)
        self.share_spin.setValue(DEFAULT_EVAL_SHARE)
        self.reset_button = QPushButton("Back to automatic")
        grid.addWidget(self.steps_radio, 0, 0)
        grid.addWidget(self.steps_spin, 0, 1)
        grid.addWidget(self.epochs_radio, 0, 2)
        grid.addWidget(self.epochs_spin, 0, 3)
        grid.addWidget(QLabel("Learning rate:"), 1, 0)
        grid.addWidget(self.lr_spin, 1, 1)
        grid.addWidget(QLabel("Batch size:"), 1, 2)
        grid.addWidget(self.batch_spin, 1, 3)
        grid.addWidget(QLabel("Block size (tokens):"), 2, 0)
        grid.addWidget(self.block_spin, 2, 1)
        grid.addWidget(QLabel("Held-out share:"), 2, 2)
        grid.addWidget(self.share_spin, 2, 3)
        grid.addWidget(self.reset_button, 3, 3)
        grid.addWidget(muted("The defaults are the trainer's own plan for this folder and computer. "
                              "A held-out share change re-reads the folder."), 3, 0, 1, 3)
        return advanced

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _length_kind_changed(self) -> None:
        self.steps_spin.setEnabled(self.steps_radio.isChecked())
        self.epochs_spin.setEnabled(not self.steps_radio.isChecked())
        self.changed.emit()

    @property
    def mode(self) -> str:
        for key, button in self.mode_buttons.items():
            if button.isChecked():
                return key
        return "lora"

    def set_automatic(self, hp: dict[str, Any], eval_share: float) -> None:
        """Fill the Advanced fields with the trainer's automatic plan (without emitting changes)."""
        widgets = (self.steps_spin, self.epochs_spin, self.lr_spin, self.batch_spin, self.block_spin,
                   self.share_spin, self.steps_radio)
        for widget in widgets:
            widget.blockSignals(True)
        self.steps_spin.setValue(int(hp["max_steps"]))
        self.epochs_spin.setValue(max(0.01, float(hp.get("epochs") or 0.01)))
        self.lr_spin.setValue(float(hp["lr"]))
        self.batch_spin.setValue(int(hp["batch_size"]))
        self.block_spin.setValue(int(hp["block_size"]))
        self.share_spin.setValue(eval_share)
        self.steps_radio.setChecked(True)
        for widget in widgets:
            widget.blockSignals(False)
        self.steps_spin.setEnabled(True)
        self.epochs_spin.setEnabled(False)
