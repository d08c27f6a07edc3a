"""The project dock: the chapters in reading order with their word counts, the session target, and
a find over every chapter. It only shows and asks; gui/project_controller.py does the work."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QProgressBar, QSpinBox, QToolButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from cw_desktop.core.project_search import Match

PATH_ROLE = Qt.ItemDataRole.UserRole


class ChapterTree(QTreeWidget):
    """A flat list of chapters the writer can reorder by dragging (dropping never nests one in another)."""

    reordered = Signal(list)  # the relative paths in their new order

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Chapter", "Words"])
        self.setRootIsDecorated(False)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setStretchLastSection(False)

    def order(self) -> list[str]:
        return [self.topLevelItem(i).data(0, PATH_ROLE) for i in range(self.topLevelItemCount())]

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        before = self.order()
        super().dropEvent(event)
        if self.order() != before:
            self.reordered.emit(self.order())


class ProjectPanel(QWidget):
    chapter_activated = Signal(str)  # open this chapter
    new_requested = Signal()
    rename_requested = Signal(str)
    delete_requested = Signal(str)
    move_requested = Signal(str, int)  # chapter, -1 up / +1 down
    order_changed = Signal(list)
    find_requested = Signal(str)
    result_activated = Signal(int)  # index into the last results shown
    target_changed = Signal(int)  # words for this session; 0 = no target

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No project open: File ▸ Open Project…", wordWrap=True)
        self.tree = ChapterTree()
        self.tree.itemActivated.connect(lambda item, _column: self.chapter_activated.emit(item.data(0, PATH_ROLE)))
        self.tree.reordered.connect(self.order_changed)
        buttons = QHBoxLayout()
        self.new_button = self._button(buttons, "New", "A new chapter after the selected one",
                                       self.new_requested.emit)
        self.rename_button = self._button(buttons, "Rename", "Rename the chapter's file", self._emit_for_current(
            self.rename_requested.emit))
        self.up_button = self._button(buttons, "↑", "Move the chapter up", self._emit_for_current(
            lambda path: self.move_requested.emit(path, -1)))
        self.down_button = self._button(buttons, "↓", "Move the chapter down", self._emit_for_current(
            lambda path: self.move_requested.emit(path, 1)))
        buttons.addStretch(1)
        self.delete_button = self._button(buttons, "Delete…", "Move the chapter's file to the project's "
                                          "deleted folder (.cw_project/deleted)", self._emit_for_current(
                                              self.delete_requested.emit))
        self.total = QLabel()
        self.session = QLabel()
        self.session_bar = QProgressBar(textVisible=False, maximumHeight=6, maximum=1000)
        self.target = QSpinBox(minimum=0, maximum=1_000_000, singleStep=100, specialValueText="no target",
                               suffix=" words", keyboardTracking=False)
        self.target.setToolTip("Words to write in this session")
        self.target.valueChanged.connect(self._on_target)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Session target"))
        target_row.addWidget(self.target, 1)
        self.find_edit = QLineEdit(placeholderText="Find in all chapters", clearButtonEnabled=True)
        self.find_edit.returnPressed.connect(lambda: self.find_requested.emit(self.find_edit.text()))
        self.results = QListWidget(textElideMode=Qt.TextElideMode.ElideRight)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.itemActivated.connect(lambda item: self.result_activated.emit(item.data(PATH_ROLE)))
        self.results_label = QLabel()
        self.results_label.setProperty("muted", True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.tree, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.total)
        layout.addWidget(self.session)
        layout.addWidget(self.session_bar)
        layout.addLayout(target_row)
        layout.addWidget(self.find_edit)
        layout.addWidget(self.results_label)
        layout.addWidget(self.results, 2)
        self.results.hide()  # an empty box under the tree until a search finds something
        self._showing_target = False
        self.show_project(None, [])

    def _button(self, row: QHBoxLayout, text: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(text=text, autoRaise=True)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        row.addWidget(button)
        return button

    def _emit_for_current(self, emit: Any) -> Any:
        def slot() -> None:
            chapter = self.current_chapter()
            if chapter is not None:
                emit(chapter)
        return slot

    # -- what the controller shows ---------------------------------------------------------------
    def show_project(self, title: str | None, chapters: list[tuple[str, str]], target: int = 0) -> None:
        """`chapters`: (relative path, why it cannot be opened or "")."""
        selected = self.current_chapter()
        self.title.setText(f"<b>{title}</b>" if title else "No project open: File ▸ Open Project…")
        self.tree.clear()
        for relative, missing in chapters:
            item = QTreeWidgetItem([relative, ""])
            item.setData(0, PATH_ROLE, relative)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDropEnabled)  # drop between, never into
            if missing:
                item.setText(0, f"{relative} (missing)")
                item.setToolTip(0, missing)
                item.setForeground(0, self.palette().placeholderText())
            self.tree.addTopLevelItem(item)
        for widget in (self.tree, self.new_button, self.rename_button, self.up_button, self.down_button,
                       self.delete_button, self.target, self.find_edit):
            widget.setEnabled(title is not None)
        self._showing_target = True  # setting the box is not the writer changing the target
        self.target.setValue(target)
        self._showing_target = False
        if selected:
            self.select_chapter(selected)
        if title is None:
            self.total.clear()
            self.session.clear()
            self.results.clear()
            self.results.hide()
            self.results_label.clear()

    def show_counts(self, counts: dict[str, int | None], total: int) -> None:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            words = counts.get(item.data(0, PATH_ROLE))
            item.setText(1, "—" if words is None else f"{words:,}")
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.total.setText(f"Total: {total:,} words in {len(counts)} chapters")

    def show_session(self, summary: str, progress: float) -> None:
        self.session.setText(summary)
        self.session_bar.setValue(round(progress * 1000))
        self.session_bar.setVisible(self.target.value() > 0)

    def show_results(self, needle: str, matches: list[Match], limited: bool) -> None:
        self.results.clear()
        for index, match in enumerate(matches):
            item = QListWidgetItem(f"{match.chapter}:{match.line}  {match.snippet}")
            item.setData(PATH_ROLE, index)
            item.setToolTip(f"{match.chapter}, line {match.line}: {match.snippet}")
            self.results.addItem(item)
        self.results.setVisible(bool(matches))
        chapters = len({match.chapter for match in matches})
        more = " (the first ones)" if limited else ""
        self.results_label.setText(f"“{needle}”: {len(matches):,} found in {chapters} chapter"
                                   f"{'' if chapters == 1 else 's'}{more}" if matches else f"“{needle}”: not found")

    def current_chapter(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, PATH_ROLE) if item is not None else None

    def select_chapter(self, relative: str | None) -> None:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item.data(0, PATH_ROLE) == relative:
                self.tree.setCurrentItem(item)
                return

    def _on_target(self, value: int) -> None:
        if not self._showing_target:
            self.target_changed.emit(value)
