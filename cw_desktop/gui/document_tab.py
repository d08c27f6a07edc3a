"""One open document: its editor plus what the window needs to save, recover and label it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QVBoxLayout, QWidget

from cw_desktop.core.disk_stamp import DiskStamp
from cw_desktop.core.documents import RecoveryEntry
from cw_desktop.core.settings import KeySettings
from cw_desktop.core.story_context import StoryContext
from cw_desktop.core.text_encoding import UTF8, TextEncoding
from cw_desktop.gui.editor import GhostTextEditor


# DocumentTab.recovered_revision values that are not a document revision (revisions are >= 0).
NO_RECOVERY_COPY = -1  # no up-to-date recovery copy: the next autosave writes one
NOTHING_TO_RECOVER = -2  # the file on disk is current and its recovery copy was removed


class DocumentTab(QWidget):
    def __init__(self, keys: KeySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = GhostTextEditor(keys, self)
        self.doc_id = RecoveryEntry.new_id()
        self.path: Path | None = None
        self.encoding: TextEncoding = UTF8  # codec, BOM and line endings of the file, kept on save
        # The file as last read or saved here: a difference means another program changed it.
        self.disk_stamp: DiskStamp | None = None
        self.story = StoryContext()  # Memory, lorebook, author's note (a project's document uses the project's)
        self.untitled_name = "Untitled"
        # document().revision() at the last recovery copy (unchanged: nothing new to protect), or
        # NO_RECOVERY_COPY / NOTHING_TO_RECOVER.
        self.recovered_revision = NO_RECOVERY_COPY
        self.writing_request: int | None = None  # set while the model streams a draft into this tab
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor)

    @property
    def memory(self) -> str:
        return self.story.memory

    @memory.setter
    def memory(self, text: str) -> None:
        self.story.memory = text

    @property
    def title(self) -> str:
        return self.path.name if self.path else self.untitled_name

    def is_modified(self) -> bool:
        return self.editor.document().isModified()

    def is_blank(self) -> bool:
        """An untouched new document: opening a file may reuse its tab."""
        return self.path is None and not self.is_modified() and not self.editor.toPlainText() and \
            self.writing_request is None

    def text(self) -> str:
        """The document as saved: never includes the ghost suggestion (it lives outside the document).

        Not toPlainText(): that turns every no-break space into a plain space, silently changing
        a French manuscript's « guillemets » spacing on save.
        """
        return self.editor.document().toRawText().replace("\u2029", "\n")

    def recovery_entry(self) -> RecoveryEntry:
        return RecoveryEntry(doc_id=self.doc_id, title=self.title, text=self.text(),
                             path=str(self.path) if self.path else None, memory=self.memory,
                             disk_stamp=self.disk_stamp if self.path else None,
                             story=None if self.story.is_empty() else self.story.to_dict())
