"""The open project: its panel, its chapters opened as ordinary document tabs, find, counts, export.

Chapters open, save and autosave through DocumentsController like any file; this controller only
adds what a folder of chapters needs. The project file's rules (order, validation, never losing a
chapter) are in core/project.py; the panel (gui/project_panel.py) only shows and asks. Questions
to the writer go through the documents' Prompts (tests script them), plus `ask_text` and
`choose_export_file`, which tests replace.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QWidget

from cw_desktop.core.documents import DocumentError, count_words, update_recent
from cw_desktop.core.export import FORMAT_NAMES, ExportChapter, chapter_from_file, format_of
from cw_desktop.core.project import Project, ProjectError
from cw_desktop.core.project_search import MAX_MATCHES, Match, WritingSession, find_in_chapters, utf16_position
from cw_desktop.core.settings import Settings
from cw_desktop.core.story_context import StoryContext
from cw_desktop.dialogs import questions
from cw_desktop.gui.document_tab import DocumentTab
from cw_desktop.gui.documents_controller import DocumentsController
from cw_desktop.gui.project_panel import ProjectPanel
from cw_desktop.workers.project_export_worker import ProjectExportWorker
from cw_desktop.workers.threads import start_owned, stop_worker

COUNT_DELAY_MS = 400  # recount this long after typing stops


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    value, accepted = QInputDialog.getText(parent, title, label, text=text)
    return value if accepted else None


def choose_export_file(parent: QWidget, title: str, start: str) -> str:
    filters = ";;".join(FORMAT_NAMES[fmt] for fmt in ("docx", "odt", "epub", "md"))
    file, chosen_filter = QFileDialog.getSaveFileName(parent, title, start, filters)
    if file and format_of(file) is None:  # no suffix typed: the one of the chosen filter
        suffix = chosen_filter.rsplit("*", 1)[-1].rstrip(")")
        file += suffix
    return file


class ProjectController(QObject):
    project_changed = Signal(object)  # the Project now open, or None
    session_changed = Signal(str)  # the session's words against its target, for the status bar
    notice = Signal(str, int)  # a status-bar message, how long to show it (ms)
    settings_changed = Signal()  # the recent projects changed: save the settings
    exported = Signal(str)  # the file an export wrote

    def __init__(self, panel: ProjectPanel, documents: DocumentsController, settings: Settings,
                 parent: QObject | None = None, story: Any = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.documents = documents
        self.settings = settings
        self.project: Project | None = None
        self.session = WritingSession(0)
        self.matches: list[Match] = []
        self.story_controller: Any = story  # gui/story_controller.py StoryController: use_storage(load, save)
        self.ask_text: Callable[[QWidget, str, str, str], str | None] = ask_text
        self.choose_export_file: Callable[[QWidget, str, str], str] = choose_export_file
        self._disk_counts: dict[str, tuple[tuple[int, int], int | None]] = {}  # chapter -> (mtime, size), words
        self._export_worker: ProjectExportWorker | None = None
        self._export_thread: QThread | None = None
        self.count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self.count_timer.timeout.connect(self.refresh_counts)
        panel.chapter_activated.connect(self.open_chapter)
        panel.new_requested.connect(self.new_chapter)
        panel.rename_requested.connect(self.rename_chapter)
        panel.delete_requested.connect(self.delete_chapter)
        panel.move_requested.connect(self.move_chapter)
        panel.order_changed.connect(self.set_order)
        panel.find_requested.connect(self.find)
        panel.result_activated.connect(self.open_match)
        panel.target_changed.connect(self.set_target)
        documents.text_changed.connect(self.count_timer.start)
        documents.current_changed.connect(self._on_current_document)

    @property
    def prompts(self) -> Any:
        return self.documents.prompts

    @property
    def _parent_widget(self) -> QWidget:
        return self.panel.window()

    # -- opening and closing -------------------------------------------------------------------------
    def open_dialog(self) -> None:
        recent = self.settings.editor.recent_projects
        folder = questions.choose_folder(self._parent_widget, recent[0] if recent else "",
                                         "Open a folder of chapters as a project")
        if folder:
            self.open_project(Path(folder))

    def new_dialog(self) -> None:
        recent = self.settings.editor.recent_projects
        folder = questions.choose_folder(self._parent_widget, str(Path(recent[0]).parent) if recent else "",
                                         "Choose or create the folder for the new project")
        if folder and self.open_project(Path(folder), create=True) and not self.project.chapters:
            self.new_chapter(name="Chapter 1")

    def open_project(self, folder: Path, create: bool = False) -> Project | None:
        if self.story_controller is not None:
            # A story edit still waiting to be written must reach the file before it is read again
            # (reopening the same project would otherwise load the older story and later save over it).
            self.story_controller.flush()
        try:
            project = Project.open(folder, create=create)
        except ProjectError as exc:
            self.prompts.error("Cannot open the project", str(exc))
            return None
        self.project = project
        self._disk_counts.clear()
        self.matches = []
        if project.problems:
            shown = "\n".join(f"• {problem}" for problem in project.problems[:10])
            more = f"\n… and {len(project.problems) - 10} more" if len(project.problems) > 10 else ""
            self.prompts.error("Project problems", f"{shown}{more}\n\nNo chapter was changed or removed.")
        self._save(quiet=True)  # records the chapters found on disk (a bad file was copied aside first)
        self.settings.editor.recent_projects = update_recent(self.settings.editor.recent_projects, project.folder)
        self.settings.editor.open_project = str(project.folder)
        self.settings_changed.emit()
        self._show_tree()
        self.session = WritingSession(self.total_words(), project.session_target)
        self.refresh_counts()
        self._dock_raise()
        self.project_changed.emit(project)
        self._on_current_document(self.documents.current_tab())
        return project

    def reopen_last(self) -> None:
        """At start: the project that was open when the editor closed, if its folder is still there."""
        folder = self.settings.editor.open_project
        if folder and Path(folder).is_dir():
            self.open_project(Path(folder))

    def close_project(self) -> None:
        self.project = None
        self.settings.editor.open_project = ""
        self.settings_changed.emit()
        self.matches = []
        self.panel.show_project(None, [])
        self.session_changed.emit("")
        self.project_changed.emit(None)
        self._on_current_document(self.documents.current_tab())

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = [folder for folder in self.settings.editor.recent_projects if Path(folder).is_dir()]
        for folder in recent:
            menu.addAction(folder, lambda f=folder: self.open_project(Path(f)))
        if not recent:
            menu.addAction("(no recent projects)").setEnabled(False)

    def _dock_raise(self) -> None:
        dock = self.panel.parentWidget()
        if dock is not None and hasattr(dock, "raise_"):
            dock.show()
            dock.raise_()

    # -- chapters ------------------------------------------------------------------------------------
    def open_chapter(self, relative: str) -> DocumentTab | None:
        if self.project is None:
            return None
        if relative in self.project.missing:
            self.prompts.error("Cannot open the chapter", f"{self.project.path_of(relative)}: "
                                                          f"{self.project.missing[relative]}")
            return None
        return self.documents.open_path(self.project.path_of(relative))

    def new_chapter(self, name: str | None = None) -> str | None:
        if self.project is None:
            return None
        if name is None:
            name = self.ask_text(self._parent_widget, "New chapter", "Name of the new chapter:",
                                 f"Chapter {len(self.project.chapters) + 1}")
            if not name:
                return None
        relative = self._attempt("New chapter", lambda: self.project.new_chapter(name, self.panel.current_chapter()))
        if relative is not None:
            self._show_tree()
            self.open_chapter(relative)
            self.refresh_counts()
        return relative

    def rename_chapter(self, relative: str, new_name: str | None = None) -> str | None:
        if self.project is None:
            return None
        if new_name is None:
            new_name = self.ask_text(self._parent_widget, "Rename chapter", "New file name:",
                                     Path(relative).name)
            if not new_name:
                return None
        old_path = self.project.path_of(relative)
        renamed = self._attempt("Not renamed", lambda: self.project.rename_chapter(relative, new_name))
        if renamed is None:
            return None
        for tab in self.documents.document_tabs():  # an open chapter follows its file
            if tab.path == old_path:
                tab.path = self.project.path_of(renamed)
                self.documents.refresh_title(tab)
        self._disk_counts.pop(relative, None)
        self._show_tree()
        self.panel.select_chapter(renamed)
        self.refresh_counts()
        return renamed

    def delete_chapter(self, relative: str) -> bool:
        if self.project is None:
            return False
        path = self.project.path_of(relative)
        where = ("It is missing on disk, so only its place in the list goes." if relative in self.project.missing
                 else f"Its file moves to {self.project.deleted_dir}, where you can get it back.")
        if not self.prompts.confirm("Delete chapter", f"Take “{relative}” out of the project?\n\n{where}"):
            return False
        for tab in self.documents.document_tabs():
            if tab.path == path and not self.documents.close_tab(tab):  # unsaved changes: save, discard or stay
                return False
        words = self._counts()[0].get(relative) or 0
        try:
            moved = self.project.delete_chapter(relative)
        except ProjectError as exc:
            self.prompts.error("Not deleted", str(exc))
            return False
        self.session.start_words -= words  # taking a chapter out is not unwriting it this session
        self._show_tree()
        self.refresh_counts()
        self.notice.emit(f"Moved to {moved}" if moved else f"{relative} removed from the project", 8000)
        return True

    def move_chapter(self, relative: str, delta: int) -> None:
        if self.project is not None and self._attempt("Not moved", lambda: self.project.move_chapter(relative, delta)) \
                is not None:
            self._show_tree()
            self.panel.select_chapter(relative)

    def set_order(self, order: list[str]) -> None:
        if self.project is not None:
            self._attempt("Order not saved", lambda: self.project.set_order(order))
            self._show_tree()

    def set_target(self, words: int) -> None:
        if self.project is None:
            return
        self.project.session_target = self.session.target = words
        self._save()
        self._show_session()

    def _attempt(self, failure_title: str, action: Callable[[], Any]) -> Any:
        """action(), or None after telling the writer why it could not be done."""
        try:
            result = action()
        except ProjectError as exc:
            self.prompts.error(failure_title, str(exc))
            self._show_tree()  # the file may have changed even if the project file could not record it
            return None
        return True if result is None else result

    def _save(self, quiet: bool = False) -> None:
        try:
            self.project.save()
        except ProjectError as exc:
            if quiet:
                self.notice.emit(str(exc), 10_000)
            else:
                self.prompts.error("Project not saved", str(exc))

    def _show_tree(self) -> None:
        project = self.project
        self.panel.show_project(project.title, [(c, project.missing.get(c, "")) for c in project.chapters],
                                project.session_target)
        self.panel.show_counts(*self._counts())

    # -- text of the chapters: the editor's (unsaved included) when open, else the file's ------------
    def _open_tabs(self) -> dict[str, DocumentTab]:
        tabs = {}
        for tab in self.documents.document_tabs():
            relative = self.project.chapter_of(tab.path) if tab.path is not None else None
            if relative is not None:
                tabs[relative] = tab
        return tabs

    def chapter_text(self, relative: str, tabs: dict[str, DocumentTab] | None = None) -> str | None:
        tab = (tabs if tabs is not None else self._open_tabs()).get(relative)
        if tab is not None:
            return tab.text()
        try:
            return self.project.read_chapter(relative)
        except DocumentError:
            return None

    def _counts(self) -> tuple[dict[str, int | None], int]:
        tabs = self._open_tabs()
        counts: dict[str, int | None] = {}
        for relative in self.project.chapters:
            if relative in tabs:
                counts[relative] = count_words(tabs[relative].text())
                continue
            try:
                info = os.stat(self.project.path_of(relative))
                key = (info.st_mtime_ns, info.st_size)
            except OSError:
                counts[relative] = None
                continue
            cached = self._disk_counts.get(relative)
            if cached is None or cached[0] != key:  # read each unchanged file once
                cached = (key, self.project.word_count(relative))
                self._disk_counts[relative] = cached
            counts[relative] = cached[1]
        return counts, sum(words or 0 for words in counts.values())

    def total_words(self) -> int:
        return self._counts()[1] if self.project is not None else 0

    def refresh_counts(self) -> None:
        if self.project is None:
            return
        counts, total = self._counts()
        self.panel.show_counts(counts, total)
        self._show_session(total)

    def _show_session(self, total: int | None = None) -> None:
        total = self.total_words() if total is None else total
        summary = self.session.summary(total)
        self.panel.show_session(summary, self.session.progress(total))
        self.session_changed.emit(summary)

    # -- find in every chapter -----------------------------------------------------------------------
    def find(self, needle: str) -> list[Match]:
        if self.project is None or not needle:
            return []
        tabs = self._open_tabs()
        texts = ((c, text) for c in self.project.chapters if (text := self.chapter_text(c, tabs)) is not None)
        self.matches = find_in_chapters(texts, needle)
        self.panel.show_results(needle, self.matches, len(self.matches) >= MAX_MATCHES)
        return self.matches

    def open_match(self, index: int) -> DocumentTab | None:
        """Open the match's chapter with the match selected (the text may have changed since the
        search: the position is clamped, never an error)."""
        if not 0 <= index < len(self.matches):
            return None
        match = self.matches[index]
        tab = self.open_chapter(match.chapter)
        if tab is None:
            return None
        text = tab.text()
        start = min(match.offset, len(text))
        end = min(start + match.length, len(text))
        cursor = tab.editor.textCursor()
        cursor.setPosition(utf16_position(text, start))
        cursor.setPosition(utf16_position(text, end), QTextCursor.MoveMode.KeepAnchor)
        tab.editor.setTextCursor(cursor)
        tab.editor.centerCursor()
        tab.editor.setFocus()
        return tab

    # -- story context: a chapter of the project uses the project's -----------------------------------
    def _on_current_document(self, tab: DocumentTab | None) -> None:
        in_project = (self.project is not None and tab is not None and tab.path is not None
                      and self.project.chapter_of(tab.path) is not None)
        if in_project:
            self.panel.select_chapter(self.project.chapter_of(tab.path))
        if self.story_controller is not None:
            if in_project:
                project = self.project  # edits still pending when another project opens land in this one
                self.story_controller.use_storage(project.load_story, lambda story: self._save_story(project, story))
            else:
                self.story_controller.use_storage(None, None)  # back to the loose document's own store

    @staticmethod
    def _save_story(project: Project, story: StoryContext) -> None:
        try:
            project.save_story(story)
        except ProjectError as exc:
            # As an OSError the story controller keeps the edit and tries again on the next one.
            raise OSError(str(exc)) from exc

    # -- export --------------------------------------------------------------------------------------
    def export_dialog(self, whole_project: bool = True) -> None:
        if self.project is None:
            return
        chapters = self.project.chapters if whole_project else [self.panel.current_chapter()]
        if not chapters or chapters[0] is None:
            self.prompts.error("Export", "Select the chapter to export in the project panel first.")
            return
        name = self.project.title if whole_project else Path(chapters[0]).stem
        start = str(self.project.folder.parent / f"{name}.docx")
        target = self.choose_export_file(self._parent_widget, "Export project" if whole_project
                                         else "Export chapter", start)
        if target:
            self.export(Path(target), chapters)

    def export(self, target: Path, chapters: list[str] | None = None) -> bool:
        """Queue the export of `chapters` (all by default) to `target`; `exported` or an error follows."""
        if self.project is None:
            return False
        chosen = self.project.chapters if chapters is None else chapters
        tabs = self._open_tabs()
        parts: list[ExportChapter] = []
        skipped: list[str] = []
        for relative in chosen:
            text = self.chapter_text(relative, tabs)
            if text is None:
                skipped.append(relative)
            else:
                parts.append(chapter_from_file(relative, text))
        if skipped:
            self.prompts.error("Export", "These chapters cannot be read and are left out:\n\n"
                               + "\n".join(f"• {self.project.path_of(c)}" for c in skipped))
        if self._export_worker is None:
            self._export_worker = ProjectExportWorker()
            self._export_worker.finished.connect(self._on_exported)
            self._export_worker.failed.connect(lambda _target, message: self.prompts.error("Not exported", message))
            self._export_thread = start_owned(self._export_worker, "cw-project-export", self, 10_000)
        title = self.project.title if chapters is None or len(chosen) > 1 else ""
        protected = [self.project.path_of(c) for c in self.project.chapters]
        self._export_worker.export(parts, str(target), title, protected)
        return True

    def shut_down(self, timeout_ms: int = 10_000) -> bool:
        """Stop the export thread (an export under way finishes first: it writes one file atomically)."""
        if self._export_worker is None:
            return True
        worker, self._export_worker = self._export_worker, None
        return stop_worker(worker, self._export_thread, timeout_ms)

    def _on_exported(self, target: str) -> None:
        self.notice.emit(f"Exported to {target}", 8000)
        self.exported.emit(target)
