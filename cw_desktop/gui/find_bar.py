"""Find / replace bar under the editor (Ctrl+F, Ctrl+H), like most editors have."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor, QTextDocument
from PySide6.QtWidgets import (QCheckBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QToolButton, QWidget)


class FindBar(QFrame):
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        self.editor: QPlainTextEdit | None = None
        self.find_edit = QLineEdit(placeholderText="Find")
        self.replace_edit = QLineEdit(placeholderText="Replace with")
        self.case = QCheckBox("Match case")
        self.whole = QCheckBox("Whole words")
        self.status = QLabel()
        self.status.setProperty("muted", True)
        previous_button = QPushButton("Previous")
        next_button = QPushButton("Next")
        self.replace_button = QPushButton("Replace")
        self.replace_all_button = QPushButton("Replace all")
        close_button = QToolButton(text="✕", autoRaise=True)
        close_button.setToolTip("Close (Esc)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        for widget in (self.find_edit, previous_button, next_button, self.replace_edit, self.replace_button,
                       self.replace_all_button, self.case, self.whole, self.status):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(close_button)
        self.find_edit.returnPressed.connect(self.find_next)
        self.find_edit.textChanged.connect(lambda: self.status.clear())
        next_button.clicked.connect(self.find_next)
        previous_button.clicked.connect(self.find_previous)
        self.replace_button.clicked.connect(self.replace_one)
        self.replace_all_button.clicked.connect(self.replace_all)
        close_button.clicked.connect(self.close_bar)

    def open_for(self, editor: QPlainTextEdit, replace: bool) -> None:
        self.editor = editor
        for widget in (self.replace_edit, self.replace_button, self.replace_all_button):
            widget.setVisible(replace)
        selected = editor.textCursor().selectedText()
        if selected and "\u2029" not in selected:
            self.find_edit.setText(selected)
        self.show()
        self.find_edit.setFocus()
        self.find_edit.selectAll()

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.close_bar()
            return
        super().keyPressEvent(event)

    def _flags(self, backward: bool = False) -> QTextDocument.FindFlag:
        flags = QTextDocument.FindFlag(0)
        if self.case.isChecked():
            flags |= QTextDocument.FindFlag.FindCaseSensitively
        if self.whole.isChecked():
            flags |= QTextDocument.FindFlag.FindWholeWords
        if backward:
            flags |= QTextDocument.FindFlag.FindBackward
        return flags

    def find_next(self) -> bool:
        return self._find(backward=False)

    def find_previous(self) -> bool:
        return self._find(backward=True)

    def _find(self, backward: bool) -> bool:
        needle = self.find_edit.text()
        if self.editor is None or not needle:
            return False
        if self.editor.find(needle, self._flags(backward)):
            self.status.clear()
            return True
        # Wrap around once, like every editor, and say so.
        cursor = self.editor.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start)
        self.editor.setTextCursor(cursor)
        found = self.editor.find(needle, self._flags(backward))
        self.status.setText("Wrapped around" if found else "Not found")
        return found

    def _selection_matches(self) -> bool:
        assert self.editor is not None
        selected = self.editor.textCursor().selectedText()
        needle = self.find_edit.text()
        return selected == needle if self.case.isChecked() else selected.lower() == needle.lower()

    def replace_one(self) -> None:
        if self.editor is None or not self.find_edit.text():
            return
        if self.editor.textCursor().hasSelection() and self._selection_matches():
            self.editor.textCursor().insertText(self.replace_edit.text())
        self.find_next()

    def replace_all(self) -> int:
        if self.editor is None or not self.find_edit.text():
            return 0
        document = self.editor.document()
        needle, replacement = self.find_edit.text(), self.replace_edit.text()
        count = 0
        edit = QTextCursor(document)
        edit.beginEditBlock()  # one undo step for the whole replacement
        found = document.find(needle, 0, self._flags())
        while not found.isNull():
            found.insertText(replacement)
            count += 1
            found = document.find(needle, found.position(), self._flags())
        edit.endEditBlock()
        self.status.setText(f"Replaced {count}")
        return count
