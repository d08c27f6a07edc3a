"""Light and dark themes: a Fusion palette plus a few colours of our own (ghost text, cards, gauge)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("light", "dark")


@dataclass(frozen=True)
class Colours:
    window: str
    base: str  # the page the writer types on
    text: str
    ghost: str  # suggestion text: readable, but clearly not the writer's own
    muted: str  # secondary labels
    accent: str
    card: str
    card_border: str
    gauge_memory: str
    gauge_draft: str
    gauge_reserved: str
    gauge_free: str


LIGHT = Colours(window="#eeeae3", base="#fdfcf9", text="#24211d", ghost="#9a948a", muted="#6f6a62",
                accent="#2f6f9f", card="#ffffff", card_border="#d8d2c8", gauge_memory="#b07cc6",
                gauge_draft="#5b8fbf", gauge_reserved="#e2a541", gauge_free="#dcd7ce")
DARK = Colours(window="#1f2023", base="#26282c", text="#e4e1da", ghost="#7d7a74", muted="#9a968f",
               accent="#7fb3e0", card="#2e3035", card_border="#44464d", gauge_memory="#b98fd0",
               gauge_draft="#6f9fcc", gauge_reserved="#d9a64a", gauge_free="#3b3d43")


def colours(theme: str) -> Colours:
    return DARK if theme == "dark" else LIGHT


def palette(theme: str) -> QPalette:
    c = colours(theme)
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: c.window, QPalette.ColorRole.WindowText: c.text,
        QPalette.ColorRole.Base: c.base, QPalette.ColorRole.AlternateBase: c.card,
        QPalette.ColorRole.Text: c.text, QPalette.ColorRole.Button: c.window,
        QPalette.ColorRole.ButtonText: c.text, QPalette.ColorRole.ToolTipBase: c.card,
        QPalette.ColorRole.ToolTipText: c.text, QPalette.ColorRole.Highlight: c.accent,
        QPalette.ColorRole.HighlightedText: c.base, QPalette.ColorRole.Link: c.accent,
        QPalette.ColorRole.PlaceholderText: c.muted, QPalette.ColorRole.BrightText: "#ff5555",
    }
    for role, value in roles.items():
        pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.muted))
    return pal


def stylesheet(theme: str) -> str:
    c = colours(theme)
    return f"""
    QPlainTextEdit#editor {{ border: none; selection-background-color: {c.accent}; }}
    QTabWidget::pane {{ border: none; }}
    QTabBar::tab {{ padding: 5px 14px; border: none; background: {c.window}; color: {c.muted}; }}
    QTabBar::tab:selected {{ background: {c.base}; color: {c.text}; }}
    QFrame#card {{ background: {c.card}; border: 1px solid {c.card_border}; border-radius: 6px; }}
    QFrame#card:hover {{ border: 1px solid {c.accent}; }}
    QFrame#card[current="true"] {{ border: 2px solid {c.accent}; }}
    QToolButton#tabClose {{ color: {c.muted}; border: none; padding: 0 4px; font-size: 14px; }}
    QToolButton#tabClose:hover {{ color: {c.text}; }}
    QLabel[muted="true"] {{ color: {c.muted}; }}
    QStatusBar QLabel {{ padding: 0 6px; }}
    QDockWidget::title {{ padding: 4px 6px; }}
    QFrame#findBar {{ border-top: 1px solid {c.card_border}; }}
    """


def apply_theme(app: QApplication, theme: str) -> None:
    app.setStyle("Fusion")  # the same look on every platform; follows our palette faithfully
    app.setPalette(palette(theme))
    app.setStyleSheet(stylesheet(theme))


def editor_font(family: str, size: int) -> QFont:
    """The writer's font; "serif" / "sans" / "monospace" pick the system's default of that kind."""
    generic = {"serif": QFont.StyleHint.Serif, "sans": QFont.StyleHint.SansSerif,
               "sans-serif": QFont.StyleHint.SansSerif, "monospace": QFont.StyleHint.Monospace}
    if family in generic:
        font = QFont()
        font.setStyleHint(generic[family])
        # Concrete, widely installed faces first: a bare style hint is ignored by some platforms.
        candidates = {"serif": ["Georgia", "Charter", "Cambria", "DejaVu Serif", "Liberation Serif",
                                "Noto Serif", "Times New Roman"],
                      "monospace": ["Menlo", "Consolas", "DejaVu Sans Mono", "Liberation Mono"]}.get(
            family, ["Segoe UI", "Helvetica Neue", "DejaVu Sans", "Liberation Sans", "Noto Sans"])
        available = set(QFontDatabase.families())
        font.setFamilies([name for name in candidates if name in available] or [family])
    else:
        font = QFont(family)
    font.setPointSize(max(6, min(72, size)))
    return font
