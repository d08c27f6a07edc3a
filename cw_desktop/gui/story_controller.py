"""The story context of the document in front: Memory, lorebook and author's note.

Where it lives depends on the document. A loose document keeps its own StoryContext on its tab
(the documents controller reads and writes it in the app-data store, core/story_store.py); a
document of a project shares the project's, reached through `use_storage(load, save)` (the
projects controller calls it when such a document comes to the front, and `use_storage(None)`
when a loose one does). Every edit goes through here, so the suggestion requests, the window gauge
and the side panel always see the same story.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QDialog, QWidget

from cw_desktop.core.story_context import LoreEntry, StoryContext
from cw_desktop.dialogs.lorebook import LorebookDialog

SAVE_DELAY_MS = 800  # a project's story is written once typing in the note or Memory pauses


class StoryController(QObject):
    changed = Signal()  # current() is another story, or the writer edited it
    switched = Signal()  # current() is another story: the panel shows it afresh
    loose_edited = Signal()  # the front loose document's story was edited: its owner stores it
    notice = Signal(str, int)  # a status-bar message, how long to show it (ms)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loose: StoryContext | None = None  # the front loose document's story (its tab's object)
        self._project: StoryContext | None = None
        self._save: Callable[[StoryContext], None] | None = None
        self._unsaved = False  # the project's story was edited since it was last written
        self.save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self.save_timer.timeout.connect(self.flush)

    def current(self) -> StoryContext:
        """The story suggestions use now (the live object: edit it through this controller)."""
        if self._project is not None:
            return self._project
        if self._loose is None:
            self._loose = StoryContext()  # no document: edits still show until one opens
        return self._loose

    def show_loose(self, story: StoryContext | None) -> None:
        """The loose document now in front (its tab's StoryContext), or None."""
        self._loose = story
        if self._project is None:
            self.switched.emit()
            self.changed.emit()

    def use_storage(self, load: Callable[[], StoryContext] | None,
                    save: Callable[[StoryContext], None] | None = None) -> None:
        """Take the story from `load()` and write edits with `save` (a project's file); None: back to
        the front loose document's own story."""
        self.flush()  # the previous project's pending edits land in the previous project
        self._project = load() if load is not None else None
        self._save = save if load is not None else None
        self._unsaved = False
        self.switched.emit()
        self.changed.emit()

    # -- edits ---------------------------------------------------------------------------------------
    def set_memory(self, text: str) -> None:
        self._edit(memory=text)

    def set_authors_note(self, text: str) -> None:
        self._edit(authors_note=text)

    def set_authors_note_depth(self, depth: int) -> None:
        self._edit(authors_note_depth=int(depth))

    def set_lorebook(self, entries: list[LoreEntry], scan_chars: int | None = None) -> None:
        changes: dict[str, object] = {"lorebook": copy.deepcopy(entries)}
        if scan_chars is not None:
            changes["scan_chars"] = int(scan_chars)
        self._edit(**changes)

    def _edit(self, **changes: object) -> None:
        story = self.current()
        if all(getattr(story, name) == value for name, value in changes.items()):
            return
        for name, value in changes.items():
            setattr(story, name, value)
        if self._project is not None:
            self._unsaved = True
            self.save_timer.start()
        else:
            self.loose_edited.emit()
        self.changed.emit()

    def flush(self) -> None:
        """Write a project's pending edit now (a switch, or the window closing)."""
        self.save_timer.stop()
        if self._project is None or self._save is None or not self._unsaved:
            return
        try:
            self._save(self._project)
            self._unsaved = False
        except (OSError, ValueError) as exc:
            self.notice.emit(f"The story notes were not saved (kept open, tried again on the next edit): {exc}", 8000)

    def edit_lorebook(self, parent: QWidget | None = None) -> bool:
        """Open the lorebook of the current story; True when the writer kept their edits."""
        story = self.current()
        dialog = LorebookDialog(story.lorebook, story.scan_chars, parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            self.set_lorebook(dialog.entries(), dialog.scan_chars.value())
            return True
        finally:
            dialog.deleteLater()
