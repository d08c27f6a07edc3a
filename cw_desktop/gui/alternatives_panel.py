"""Side panel: the current suggestion's alternatives as cards; clicking one inserts it.

Below them, the suggestion history of the cursor's place (gui/history_controller.py): earlier
suggestions made there, which a click shows again as the ghost, or - right after accepting one -
the others it can be swapped for.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget


class AlternativeCard(QFrame):
    clicked = Signal(int)

    def __init__(self, index: int, text: str, current: bool, copies: str | None = None,
                 parent: QWidget | None = None, note: str = "") -> None:
        super().__init__(parent)
        self.index = index
        self.note = note  # e.g. "new": from the latest request at this place
        self.setObjectName("card")
        self.setProperty("current", current)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click to insert this continuation")
        number = QLabel(f"{index + 1}" + (f" · {note}" if note else ""))
        number.setProperty("muted", True)
        body = QLabel(_shown(text))
        self.body = body
        body.setWordWrap(True)
        body.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(2)
        layout.addWidget(number)
        layout.addWidget(body)
        self.text = body.text()
        # A fine-tuned model reciting its training text ("copies your Emma.txt, chapter 3").
        self.copies = copies
        if copies:
            marker = QLabel(f"⚠ {copies}")
            marker.setProperty("muted", True)
            marker.setWordWrap(True)
            layout.addWidget(marker)
            self.setToolTip(f"This continuation {copies} word for word. Click to insert it anyway")

    def set_text(self, text: str, current: bool) -> None:
        """A streaming alternative grew: change the words, keep the widget."""
        self.body.setText(_shown(text))
        self.text = self.body.text()
        if self.property("current") != current:
            self.setProperty("current", current)
            self.style().unpolish(self)
            self.style().polish(self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit(self.index)
        super().mouseReleaseEvent(event)


class AlternativesPanel(QWidget):
    chosen = Signal(int)  # alternative index the writer clicked
    history_chosen = Signal(int)  # index into the entries of the last show_history call

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = QLabel("Alternatives appear here while a suggestion is showing. "
                           "Click one to insert it; Alt+] and Alt+[ cycle through them in the text.")
        self.hint.setWordWrap(True)
        self.hint.setProperty("muted", True)
        self.cards: list[AlternativeCard] = []
        self.card_box = QWidget()
        self.card_layout = QVBoxLayout(self.card_box)
        self.card_layout.setContentsMargins(0, 0, 0, 0)
        self.card_layout.setSpacing(6)
        # The history section sits below the alternatives, inside the same scrolling box.
        self.history_title = QLabel()
        self.history_title.setProperty("muted", True)
        self.history_title.setWordWrap(True)
        self.history_title.hide()
        self.card_layout.addWidget(self.history_title)
        self.history_cards: list[AlternativeCard] = []
        self.card_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.card_box)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # clicking a card must not take the editor's cursor
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.hint)
        layout.addWidget(scroll, 1)

    def show_alternatives(self, texts: list[str], current: int, copies: list[str | None] | None = None) -> None:
        shown = [(index, text, copies[index] if copies and index < len(copies) else None)
                 for index, text in enumerate(texts) if text.strip()]
        if [(card.index, card.copies) for card in self.cards] == [(index, copied) for index, _, copied in shown]:
            # While alternatives stream, this runs once per token: building new cards each time
            # (~1 ms each plus a relayout) stalled the window for 100-200 ms over a long suggestion.
            for card, (index, text, _copied) in zip(self.cards, shown):
                card.set_text(text, index == current)
            return
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        for index, text in enumerate(texts):
            if not text.strip():
                continue
            copied = copies[index] if copies and index < len(copies) else None
            card = AlternativeCard(index, text, index == current, copied)
            card.clicked.connect(self.chosen.emit)
            self.card_layout.insertWidget(self.card_layout.indexOf(self.history_title), card)
            self.cards.append(card)
        self.hint.setVisible(not self.cards and not self.history_cards)

    def show_history(self, title: str, entries: list[tuple[str, bool]], tip: str = "") -> None:
        """(text, is new) per entry under `title`; nothing at all when `entries` is empty."""
        for card in self.history_cards:
            card.deleteLater()
        self.history_cards = []
        for index, (text, is_new) in enumerate(entries):
            card = AlternativeCard(index, text, False, note="new" if is_new else "")
            card.setProperty("history", True)
            if tip:
                card.setToolTip(tip)
            card.clicked.connect(self.history_chosen.emit)
            self.card_layout.insertWidget(self.card_layout.count() - 1, card)
            self.history_cards.append(card)
        self.history_title.setText(title)
        self.history_title.setVisible(bool(entries))
        self.hint.setVisible(not self.cards and not self.history_cards)

    def card_texts(self) -> list[str]:
        return [card.text for card in self.cards]


def _shown(text: str) -> str:
    # "…" marks that the text follows on from the writer's own; line breaks shown as ⏎.
    return "…" + text.rstrip().replace("\n", " ⏎ ")
