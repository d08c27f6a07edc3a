"""The open documents: tabs, opening and saving files, recent files, Memory, autosave and recovery.

The window hands it the tab widget and the Prompts object (every question to the writer goes
through it, so tests answer with scripted choices) and listens to its signals; it never reaches
back into the window. Saving and reloading with the file's own encoding, and noticing other
programs' changes, are in gui/document_safety.py; when recovery copies are written, in
gui/autosave.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QTabBar, QTabWidget, QToolButton

from cw_desktop.core.disk_stamp import DiskStamp, current_stamp
from cw_desktop.core.documents import (DocumentError, RecoveryEntry, RecoveryStore, editor_unsafe_characters,
                                      read_text_file, update_recent)
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.processes import pid_alive
from cw_desktop.core.settings import Settings
from cw_desktop.core.story_context import StoryContext
from cw_desktop.core.story_store import StoryStore
from cw_desktop.gui.autosave import AutosaveScheduler, RecoveryWriter
from cw_desktop.gui.document_safety import check_before_save, review_disk_changes, save_document
from cw_desktop.gui.document_tab import NO_RECOVERY_COPY, NOTHING_TO_RECOVER, DocumentTab
from cw_desktop.gui.prompts import broken_recovery_message

FILE_FILTER = "Text (*.txt *.md *.markdown *.text);;All files (*)"
MAX_AUTOSAVE_SECONDS = 30  # the promise: no keystroke older than this is ever lost


class DocumentsController(QObject):
    current_changed = Signal(object)  # the DocumentTab now in front, or None
    tab_created = Signal(object)  # a new DocumentTab, before its text is set: style its editor now
    tab_closing = Signal(object)  # a DocumentTab about to go: stop whatever still writes into it
    text_changed = Signal()  # the text of an open document changed
    title_changed = Signal(str, bool)  # the front document's title, whether it has unsaved changes
    notice = Signal(str, int)  # a status-bar message, how long to show it (ms)
    settings_changed = Signal()  # e.g. the recent files: the settings file should be saved
    autosaved = Signal(int)  # how many documents were copied to the recovery folder

    def __init__(self, tabs: QTabWidget, paths: AppPaths, settings: Settings, prompts: Any,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tabs = tabs  # also the parent of the file dialogs
        self.settings = settings
        self.prompts = prompts
        self.recovery = RecoveryStore(paths.recovery_dir)
        self.recovery_writer = RecoveryWriter(self.recovery, self)
        self.recovery_writer.batch_done.connect(self._on_recovery_written)
        self.stories = StoryStore.for_paths(paths)  # Memory, lorebook, author's note of loose documents
        self._disk_seen: dict[str, DiskStamp | None] = {}  # doc_id -> disk version already asked about
        self._checking_disk = False
        self._shut_down = False
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_scheduler = AutosaveScheduler(self)  # a couple of seconds after typing stops
        self.autosave_scheduler.due.connect(self.autosave)
        self.memory_timer = QTimer(self, singleShot=True, interval=800)
        self.memory_timer.timeout.connect(self.store_memory)
        tabs.tabCloseRequested.connect(lambda index: self.close_tab(self.tabs.widget(index)))
        tabs.currentChanged.connect(self._on_tab_changed)

    def apply_settings(self) -> None:
        seconds = max(1, min(MAX_AUTOSAVE_SECONDS, self.settings.editor.autosave_seconds))
        self.autosave_timer.start(seconds * 1000)

    # -- tabs ----------------------------------------------------------------------------------------
    def current_tab(self) -> DocumentTab | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, DocumentTab) else None

    def document_tabs(self) -> list[DocumentTab]:
        return [w for w in (self.tabs.widget(i) for i in range(self.tabs.count())) if isinstance(w, DocumentTab)]

    def new_document(self, text: str = "", title: str | None = None, memory: str = "") -> DocumentTab:
        tab = DocumentTab(self.settings.keys)
        used = {t.untitled_name for t in self.document_tabs() if t.path is None}
        if title:
            tab.untitled_name = title
        else:
            number = 1
            while (name := "Untitled" if number == 1 else f"Untitled {number}") in used:
                number += 1
            tab.untitled_name = name
        tab.memory = memory
        self.tab_created.emit(tab)
        if text:
            tab.editor.setPlainText(text)
        editor = tab.editor
        editor.document().modificationChanged.connect(lambda _m, t=tab: self.refresh_title(t))
        editor.textChanged.connect(self._on_text_changed)
        index = self.tabs.addTab(tab, tab.title)
        # A quiet "×" instead of the style's loud red close icon.
        close = QToolButton(text="×", autoRaise=True, objectName="tabClose")
        close.setToolTip("Close this document")
        close.clicked.connect(lambda _checked=False, t=tab: self.close_tab(t))
        self.tabs.tabBar().setTabButton(index, QTabBar.ButtonPosition.RightSide, close)
        self.tabs.setCurrentWidget(tab)
        editor.setFocus()
        return tab

    def close_tab(self, tab: DocumentTab | None) -> bool:
        if tab is None:
            return False
        if not self.settle(tab):
            return False
        self.tab_closing.emit(tab)
        self.recovery_writer.remove(tab.doc_id)
        self.tabs.removeTab(self.tabs.indexOf(tab))
        tab.deleteLater()
        if self.tabs.count() == 0:
            self.new_document()
        return True

    def settle(self, tab: DocumentTab) -> bool:
        """Ask about unsaved changes; True when the tab may go."""
        if not tab.is_modified():
            return True
        self.tabs.setCurrentWidget(tab)
        answer = self.prompts.unsaved_changes(tab.title)
        if answer == "save":
            return self.save(tab)
        return answer == "discard"

    def settle_all(self) -> bool:
        return all(self.settle(tab) for tab in self.document_tabs())

    def refresh_title(self, tab: DocumentTab) -> None:
        index = self.tabs.indexOf(tab)
        if index >= 0:
            self.tabs.setTabText(index, tab.title + (" •" if tab.is_modified() else ""))
            self.tabs.setTabToolTip(index, str(tab.path) if tab.path else "Not saved yet")
        current = self.current_tab()
        if current is not None:
            self.title_changed.emit(current.title, current.is_modified())

    def _on_tab_changed(self, _index: int = -1) -> None:
        tab = self.current_tab()
        self.current_changed.emit(tab)
        if tab is not None:
            self.refresh_title(tab)

    def _on_text_changed(self) -> None:
        self.text_changed.emit()
        self.autosave_scheduler.poke()

    # -- files ---------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = str(Path(self.settings.editor.recent_files[0]).parent) if self.settings.editor.recent_files else ""
        files, _ = QFileDialog.getOpenFileNames(self.tabs, "Open", start, FILE_FILTER)
        for file in files:
            self.open_path(Path(file))

    def open_path(self, path: Path) -> DocumentTab | None:
        path = Path(path).expanduser().resolve()
        for tab in self.document_tabs():
            if tab.path == path:
                self.tabs.setCurrentWidget(tab)
                return tab
        try:
            loaded = read_text_file(path)
        except DocumentError as exc:
            self.prompts.error("Cannot open", str(exc))
            return None
        unsafe = editor_unsafe_characters(loaded.text)
        tab = self._blank_or_new_tab()
        if unsafe:
            # The editor would turn these into line breaks, and a save would write them over the
            # file: open a copy instead, so the file itself can never be changed from here.
            tab.encoding, tab.untitled_name = loaded.encoding, f"{path.stem} (copy)"
            tab.editor.setPlainText(loaded.text)
            tab.editor.document().setModified(True)
            self.refresh_title(tab)
            self._on_tab_changed()
            self.prompts.error("Opened as a copy", f"“{path}” contains {unsafe} that the editor cannot keep "
                               "as they are: it would show and save each as a line break. It opened as an "
                               "untitled copy, so the file itself is never changed; save the copy under a new "
                               "name if you want to keep working on it.")
            return tab
        tab.path, tab.encoding, tab.disk_stamp = path, loaded.encoding, loaded.stamp
        tab.editor.setPlainText(loaded.text)
        tab.editor.document().setModified(False)
        stored = self.stories.load(path)
        tab.story = stored.story
        if stored.problems:
            self.prompts.error("Story notes problems", "\n".join(stored.problems))
        self.refresh_title(tab)
        self._on_tab_changed()
        self._add_recent(path)
        return tab

    def _blank_or_new_tab(self) -> DocumentTab:
        current = self.current_tab()
        return current if current is not None and current.is_blank() else self.new_document()

    def save(self, tab: DocumentTab | None = None) -> bool:
        tab = tab or self.current_tab()
        if tab is None:
            return False
        if tab.path is None:
            return self.save_as(tab)
        return self._write(tab, tab.path)

    def save_as(self, tab: DocumentTab | None = None) -> bool:
        tab = tab or self.current_tab()
        if tab is None:
            return False
        recent = self.settings.editor.recent_files
        if tab.path is not None:
            start = str(tab.path)
        elif recent:
            start = str(Path(recent[0]).parent / f"{tab.title}.txt")  # next to the last file worked on
        else:
            start = f"{tab.title}.txt"
        file, _ = QFileDialog.getSaveFileName(self.tabs, "Save as", start, FILE_FILTER)
        if not file:
            return False
        path = Path(file)
        if not path.suffix:
            path = path.with_suffix(".txt")
        return self._write(tab, path)

    def save_to(self, tab: DocumentTab, path: Path) -> bool:
        """Save without a dialog (scripting and tests)."""
        return self._write(tab, path)

    def _write(self, tab: DocumentTab, path: Path) -> bool:
        try:
            decision = check_before_save(tab, path, self.prompts)  # another program may have changed it
            if decision == "save_as":
                return self.save_as(tab)
            stamp = save_document(tab, path, self.prompts) if decision == "write" else None
        except DocumentError as exc:
            self.prompts.error("Not saved", str(exc))
            return False
        if stamp is None:
            return False  # cancelled, or the disk version was reloaded instead
        tab.path, tab.disk_stamp = Path(path).resolve(), stamp
        tab.editor.document().setModified(False)
        self.recovery_writer.remove(tab.doc_id)
        tab.recovered_revision = NO_RECOVERY_COPY
        if not tab.story.is_empty():
            self._store_story(tab)
        self._add_recent(tab.path)
        self.refresh_title(tab)
        self.notice.emit(f"Saved {tab.path}", 4000)
        return True

    def check_disk_changes(self) -> None:
        """Offer reload / keep mine / save as for each open file another program changed."""
        if self._checking_disk or self._shut_down:
            return
        self._checking_disk = True  # the question itself moves the focus
        try:
            for tab in review_disk_changes(self.document_tabs(), self.prompts, self.tabs.setCurrentWidget,
                                           self._disk_seen):
                self.save_as(tab)
        except DocumentError as exc:
            self.prompts.error("Cannot reload", str(exc))
        finally:
            self._checking_disk = False

    # -- recent files --------------------------------------------------------------------------------
    def _add_recent(self, path: Path) -> None:
        self.settings.editor.recent_files = update_recent(self.settings.editor.recent_files, path)
        self.settings_changed.emit()

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = [p for p in self.settings.editor.recent_files if Path(p).exists()]
        for file in recent:
            menu.addAction(file, lambda f=file: self.open_path(Path(f)))
        if not recent:
            menu.addAction("(no recent files)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list", self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.editor.recent_files = []
        self.settings_changed.emit()

    # -- Memory (style notes and characters, kept per document) -------------------------------------
    def current_memory(self) -> str:
        tab = self.current_tab()
        return tab.memory if tab else ""

    def set_memory(self, text: str) -> None:
        """The writer edited the front document's Memory."""
        tab = self.current_tab()
        if tab is None:
            return
        tab.memory = text
        self.story_edited()

    def story_edited(self) -> None:
        """The front document's story (Memory, lorebook, author's note) was edited in place."""
        tab = self.current_tab()
        if tab is None:
            return
        tab.recovered_revision = NO_RECOVERY_COPY  # the recovery copy carries the story too
        self.memory_timer.start()
        self.autosave_scheduler.poke()

    def store_memory(self) -> None:
        """Write every saved document's story to the app-data store."""
        for tab in self.document_tabs():
            if tab.path is not None:
                self._store_story(tab)

    def _store_story(self, tab: DocumentTab) -> None:
        try:
            self.stories.save(tab.path, tab.story)
        except OSError as exc:
            self.notice.emit(f"Memory and lorebook of {tab.title} not saved: {exc.strerror or exc}", 6000)

    # -- autosave and recovery -----------------------------------------------------------------------
    def autosave(self) -> int:
        """Copy every document with unsaved changes to the recovery folder; returns how many.

        `autosaved` is emitted once the copies are on disk (later, when written in the background).
        """
        if self._shut_down:
            return 0
        self.autosave_scheduler.stop()
        entries = []
        for tab in self.document_tabs():
            document = tab.editor.document()
            if not document.isModified() and not (tab.path is None and not tab.story.is_empty()):
                if tab.recovered_revision != NOTHING_TO_RECOVER:
                    self.recovery_writer.remove(tab.doc_id)
                    tab.recovered_revision = NOTHING_TO_RECOVER
                continue
            if tab.recovered_revision == document.revision():
                continue
            entries.append(tab.recovery_entry())
            tab.recovered_revision = document.revision()
        self.recovery_writer.write_batch(entries)
        return len(entries)

    def _on_recovery_written(self, written: int, errors: dict) -> None:
        for tab in self.document_tabs():
            if tab.doc_id in errors:
                tab.recovered_revision = NO_RECOVERY_COPY  # try again next time
        if errors:
            self.notice.emit(f"Autosave failed: {next(iter(errors.values()))}", 8000)
        self.autosaved.emit(written)

    def remove_recovery_copies(self) -> None:
        """A clean exit: nothing to recover next time."""
        for tab in self.document_tabs():
            self.recovery_writer.remove(tab.doc_id)

    def restore_from_crash(self, is_alive: Callable[[int], bool] = pid_alive) -> list[DocumentTab]:
        broken = self.recovery.set_aside_broken()  # one damaged copy must not hide the others
        if broken:
            self.prompts.error("Damaged recovery copies", broken_recovery_message(broken))
        entries = self.recovery.orphaned(is_alive)
        if not entries:
            return []
        chosen = self.prompts.recover(entries)
        if chosen is None:
            return []
        restored = []
        for entry in chosen:
            restored.append(self._restore(entry))
        for entry in entries:
            self.recovery.remove(entry.doc_id)
        self.autosave()  # the restored text is protected again right away, under this session
        return restored

    def _restore(self, entry: RecoveryEntry) -> DocumentTab:
        tab = self._blank_or_new_tab()
        if entry.path:
            tab.path = Path(entry.path)
            try:
                on_disk = read_text_file(tab.path)
                tab.encoding = on_disk.encoding
            except DocumentError:
                pass  # the file is gone or unreadable: the recovered text is all there is
            # The version the lost session knew: a later change by another program is still noticed.
            tab.disk_stamp = entry.disk_stamp or current_stamp(tab.path)
        else:
            tab.untitled_name = entry.title
        tab.story = StoryContext.from_dict(entry.story)[0] if entry.story else StoryContext()
        tab.memory = entry.memory
        tab.editor.setPlainText(entry.text)
        tab.editor.document().setModified(True)  # recovered text is not on disk yet
        self.refresh_title(tab)
        self._on_tab_changed()
        return tab

    def shut_down(self) -> None:
        """No more copies: the timers stop, and the copies still being written land first."""
        self._shut_down = True
        self.autosave_timer.stop()
        self.autosave_scheduler.stop()
        self.recovery_writer.close()
