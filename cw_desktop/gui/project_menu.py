"""The project actions of the File menu: New Project…, Open Project…, recent projects, export, close."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu

from cw_desktop.gui.project_controller import ProjectController


class ProjectMenu:
    """Inserted into `menu` before `before` (the window's File menu, after "Open recent")."""

    def __init__(self, window: QMainWindow, menu: QMenu, before: QAction, projects: ProjectController) -> None:
        self.projects = projects
        menu.insertSeparator(before)
        self._add(window, menu, before, "New &Project…", projects.new_dialog)
        self._add(window, menu, before, "Open Pro&ject…", projects.open_dialog, "Ctrl+Shift+O")
        self.recent_menu = QMenu("Recent projec&ts", menu)
        self.recent_menu.aboutToShow.connect(lambda: projects.fill_recent_menu(self.recent_menu))
        menu.insertMenu(before, self.recent_menu)
        self.export_project = self._add(window, menu, before, "E&xport project…", projects.export_dialog)
        self.export_chapter = self._add(window, menu, before, "Export &chapter…",
                                        lambda: projects.export_dialog(whole_project=False))
        self.close_project = self._add(window, menu, before, "Close projec&t", projects.close_project)
        projects.project_changed.connect(self._enable)
        self._enable(projects.project)

    def _add(self, window: QMainWindow, menu: QMenu, before: QAction, text: str, slot, shortcut: str = "") -> QAction:
        action = QAction(text, window)
        if shortcut:
            action.setShortcut(shortcut)
            window.addAction(action)  # the shortcut works while the menu bar is hidden (full screen)
        action.triggered.connect(lambda _checked=False: slot())
        menu.insertAction(before, action)
        return action

    def _enable(self, project: object) -> None:
        for action in (self.export_project, self.export_chapter, self.close_project):
            action.setEnabled(project is not None)
