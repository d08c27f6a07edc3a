"""Distraction-free mode: full screen, no menus, docks, status bar or tabs, the text in a centred column.

Leaving restores exactly the docks that were showing and whether the window was maximised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from cw_desktop.gui.editor import GhostTextEditor


class DistractionFree:
    def __init__(self, window: QMainWindow, docks: list[QDockWidget], tab_bar: QWidget,
                 editors: Callable[[], list[GhostTextEditor]], line_width_chars: Callable[[], int]) -> None:
        self.window = window
        self.docks = docks
        self.tab_bar = tab_bar
        self.editors = editors
        self.line_width_chars = line_width_chars
        self._before: dict[str, Any] | None = None  # what to bring back on leaving

    @property
    def active(self) -> bool:
        return self._before is not None

    def toggle(self) -> None:
        if self._before is None:
            docks = [d for d in self.docks if d.isVisible()]
            self._before = {"docks": docks, "maximized": self.window.isMaximized()}
            for dock in docks:
                dock.hide()
            self._show_chrome(False)
            self.window.showFullScreen()
            self.center_all()
        else:
            before, self._before = self._before, None
            for dock in before["docks"]:
                dock.show()
            self._show_chrome(True)
            self.window.showMaximized() if before["maximized"] else self.window.showNormal()
            for editor in self.editors():
                editor.setViewportMargins(0, 0, 0, 0)

    def _show_chrome(self, visible: bool) -> None:
        for widget in (self.window.menuBar(), self.window.statusBar(), self.tab_bar):
            widget.setVisible(visible)

    def center_all(self) -> None:
        for editor in self.editors():
            self.center(editor)

    def center(self, editor: GhostTextEditor) -> None:
        column = editor.fontMetrics().horizontalAdvance("n") * self.line_width_chars()
        side = max(0, (self.window.width() - column) // 2)
        editor.setViewportMargins(side, 24, side, 24)
