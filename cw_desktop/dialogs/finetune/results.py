"""Step 4 of the fine-tune dialog, also opened by the model manager: perplexity before/after and the
blind side-by-side rating of the samples in a model's report.json.

ResultsView is built from sections (perplexity, the pairs to rate, the summary); a new figure goes
in with `add_section(widget)` and appears below the perplexity line.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QMessageBox, QPushButton,
                               QRadioButton, QScrollArea, QTextBrowser, QToolButton, QVBoxLayout, QWidget)

from cw_desktop.core.ratings import CRITERIA, Ratings, load_or_create_ratings, save_ratings, summarise
from cw_desktop.dialogs import questions
from cw_desktop.dialogs.finetune.common import ERROR_STYLE, OK_STYLE, muted


class ScoreSelector(QWidget):
    """1-5 as five small toggle buttons; value() is None until the writer picks one."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        for value in range(1, 6):
            button = QToolButton()
            button.setText(str(value))
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setMinimumWidth(26)
            self.group.addButton(button, value)
            layout.addWidget(button)
        layout.addStretch(1)
        self.group.idToggled.connect(lambda _id, checked: checked and self.changed.emit())

    def value(self) -> int | None:
        checked = self.group.checkedId()
        return checked if checked > 0 else None

    def set_value(self, value: int | None) -> None:
        if value is not None:
            self.group.button(value).setChecked(True)


class PairWidget(QGroupBox):
    """One prompt: the two continuations as "A" and "B", scores under each, and the preference."""

    changed = Signal()

    def __init__(self, sample: dict[str, Any], pair: Any) -> None:
        super().__init__(f"{pair.index + 1}. {str(sample.get('form') or 'sample').capitalize()}")
        self.pair = pair
        layout = QVBoxLayout(self)
        prompt = QLabel(f"<i>Prompt:</i> {html.escape(str(sample.get('prompt', ''))).replace(chr(10), '<br>')}")
        prompt.setWordWrap(True)
        prompt.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(prompt)
        columns = QHBoxLayout()
        self.titles: dict[str, QLabel] = {}
        self.scores: dict[str, dict[str, ScoreSelector]] = {}
        for column, letter in (("left", "A"), ("right", "B")):
            text = sample["after"] if pair.role_of(column) == "tuned" else sample["before"]
            box = QVBoxLayout()
            title = QLabel(f"<b>Version {letter}</b>")
            self.titles[column] = title
            box.addWidget(title)
            view = QTextBrowser()
            view.setPlainText(str(text).strip() or "(the model wrote nothing)")
            view.setMinimumHeight(110)
            view.setMaximumHeight(180)
            box.addWidget(view)
            form = QFormLayout()
            self.scores[column] = {}
            for criterion in CRITERIA:
                selector = ScoreSelector()
                selector.changed.connect(self.changed)
                self.scores[column][criterion] = selector
                form.addRow(f"{criterion.capitalize()}:", selector)
            box.addLayout(form)
            columns.addLayout(box, 1)
        layout.addLayout(columns)
        preference = QHBoxLayout()
        preference.addWidget(QLabel("Which is better?"))
        self.preference_group = QButtonGroup(self)
        self.preference_buttons = {}
        for key, label in (("left", "A"), ("right", "B"), ("same", "About the same")):
            button = QRadioButton(label)
            self.preference_group.addButton(button)
            self.preference_buttons[key] = button
            preference.addWidget(button)
            button.toggled.connect(lambda checked: checked and self.changed.emit())
        preference.addStretch(1)
        layout.addLayout(preference)
        self._load_existing()

    def _load_existing(self) -> None:
        if self.pair.preference is None:
            return
        preferred = "same" if self.pair.preference == "same" else self.pair.column_of(self.pair.preference)
        self.preference_buttons[preferred].setChecked(True)
        for role, scores in self.pair.scores.items():
            column = self.pair.column_of(role)
            for criterion, value in scores.items():
                self.scores[column][criterion].set_value(value)

    def is_complete(self) -> bool:
        return self.preference_group.checkedButton() is not None and all(
            selector.value() is not None for column in self.scores.values() for selector in column.values())

    def preferred_column(self) -> str | None:
        for key, button in self.preference_buttons.items():
            if button.isChecked():
                return None if key == "same" else key
        return None

    def scores_by_column(self) -> dict[str, dict[str, int]]:
        return {column: {c: s.value() for c, s in selectors.items() if s.value() is not None}
                for column, selectors in self.scores.items()}

    def reveal(self) -> None:
        for column, title in self.titles.items():
            letter = "A" if column == "left" else "B"
            tuned = self.pair.role_of(column) == "tuned"
            title.setText(f"<b>Version {letter}</b> — "
                          f"<span style='color:{'#2e7d32' if tuned else '#6f6a62'}'>"
                          f"{'tuned model' if tuned else 'base model'}</span>")


def keystrokes_text(saved: Any) -> str:
    """report.json's keystrokes_saved ({"base": share, "tuned": share}, shares 0-1) as one line, or ""
    when it was not measured (older reports, --no-samples, too little held-out text)."""
    if not isinstance(saved, dict):
        return ""
    base, tuned = saved.get("base"), saved.get("tuned")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (base, tuned)):
        return ""
    return (f"Saves ~{tuned * 100:.0f}% of your typing on held-out chapters (base model: {base * 100:.0f}%), "
            "for a writer who takes the suggested words that match.")


class ResultsView(QWidget):
    """Perplexity before/after and the blind rating of report.json's samples, for one model folder."""

    ratings_saved = Signal(str)  # path of ratings.json

    def __init__(self, model_folder: Path, report: dict[str, Any]) -> None:
        super().__init__()
        self.model_folder = Path(model_folder)
        self.report = report
        self.samples = [s for s in report.get("samples") or [] if isinstance(s, dict)]
        layout = QVBoxLayout(self)
        self.perplexity = QLabel(self._perplexity_text())
        self.perplexity.setWordWrap(True)
        self.perplexity.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.perplexity)
        # More figures about the model (add_section) go here, between perplexity and the samples.
        self.sections = QVBoxLayout()
        layout.addLayout(self.sections)
        self.keystrokes: QLabel | None = None
        keystrokes = keystrokes_text(report.get("keystrokes_saved"))
        if keystrokes:
            self.keystrokes = QLabel(keystrokes)
            self.keystrokes.setWordWrap(True)
            self.keystrokes.setTextFormat(Qt.TextFormat.PlainText)
            self.add_section(self.keystrokes)
        self.pairs: list[PairWidget] = []
        self.ratings: Ratings | None = None
        self.revealed = False
        if not self.samples:
            layout.addWidget(muted("This model has no samples to compare (it was trained with --no-samples)."))
            layout.addStretch(1)
            self.summary = QLabel()
            self.reveal_button = QPushButton()
            self.reveal_button.hide()
            return
        # Reuses the stored blind layout (and any earlier ratings) when the samples are the same.
        self.ratings = load_or_create_ratings(self.model_folder, self.samples)
        layout.addWidget(muted("Each prompt was continued by the base model and by the tuned model, with the same "
                               "random seed. Which one is which stays hidden until you have rated them."))
        layout.addWidget(self._build_pairs(), 1)
        bottom = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        bottom.addWidget(self.summary, 1)
        self.reveal_button = QPushButton("Reveal and save ratings")
        self.reveal_button.clicked.connect(self.reveal_and_save)
        bottom.addWidget(self.reveal_button)
        layout.addLayout(bottom)
        if self.ratings.rated:
            # Rated before (the dialog reopened from the model manager): nothing is hidden any more.
            self._show_revealed()
        self._update_button()

    def add_section(self, widget: QWidget) -> None:
        """Show one more figure about the model (below the perplexity line, above the samples)."""
        self.sections.addWidget(widget)

    def _build_pairs(self) -> QScrollArea:
        """The blind pairs to rate, one PairWidget per sample, in a scroll area."""
        assert self.ratings is not None
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        for sample, pair in zip(self.samples, self.ratings.pairs):
            widget = PairWidget(sample, pair)
            widget.changed.connect(self._update_button)
            self.pairs.append(widget)
            inner_layout.addWidget(widget)
        inner_layout.addStretch(1)
        scroll.setWidget(inner)
        return scroll

    def _perplexity_text(self) -> str:
        before, after = self.report.get("perplexity_before"), self.report.get("perplexity_after")
        if not isinstance(before, (int, float)) or not isinstance(after, (int, float)):
            return "Perplexity was not measured."
        change = (after - before) / before * 100 if before else 0.0
        verdict = ("the tuned model predicts your held-out chapters better" if after < before
                   else "the tuned model does <b>not</b> predict your held-out chapters better; more text or more "
                        "steps may help")
        return (f"<b>Perplexity on held-out text</b> (chapters never trained on; lower is better): "
                f"<b>{before:.2f}</b> before → <b>{after:.2f}</b> after "
                f"(<span style='{OK_STYLE if after < before else ERROR_STYLE}'>{change:+.1f}%</span>): {verdict}.")

    def _update_button(self) -> None:
        if not self.pairs:
            return
        complete = sum(1 for pair in self.pairs if pair.is_complete())
        self.reveal_button.setEnabled(complete > 0)
        if not self.revealed:
            self.summary.setText(f"{complete} of {len(self.pairs)} pairs rated.")

    def reveal_and_save(self) -> Path | None:
        """Record every completely rated pair, save ratings.json and show which column was which."""
        assert self.ratings is not None
        unrated = [pair for pair in self.pairs if not pair.is_complete()]
        if unrated and not self.revealed and not questions.confirm(
                self, "Reveal the models?",
                f"{len(unrated)} of {len(self.pairs)} pairs are not fully rated; they will not be counted, and "
                "once revealed the comparison is no longer blind.", "Reveal", "Keep rating"):
            return None
        for widget in self.pairs:
            if widget.is_complete():
                self.ratings.rate(widget.pair.index, preferred_column=widget.preferred_column(),
                                  scores_by_column=widget.scores_by_column())
        try:
            path = save_ratings(self.model_folder, self.ratings)
        except OSError as exc:
            QMessageBox.warning(self, "Ratings not saved", f"Could not save the ratings in {self.model_folder}: {exc}")
            return None
        self._show_revealed()
        self.ratings_saved.emit(str(path))
        return path

    def _show_revealed(self) -> None:
        assert self.ratings is not None
        self.revealed = True
        for widget in self.pairs:
            widget.reveal()
        self.reveal_button.setText("Save ratings")
        summary = summarise(self.ratings)
        if summary.rated:
            means = ", ".join(f"{c} {summary.tuned_means[c]:.1f} vs {summary.base_means[c]:.1f}" for c in CRITERIA)
            self.summary.setText(f"<b>You preferred the tuned model in {summary.tuned_preferred} of {summary.rated} "
                                 f"pairs</b> (base: {summary.base_preferred}, same: {summary.same}). "
                                 f"Tuned vs base — {means}. Saved with the model.")
        else:
            self.summary.setText("No pair was fully rated.")
