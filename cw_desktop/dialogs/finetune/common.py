"""Small pieces the fine-tune pages share: colours for good and bad news, muted notes, durations."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from cw_desktop.core.units import format_duration

ERROR_STYLE = "color: #b3261e;"
OK_STYLE = "color: #2e7d32;"


def muted(text: str) -> QLabel:
    """A wrapped, de-emphasised explanatory note."""
    label = QLabel(text)
    label.setProperty("muted", True)
    label.setWordWrap(True)
    return label


def rough_duration(seconds: float | None) -> str:
    """An estimate or ETA for the writer: "40 s", "12 min", "1.5 h" ("—" when unknown)."""
    return format_duration(seconds, rough=True)
