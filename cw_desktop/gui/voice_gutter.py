"""The "sounds like you" gutter: a thin colour bar beside each paragraph in the editor's left margin.

It is an overlay inside the editor's document margin (no layout change, so distraction-free
centring and the text's position stay as they are) and lets every click through. Colours are
relative to the document itself (core/voice_scale.py): paragraphs the fine-tune expects more than
the document's middle are green ("closer to your voice"), less are amber ("drifts").

Scores arrive for character ranges of the text as it was when scored; edits made since shift the
ranges after them (and clear the edited paragraph's bar) until the rescored answer arrives.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QWidget

from cw_desktop.core.voice_scale import relative_scale

GUTTER_X = 3
GUTTER_WIDTH = 5
VOICE_COLOUR = QColor("#4f9a6b")  # closer to your voice
DRIFT_COLOUR = QColor("#d28a3c")  # drifts
NEUTRAL_COLOUR = QColor("#b8b2a7")


def bar_colour(score: float, centre: float, spread: float) -> QColor:
    """Green above the document's centre, amber below; stronger the further from it."""
    t = max(-1.0, min(1.0, (score - centre) / spread)) if spread > 0 else 0.0
    target = VOICE_COLOUR if t >= 0 else DRIFT_COLOUR
    weight = abs(t)
    colour = QColor(round(NEUTRAL_COLOUR.red() + (target.red() - NEUTRAL_COLOUR.red()) * weight),
                    round(NEUTRAL_COLOUR.green() + (target.green() - NEUTRAL_COLOUR.green()) * weight),
                    round(NEUTRAL_COLOUR.blue() + (target.blue() - NEUTRAL_COLOUR.blue()) * weight))
    colour.setAlphaF(0.35 + 0.6 * weight)
    return colour


class VoiceGutter(QWidget):
    def __init__(self, editor: QPlainTextEdit) -> None:
        super().__init__(editor.viewport())
        self.editor = editor
        self.setObjectName("voiceGutter")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.spans: list[tuple[int, int, float | None]] = []
        self.centre, self.spread = 0.0, 1.0
        editor.updateRequest.connect(lambda *_: self._fit())
        editor.document().contentsChange.connect(self._shift)
        self._fit()

    def set_scores(self, spans: list[tuple[int, int, float | None]]) -> None:
        self.spans = list(spans)
        self.centre, self.spread = relative_scale([s for _a, _b, s in self.spans])
        self.update()

    def clear(self) -> None:
        self.spans = []
        self.update()

    def _fit(self) -> None:
        height = self.editor.viewport().height()
        if self.geometry() != QRect(GUTTER_X, 0, GUTTER_WIDTH, height):
            self.setGeometry(GUTTER_X, 0, GUTTER_WIDTH, height)
        self.update()

    def _shift(self, position: int, removed: int, added: int) -> None:
        """Keep bars beside their paragraphs while the writer types; the edited one waits for its score."""
        delta = added - removed
        shifted = []
        for start, end, score in self.spans:
            if end < position:
                shifted.append((start, end, score))
            elif start > position + removed:
                shifted.append((start + delta, end + delta, score))
        self.spans = shifted
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        if not self.spans:
            return
        editor = self.editor
        document = editor.document()
        offset = editor.contentOffset()
        painter = QPainter(self)
        height = self.height()
        for start, end, score in self.spans:
            if score is None:
                continue
            first, last = document.findBlock(start), document.findBlock(max(start, end - 1))
            if not first.isValid() or not last.isValid():
                continue
            top = editor.blockBoundingGeometry(first).translated(offset).top()
            bottom = editor.blockBoundingGeometry(last).translated(offset).bottom()
            if bottom < 0 or top > height:
                continue
            painter.fillRect(QRect(0, int(top) + 2, GUTTER_WIDTH, max(2, int(bottom - top) - 4)),
                             bar_colour(score, self.centre, self.spread))
        painter.end()


class VoiceLegend(QWidget):
    """"closer to your voice ▮▮▮ drifts" for the status bar while the gutter is shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.voice_label = QLabel("closer to your voice")
        self.drift_label = QLabel("drifts")
        for label in (self.voice_label, self.drift_label):
            label.setProperty("muted", True)
        self.scale = _Scale()
        layout.addWidget(self.voice_label)
        layout.addWidget(self.scale)
        layout.addWidget(self.drift_label)
        self.setToolTip("Sounds like you: how much more likely each paragraph is under your fine-tuned model "
                        "than under its base, relative to the rest of this document")


class _Scale(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setFixedSize(60, 8)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        gradient = QLinearGradient(0, 0, self.width(), 0)
        gradient.setColorAt(0.0, bar_colour(1.0, 0.0, 1.0))
        gradient.setColorAt(0.5, bar_colour(0.0, 0.0, 1.0))
        gradient.setColorAt(1.0, bar_colour(-1.0, 0.0, 1.0))
        painter.fillRect(self.rect(), gradient)
        painter.end()
