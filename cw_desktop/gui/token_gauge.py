"""A thin bar showing how the model's context window is spent: Memory / lorebook / author's note /
draft / suggestion / free, and (in its tooltip) which lorebook entries are in and which did not fit."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from cw_desktop.gui.theme import Colours, colours


class TokenGauge(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_tokens = 0
        self.parts: list[tuple[str, int]] = []
        self.draft_total = 0
        self.lore_entries: list[str] = []  # names of the entries in the window
        self.dropped: list[str] = []  # fired entries (or the note) left out for lack of room
        self.problems: list[str] = []
        self.palette_colours: Colours = colours("light")
        self.setMinimumHeight(14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(200, 14)

    def set_budget(self, budget: Any) -> None:
        """budget: a TokenBudget (ml/story_prompt.py)."""
        self.window_tokens = int(budget.window)
        lorebook, note = int(getattr(budget, "lorebook", 0)), int(getattr(budget, "authors_note", 0))
        free = max(0, budget.window - budget.memory - lorebook - note - budget.draft - budget.reserved)
        self.parts = [("memory", int(budget.memory)), ("lorebook", lorebook), ("note", note),
                      ("draft", int(budget.draft)), ("reserved", int(budget.reserved)), ("free", free)]
        self.draft_total = int(getattr(budget, "draft_total", budget.draft) or budget.draft)
        self.lore_entries = list(getattr(budget, "lore_entries", []))
        self.dropped = list(getattr(budget, "dropped", []))
        self.problems = list(getattr(budget, "problems", []))
        self.setToolTip(self.describe())
        self.update()

    def describe(self) -> str:
        if not self.window_tokens:
            return "The model's window is measured once a model is loaded."
        values = dict(self.parts)
        text = f"Memory {values['memory']} · "
        if values["lorebook"] or self.lore_entries:
            text += f"lorebook {values['lorebook']} · "
        if values["note"]:
            text += f"author's note {values['note']} · "
        text += (f"draft {values['draft']} · suggestion {values['reserved']} · "
                 f"free {values['free']} of {self.window_tokens} tokens")
        if self.lore_entries:
            text += f"\nLorebook: {', '.join(self.lore_entries)}."
        if self.dropped:
            text += f"\nLeft out for lack of room: {', '.join(self.dropped)}."
        if self.draft_total > values["draft"]:
            text += f"\nThe model sees the last {values['draft']} of the draft's {self.draft_total} tokens."
        for problem in self.problems:
            text += f"\n{problem}"
        return text

    def set_colours(self, palette_colours: Colours) -> None:
        self.palette_colours = palette_colours
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        c = self.palette_colours
        rect = QRectF(self.rect()).adjusted(0.5, 2.5, -0.5, -2.5)
        painter.setPen(QColor(c.card_border))
        painter.setBrush(QColor(c.gauge_free))
        painter.drawRoundedRect(rect, 4, 4)
        if not self.window_tokens:
            return
        fill = {"memory": c.gauge_memory, "lorebook": segment_colour(c.gauge_memory, 35),
                "note": segment_colour(c.gauge_reserved, -40), "draft": c.gauge_draft, "reserved": c.gauge_reserved}
        x = rect.left()
        painter.setPen(QColor(0, 0, 0, 0))
        for name, tokens in self.parts:
            width = rect.width() * tokens / self.window_tokens
            if name in fill and width > 0:
                painter.setBrush(QColor(fill[name]))
                painter.drawRoundedRect(QRectF(x, rect.top(), width, rect.height()), 3, 3)
            x += width


def segment_colour(base: str, hue_shift: int) -> str:
    """A colour for a segment the theme has none for: a neighbour's, turned on the colour wheel, so
    it fits both themes and stays apart from the segments beside it."""
    colour = QColor(base)
    hue, saturation, value, _alpha = colour.getHsv()
    return QColor.fromHsv((hue + hue_shift) % 360, saturation, value).name()
