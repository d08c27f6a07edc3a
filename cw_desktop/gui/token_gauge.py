"""A thin bar showing how the model's context window is spent: memory / draft / suggestion / free."""

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
        self.palette_colours: Colours = colours("light")
        self.setMinimumHeight(14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(200, 14)

    def set_budget(self, budget: Any) -> None:
        """budget: a TokenBudget (window, memory, draft, reserved, draft_total)."""
        self.window_tokens = int(budget.window)
        free = max(0, budget.window - budget.memory - budget.draft - budget.reserved)
        self.parts = [("memory", int(budget.memory)), ("draft", int(budget.draft)),
                      ("reserved", int(budget.reserved)), ("free", free)]
        self.draft_total = int(getattr(budget, "draft_total", budget.draft) or budget.draft)
        self.setToolTip(self.describe())
        self.update()

    def describe(self) -> str:
        if not self.window_tokens:
            return "The model's window is measured once a model is loaded."
        values = dict(self.parts)
        text = (f"Memory {values['memory']} · draft {values['draft']} · suggestion {values['reserved']} · "
                f"free {values['free']} of {self.window_tokens} tokens")
        if self.draft_total > values["draft"]:
            text += f"\nThe model sees the last {values['draft']} of the draft's {self.draft_total} tokens."
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
        fill = {"memory": c.gauge_memory, "draft": c.gauge_draft, "reserved": c.gauge_reserved}
        x = rect.left()
        painter.setPen(QColor(0, 0, 0, 0))
        for name, tokens in self.parts:
            width = rect.width() * tokens / self.window_tokens
            if name in fill and width > 0:
                painter.setBrush(QColor(fill[name]))
                painter.drawRoundedRect(QRectF(x, rect.top(), width, rect.height()), 3, 3)
            x += width
