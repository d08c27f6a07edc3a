"""The window's menu bar: File, Edit, View, Suggest, Model and Help, in that order.

The menu only builds the actions and keeps their check marks and key labels current; what each
action does comes in as MenuSlots from the window's wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QMessageBox, QWidget

from cw_desktop import APP_NAME
from cw_desktop.core.rewrite_request import ACTIONS as REWRITE_ACTIONS
from cw_desktop.core.settings import KeySettings, Settings

Slot = Callable[..., Any]


@dataclass
class MenuSlots:
    """What the actions do. Toggles receive the new checked state."""

    new: Slot
    open: Slot
    fill_recent: Callable[[QMenu], None]  # called each time "Open recent" opens
    save: Slot
    save_as: Slot
    close_tab: Slot
    quit: Slot
    editor: Callable[..., None]  # editor("undo") calls that method of the current editor
    find: Callable[[bool], None]  # True: find and replace
    find_next: Slot
    preferences: Slot
    dark_theme: Callable[[bool], None]
    soft_wrap: Callable[[bool], None]
    font: Slot
    font_size: Callable[[int], None]  # +1 / -1 point
    distraction_free: Slot
    suggest_now: Slot
    auto_suggest: Callable[[bool], None]
    write_piece: Slot
    lorebook: Slot  # the front story's lorebook editor (gui/story_controller.py)
    retry: Slot  # another suggestion at the cursor (gui/history_controller.py)
    swap: Slot  # the accepted suggestion for another one from its place's history
    voice_gutter: Callable[[bool], None]  # View ▸ Sounds like you (gui/voice_controller.py)
    rewrite: Callable[[str], None]  # rewrite("shorten"): the selection (gui/rewrite_controller.py)


# (name in KeySettings, label, editor method and arguments): shown with their keys, handled by the editor.
SUGGEST_ITEMS = (("suggest_now", "Suggest now", None),
                 ("accept", "Accept suggestion", ("accept_all",)),
                 ("accept_word", "Accept next word", ("accept_next_word",)),
                 ("dismiss", "Dismiss", ("end_ghost", "rejected")),
                 ("next_alternative", "Next alternative", ("cycle_alternative", 1)),
                 ("previous_alternative", "Previous alternative", ("cycle_alternative", -1)))


class MainMenu(QObject):
    def __init__(self, window: QMainWindow, settings: Settings, data_dir: Path, slots: MenuSlots,
                 docks: list[QDockWidget], model_menu: QMenu) -> None:
        super().__init__(window)
        self.owner = window
        self.settings = settings
        self.data_dir = data_dir
        bar = window.menuBar()
        self._build_file(bar.addMenu("&File"), slots)
        self._build_edit(bar.addMenu("&Edit"), slots)
        self._build_view(bar.addMenu("&View"), slots, docks)
        self._build_suggest(bar.addMenu("&Suggest"), slots)
        bar.addMenu(model_menu)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", lambda: show_shortcuts(window, self.settings.keys))
        self._action(help_menu, "&About", lambda: show_about(window, self.data_dir))

    def _build_file(self, menu: QMenu, slots: MenuSlots) -> None:
        self._action(menu, "&New", slots.new, QKeySequence.StandardKey.New)
        self._action(menu, "&Open…", slots.open, QKeySequence.StandardKey.Open)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(lambda: slots.fill_recent(self.recent_menu))
        self.file_menu = menu
        self.file_saving_section = menu.addSeparator()  # the project actions go in before it
        self._action(menu, "&Save", slots.save, QKeySequence.StandardKey.Save)
        self._action(menu, "Save &as…", slots.save_as, QKeySequence.StandardKey.SaveAs)
        self._action(menu, "&Close tab", slots.close_tab, QKeySequence.StandardKey.Close)
        menu.addSeparator()
        self._action(menu, "&Quit", slots.quit, QKeySequence.StandardKey.Quit)

    def _build_edit(self, menu: QMenu, slots: MenuSlots) -> None:
        keys = QKeySequence.StandardKey
        self._action(menu, "&Undo", partial(slots.editor, "undo"), keys.Undo)
        self._action(menu, "&Redo", partial(slots.editor, "redo"), keys.Redo)
        menu.addSeparator()
        for text, method, key in (("Cu&t", "cut", keys.Cut), ("&Copy", "copy", keys.Copy),
                                  ("&Paste", "paste", keys.Paste), ("Select &all", "selectAll", keys.SelectAll)):
            self._action(menu, text, partial(slots.editor, method), key)
        menu.addSeparator()
        self._action(menu, "&Find…", partial(slots.find, False), keys.Find)
        self._action(menu, "Find and &replace…", partial(slots.find, True), "Ctrl+H")
        self._action(menu, "Find &next", slots.find_next, keys.FindNext)
        menu.addSeparator()
        self.rewrite_menu = menu.addMenu("Re&write selection")
        for action, label in REWRITE_ACTIONS.items():
            self._action(self.rewrite_menu, label, partial(slots.rewrite, action))
        menu.addSeparator()
        self._action(menu, "Pre&ferences…", slots.preferences, keys.Preferences)

    def _build_view(self, menu: QMenu, slots: MenuSlots, docks: list[QDockWidget]) -> None:
        for dock in docks:
            menu.addAction(dock.toggleViewAction())
        menu.addSeparator()
        self.dark_action = self._action(menu, "&Dark theme", slots.dark_theme, "Ctrl+Shift+D", checkable=True)
        self.wrap_action = self._action(menu, "Soft &wrap", slots.soft_wrap, checkable=True)
        self.voice_action = self._action(menu, "Sounds like &you (voice gutter)", slots.voice_gutter, checkable=True)
        self._action(menu, "&Font…", slots.font)
        self._action(menu, "&Larger text", partial(slots.font_size, +1), QKeySequence.StandardKey.ZoomIn)
        self._action(menu, "&Smaller text", partial(slots.font_size, -1), QKeySequence.StandardKey.ZoomOut)
        menu.addSeparator()
        self.focus_action = self._action(menu, "Distraction-&free mode", slots.distraction_free, "F11",
                                         checkable=True)

    def _build_suggest(self, menu: QMenu, slots: MenuSlots) -> None:
        # Shown with their keys but not bound as window shortcuts: the editor handles those keys
        # itself, and only while a suggestion is showing (Tab must still indent otherwise).
        self.suggest_actions: dict[str, QAction] = {}
        for name, text, call in SUGGEST_ITEMS:
            slot = slots.suggest_now if call is None else partial(slots.editor, *call)
            self.suggest_actions[name] = self._plain_action(menu, text, getattr(self.settings.keys, name), slot)
        # Real window shortcuts: both work whether or not a suggestion is showing.
        self.retry_action = self._action(menu, "&Retry: another suggestion here", slots.retry, self.settings.keys.retry)
        self.swap_action = self._action(menu, "S&wap the accepted suggestion", slots.swap, self.settings.keys.swap)
        menu.addSeparator()
        self.auto_action = self._action(menu, "Suggest &automatically", slots.auto_suggest, checkable=True)
        self._action(menu, "&Write a piece…", slots.write_piece)
        self._action(menu, "&Lorebook…", slots.lorebook, "Ctrl+Shift+L")

    def apply_settings(self) -> None:
        """Check marks and key labels as the settings say (setChecked does not trigger the slots)."""
        self.dark_action.setChecked(self.settings.editor.theme == "dark")
        self.wrap_action.setChecked(self.settings.editor.soft_wrap)
        self.voice_action.setChecked(self.settings.editor.voice_gutter)
        self.auto_action.setChecked(self.settings.suggestions.auto_suggest)
        for name, action in self.suggest_actions.items():
            action.setText(f"{action.data()}\t{native_key(getattr(self.settings.keys, name))}")
        self.retry_action.setShortcut(QKeySequence(self.settings.keys.retry))
        self.swap_action.setShortcut(QKeySequence(self.settings.keys.swap))

    def _action(self, menu: QMenu, text: str, slot: Slot, shortcut: Any = None, checkable: bool = False) -> QAction:
        action = QAction(text, self.owner)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        # A toggle's slot gets the new state; any other slot no arguments (PySide would otherwise
        # hand `checked` to the slot's first optional parameter).
        action.triggered.connect(slot if checkable else (lambda: slot()))
        menu.addAction(action)
        self.owner.addAction(action)  # shortcuts keep working while the menu bar is hidden (full screen)
        return action

    def _plain_action(self, menu: QMenu, text: str, key: str, slot: Slot) -> QAction:
        action = QAction(f"{text}\t{native_key(key)}", self.owner)
        action.setData(text)
        action.triggered.connect(lambda: slot())
        menu.addAction(action)
        return action


def native_key(key: str) -> str:
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)


def show_shortcuts(parent: QWidget, keys: KeySettings) -> None:
    rows = [("Accept the suggestion", keys.accept), ("Accept the next word", keys.accept_word),
            ("Dismiss", keys.dismiss), ("Next / previous alternative",
                                        f"{keys.next_alternative} / {keys.previous_alternative}"),
            ("Suggest now", keys.suggest_now), ("Retry: another suggestion here", keys.retry),
            ("Swap the accepted suggestion for another made there", keys.swap), ("Distraction-free mode", "F11"), ("Find / replace", "Ctrl+F / Ctrl+H")]
    text = "".join(f"<tr><td>{what}</td><td><b>{key}</b></td></tr>" for what, key in rows)
    QMessageBox.information(parent, "Keyboard shortcuts",
                            f"<table cellpadding=4>{text}</table><p>Typing the suggested characters "
                            "keeps the rest of the suggestion; typing anything else dismisses it.</p>"
                            "<p>All keys can be changed in Preferences.</p>")


def show_about(parent: QWidget, data_dir: Path) -> None:
    from cw_desktop import __version__

    QMessageBox.about(parent, f"About {APP_NAME}",
                      f"<b>{APP_NAME}</b> {__version__}<p>A local creative-writing assistant: inline suggestions "
                      "from a language model running on this computer, which you can fine-tune on your own "
                      f"manuscripts, offline.</p><p>Data folder: {data_dir}</p>")
