"""Suggest ▸ Lorebook…: the story's world-info entries, edited as a table.

Each row is one entry: on/off, name, keys (comma-separated), priority, regex, and its text (edited
in the box below the table, for the selected row). What would keep an entry from working is said
under the table as the writer types; a key that is not a valid regular expression keeps OK
disabled, since such an entry could never fire.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFormLayout, QHeaderView, QLabel,
                               QPlainTextEdit, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from cw_desktop.core.story_context import MAX_PRIORITY, MAX_SCAN_CHARS, MIN_SCAN_CHARS, LoreEntry, entry_problems, \
    split_keys
from cw_desktop.dialogs.widgets import button, button_row

COLUMNS = ["On", "Name", "Keys (comma-separated)", "Priority", "Regex", "Text"]
ON, NAME, KEYS, PRIORITY, REGEX, TEXT = range(len(COLUMNS))


class LorebookDialog(QDialog):
    def __init__(self, entries: list[LoreEntry], scan_chars: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Lorebook")
        self.resize(820, 560)
        self._texts: list[str] = []  # each row's full text (the Text column shows its first line)
        self._filling = False

        intro = QLabel("An entry goes in front of your draft while one of its keys appears near the cursor "
                       "(whole words, any case). Higher priority goes first and is kept longest when "
                       "the model's window is full.")
        intro.setWordWrap(True)
        intro.setProperty("muted", True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        for column in (ON, PRIORITY, REGEX):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TEXT, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(NAME, 140)
        self.table.setColumnWidth(KEYS, 200)
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("What the model should know while this entry is active, e.g. "
                                     "“Mara Quell: the harbour master, fifty, blunt, afraid of deep water.”")
        self.text.setMaximumHeight(120)
        self.text.setEnabled(False)
        self.scan_chars = QSpinBox(minimum=MIN_SCAN_CHARS, maximum=MAX_SCAN_CHARS, singleStep=500,
                                   suffix=" characters")
        self.scan_chars.setValue(scan_chars)
        self.scan_chars.setToolTip("How far back from the cursor the keys are looked for")
        self.scan_chars.setMaximumWidth(200)
        self.messages = QLabel()
        self.messages.setWordWrap(True)
        self.messages.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.remove_button = button("Remove", self.remove_selected)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(QLabel("Text of the selected entry"))
        layout.addWidget(self.text)
        form = QFormLayout()
        form.addRow("Look for keys in the last", self.scan_chars)
        layout.addLayout(form)
        layout.addWidget(self.messages)
        layout.addLayout(button_row([button("Add entry", self.add_entry), self.remove_button], [self.buttons]))

        for entry in entries:
            self._append_row(entry)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.text.textChanged.connect(self._on_text_edited)
        if entries:
            self.table.selectRow(0)
        self._on_selection()
        self.validate()

    # -- rows ----------------------------------------------------------------------------------------
    def _append_row(self, entry: LoreEntry) -> None:
        self._filling = True
        row = self.table.rowCount()
        self.table.insertRow(row)
        self._texts.append(entry.text)
        for column, checked in ((ON, entry.enabled), (REGEX, entry.regex)):
            item = QTableWidgetItem()
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.table.setItem(row, column, item)
        self.table.setItem(row, NAME, QTableWidgetItem(entry.name))
        self.table.setItem(row, KEYS, QTableWidgetItem(", ".join(entry.keys)))
        priority = QTableWidgetItem()
        priority.setData(Qt.ItemDataRole.EditRole, int(entry.priority))  # edited with a spin box
        self.table.setItem(row, PRIORITY, priority)
        preview = QTableWidgetItem()
        preview.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        self.table.setItem(row, TEXT, preview)
        self._show_text_preview(row)
        self._filling = False

    def _show_text_preview(self, row: int) -> None:
        text = self._texts[row]
        item = self.table.item(row, TEXT)
        item.setText(" ".join(text.split())[:200])
        item.setToolTip(text)

    def add_entry(self) -> None:
        self._append_row(LoreEntry(name=f"Entry {self.table.rowCount() + 1}", keys=[], text=""))
        row = self.table.rowCount() - 1
        self.table.selectRow(row)
        self.table.editItem(self.table.item(row, KEYS))
        self.validate()

    def remove_selected(self) -> None:
        row = self._selected_row()
        if row is None:
            return
        self.table.removeRow(row)
        del self._texts[row]
        self._on_selection()
        self.validate()

    def _selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _on_selection(self) -> None:
        row = self._selected_row()
        self.text.blockSignals(True)
        self.text.setPlainText(self._texts[row] if row is not None else "")
        self.text.blockSignals(False)
        self.text.setEnabled(row is not None)
        self.remove_button.setEnabled(row is not None)

    def _on_text_edited(self) -> None:
        row = self._selected_row()
        if row is not None:
            self._texts[row] = self.text.toPlainText()
            self._show_text_preview(row)
            self.validate()

    def _on_item_changed(self, _item: QTableWidgetItem) -> None:
        if not self._filling:
            self.validate()

    # -- result --------------------------------------------------------------------------------------
    def entries(self) -> list[LoreEntry]:
        result = []
        for row in range(self.table.rowCount()):
            priority = self.table.item(row, PRIORITY).data(Qt.ItemDataRole.EditRole)
            try:
                priority = max(-MAX_PRIORITY, min(MAX_PRIORITY, int(priority)))
            except (TypeError, ValueError):
                priority = 0
            result.append(LoreEntry(
                name=self.table.item(row, NAME).text().strip(), keys=split_keys(self.table.item(row, KEYS).text()),
                text=self._texts[row].strip(), priority=priority,
                enabled=self.table.item(row, ON).checkState() == Qt.CheckState.Checked,
                regex=self.table.item(row, REGEX).checkState() == Qt.CheckState.Checked))
        return result

    def validate(self) -> list[str]:
        """Show what is wrong with the entries; OK only while every regex key compiles."""
        problems = []
        names: set[str] = set()
        for entry in self.entries():
            if not entry.name:
                problems.append("An entry has no name (the window gauge names the entries it leaves out)")
            problems += entry_problems(entry)
            if entry.name and entry.name.casefold() in names:
                problems.append(f"{entry.name}: another entry has the same name (the window gauge would not "
                                "tell them apart)")
            names.add(entry.name.casefold())
        blocking = any("regular expression" in problem for problem in problems)
        self.messages.setText("\n".join(f"• {problem}" for problem in problems) if problems else
                              "Every entry can fire.")
        self.messages.setProperty("muted", not blocking)
        self.messages.setStyleSheet("color: #c0392b;" if blocking else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not blocking)
        return problems
