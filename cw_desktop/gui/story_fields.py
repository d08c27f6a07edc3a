"""The side panel's story fields below Memory: the author's note, its depth, and the lorebook button.

Shows the front document's story (StoryController) and reports the writer's edits as signals; it
keeps no story of its own.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget

from cw_desktop.core.story_context import MAX_NOTE_DEPTH, StoryContext


class StoryFields(QWidget):
    note_changed = Signal(str)
    depth_changed = Signal(int)
    lorebook_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = QLineEdit()
        self.note.setPlaceholderText("[Style: terse, present tense]")
        self.note.setToolTip("Author's note: a short instruction put a few paragraphs before the cursor, "
                             "where the model heeds it most; it never appears in your text")
        self.depth = QSpinBox(minimum=1, maximum=MAX_NOTE_DEPTH)
        self.depth.setToolTip("How many paragraphs before the cursor the note goes (1: just before the "
                              "paragraph you are writing)")
        self.depth.setSuffix(" paragraphs back")
        self.lorebook = QPushButton("Lorebook…")
        self.lorebook.setToolTip("Entries about characters, places and things, put in front of the draft "
                                 "while their names appear near the cursor")

        depth_row = QHBoxLayout()
        depth_row.addWidget(self.depth, 1)
        depth_row.addWidget(self.lorebook)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Author's note"))
        layout.addWidget(self.note)
        layout.addLayout(depth_row)

        self.note.textChanged.connect(self.note_changed)
        self.depth.valueChanged.connect(self.depth_changed)
        self.lorebook.clicked.connect(lambda _checked=False: self.lorebook_requested.emit())

    def show_story(self, story: StoryContext) -> None:
        """Show another story without reporting it as an edit."""
        for widget in (self.note, self.depth):
            widget.blockSignals(True)
        self.note.setText(story.authors_note)
        self.depth.setValue(story.authors_note_depth)
        for widget in (self.note, self.depth):
            widget.blockSignals(False)
        self.show_lorebook_size(story)

    def show_lorebook_size(self, story: StoryContext) -> None:
        enabled = sum(1 for entry in story.lorebook if entry.enabled)
        self.lorebook.setText(f"Lorebook ({enabled})…" if story.lorebook else "Lorebook…")
