"""Small widget builders every dialog uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget


def button(text: str, on_click: Callable[[], Any]) -> QPushButton:
    """A push button already connected to what it does."""
    result = QPushButton(text)
    result.clicked.connect(lambda _checked=False: on_click())
    return result


def button_row(left: list[QWidget], right: list[QWidget]) -> QHBoxLayout:
    """A dialog's bottom row: `left` at the left edge, `right` at the right edge."""
    row = QHBoxLayout()
    for widget in left:
        row.addWidget(widget)
    row.addStretch(1)
    for widget in right:
        row.addWidget(widget)
    return row
