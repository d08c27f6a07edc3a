"""The editor window: documents in tabs, ghost-text suggestions, panels, model picker, recovery.

Threads: the GUI thread only edits text and paints. The generation worker (one QThread, owning
the model) answers suggestion and writing requests; the model loader (another QThread) imports
torch, loads / converts / downloads models, so the current model keeps working meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QColor, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QFontDialog, QLabel, QMainWindow, QMenu,
                               QMessageBox, QTabBar, QTabWidget, QToolButton, QVBoxLayout, QWidget)
from qasync import asyncSlot

from cw_desktop import APP_NAME
from cw_desktop.core.catalog import load_catalog
from cw_desktop.core.disk_stamp import DiskStamp, current_stamp
from cw_desktop.core.documents import (DocumentError, MemoryStore, RecoveryEntry, RecoveryStore,
                                       memory_dir, pid_alive, read_text_file, update_recent)
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings
from cw_desktop.core.suggestion_log import SuggestionLog
from cw_desktop.gui.alternatives_panel import AlternativesPanel
from cw_desktop.gui.autosave import AutosaveScheduler, RecoveryWriter
from cw_desktop.gui.creative_panel import FORMS, CreativePanel
from cw_desktop.gui.document_safety import check_before_save, review_disk_changes, save_document
from cw_desktop.gui.document_tab import DocumentTab
from cw_desktop.gui.find_bar import FindBar
from cw_desktop.gui.generation_panel import GenerationPanel
from cw_desktop.gui.model_menu import ModelMenu, download_size_mb
from cw_desktop.gui.prompts import Prompts, broken_recovery_message, settings_problems_message
from cw_desktop.gui.status_widgets import ModelStatus
from cw_desktop.gui.suggestion_controller import SuggestionController
from cw_desktop.gui.theme import apply_theme, colours, editor_font
from cw_desktop.workers.generation_worker import GenerationWorker
from cw_desktop.workers.model_loader import ModelLoaderWorker, describe_model
from cw_desktop.workers.threads import WorkerError, signal_future, start_in_thread, stop_thread

FILE_FILTER = "Text (*.txt *.md *.markdown *.text);;All files (*)"
MAX_AUTOSAVE_SECONDS = 30  # the promise: no keystroke older than this is ever lost


class MainWindow(QMainWindow):
    model_ready = Signal(dict)  # model_info of the model now suggesting
    model_failed = Signal(str, str)  # spec, message
    autosaved = Signal(int)  # how many documents were copied to the recovery folder

    def __init__(self, paths: AppPaths, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.settings = settings
        self.prompts = Prompts(self)
        self.recovery = RecoveryStore(paths.recovery_dir)
        self.recovery_writer = RecoveryWriter(self.recovery, self)
        self.recovery_writer.batch_done.connect(self._on_recovery_written)
        self._disk_seen: dict[str, DiskStamp | None] = {}  # doc_id -> disk version already asked about
        self._checking_disk = False
        self.memories = MemoryStore(memory_dir(paths))
        self.log = SuggestionLog(paths.suggestion_log)
        self._close_guards: list[Callable[[], bool]] = []
        self._model_target: str | None = None  # the spec the writer asked for last
        self._download_target: str | None = None
        self.current_model: dict[str, Any] | None = None
        self._distraction_free_state: dict[str, Any] | None = None
        self._shut_down = False

        self.generation = GenerationWorker()
        self.generation_thread = start_in_thread(self.generation, "cw-generation")
        self.loader = ModelLoaderWorker(paths)
        self.loader.backend = self.settings.model.inference_backend
        self.loader_thread = start_in_thread(self.loader, "cw-model-loader")

        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self.controller = SuggestionController(self.generation, settings, self.log, self.generation_panel.options,
                                               self._current_memory, self)
        self._build_menus()
        self._connect_workers()

        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_scheduler = AutosaveScheduler(self)  # a couple of seconds after typing stops
        self.autosave_scheduler.due.connect(self.autosave)
        self.count_timer = QTimer(self, singleShot=True, interval=150)
        self.count_timer.timeout.connect(self._update_counts)
        self.memory_timer = QTimer(self, singleShot=True, interval=800)
        self.memory_timer.timeout.connect(self._store_memory)
        self.budget_timer = QTimer(self, singleShot=True, interval=400)
        self.budget_timer.timeout.connect(self.refresh_budget)
        QApplication.instance().applicationStateChanged.connect(self._on_application_state)

        self.apply_settings()
        self.new_document()
        self.resize(1200, 800)
        self._restore_window_layout()

    # -- layout --------------------------------------------------------------------------------------
    def _build_central(self) -> None:
        self.tabs = QTabWidget(documentMode=True, tabsClosable=True, movable=True)
        self.tabs.tabBar().setDrawBase(False)  # no hard line between the menu and the page
        self.tabs.tabCloseRequested.connect(lambda index: self.close_tab(self.tabs.widget(index)))
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.find_bar = FindBar()
        self.find_bar.hide()
        self.find_bar.closed.connect(lambda: self.current_editor() and self.current_editor().setFocus())
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.find_bar)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.alternatives_panel = AlternativesPanel()
        self.alternatives_panel.chosen.connect(self._insert_alternative)
        self.generation_panel = GenerationPanel(self.settings.suggestions)
        self.generation_panel.options_changed.connect(self._on_options_changed)
        self.generation_panel.memory_changed.connect(self._on_memory_edited)
        self.creative_panel = CreativePanel()
        self.creative_panel.write_requested.connect(self.write_piece)
        self.creative_panel.stop_requested.connect(self.stop_writing)
        self.alternatives_dock = self._dock("Alternatives", self.alternatives_panel, "alternativesDock")
        self.generation_dock = self._dock("Generation", self.generation_panel, "generationDock")
        self.creative_dock = self._dock("Write a piece", self.creative_panel, "creativeDock")
        self.tabifyDockWidget(self.generation_dock, self.creative_dock)
        self.generation_dock.raise_()
        self.alternatives_dock.setVisible(self.settings.suggestions.show_side_panel)
        self.alternatives_dock.visibilityChanged.connect(self._remember_side_panel)

    def _dock(self, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable |
                         QDockWidget.DockWidgetFeature.DockWidgetMovable)
        dock.setMinimumWidth(260)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.model_status = ModelStatus()
        self.model_status.choose_model.connect(self._popup_model_menu)
        self.counts = QLabel()
        self.counts.setProperty("muted", True)
        # Notices get their own label: QStatusBar.showMessage would hide the model's state.
        self.notice = QLabel()
        self.notice.setProperty("muted", True)
        self.notice_timer = QTimer(self, singleShot=True)
        self.notice_timer.timeout.connect(self.notice.clear)
        self.statusBar().addWidget(self.model_status)
        self.statusBar().addWidget(self.notice, 1)
        self.statusBar().addPermanentWidget(self.counts)

    def notify(self, text: str, milliseconds: int = 5000) -> None:
        self.notice.setText(text)
        self.notice_timer.start(milliseconds)

    def _action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut: Any = None,
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts keep working while the menu bar is hidden (full screen)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&New", lambda: self.new_document(), QKeySequence.StandardKey.New)
        self._action(file_menu, "&Open…", lambda: self.open_dialog(), QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        self._action(file_menu, "&Save", lambda: self.save(), QKeySequence.StandardKey.Save)
        self._action(file_menu, "Save &as…", lambda: self.save_as(), QKeySequence.StandardKey.SaveAs)
        self._action(file_menu, "&Close tab", lambda: self.close_tab(self.current_tab()), QKeySequence.StandardKey.Close)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit_menu = bar.addMenu("&Edit")
        self._action(edit_menu, "&Undo", lambda: self._on_editor("undo"), QKeySequence.StandardKey.Undo)
        self._action(edit_menu, "&Redo", lambda: self._on_editor("redo"), QKeySequence.StandardKey.Redo)
        edit_menu.addSeparator()
        self._action(edit_menu, "Cu&t", lambda: self._on_editor("cut"), QKeySequence.StandardKey.Cut)
        self._action(edit_menu, "&Copy", lambda: self._on_editor("copy"), QKeySequence.StandardKey.Copy)
        self._action(edit_menu, "&Paste", lambda: self._on_editor("paste"), QKeySequence.StandardKey.Paste)
        self._action(edit_menu, "Select &all", lambda: self._on_editor("selectAll"), QKeySequence.StandardKey.SelectAll)
        edit_menu.addSeparator()
        self._action(edit_menu, "&Find…", lambda: self.show_find(False), QKeySequence.StandardKey.Find)
        self._action(edit_menu, "Find and &replace…", lambda: self.show_find(True), "Ctrl+H")
        self._action(edit_menu, "Find &next", lambda: self.find_bar.find_next(), QKeySequence.StandardKey.FindNext)
        edit_menu.addSeparator()
        self._action(edit_menu, "Pre&ferences…", self.show_preferences, QKeySequence.StandardKey.Preferences)

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.alternatives_dock.toggleViewAction())
        view_menu.addAction(self.generation_dock.toggleViewAction())
        view_menu.addAction(self.creative_dock.toggleViewAction())
        view_menu.addSeparator()
        self.dark_action = self._action(view_menu, "&Dark theme", self._toggle_theme, "Ctrl+Shift+D", checkable=True)
        self.wrap_action = self._action(view_menu, "Soft &wrap", self._toggle_wrap, checkable=True)
        self._action(view_menu, "&Font…", self._choose_font)
        self._action(view_menu, "&Larger text", lambda: self._change_font_size(+1), QKeySequence.StandardKey.ZoomIn)
        self._action(view_menu, "&Smaller text", lambda: self._change_font_size(-1), QKeySequence.StandardKey.ZoomOut)
        view_menu.addSeparator()
        self.focus_action = self._action(view_menu, "Distraction-&free mode", self.toggle_distraction_free, "F11",
                                         checkable=True)

        suggest_menu = bar.addMenu("&Suggest")
        keys = self.settings.keys
        # Shown with their keys but not bound as window shortcuts: the editor handles those keys
        # itself, and only while a suggestion is showing (Tab must still indent otherwise).
        self.suggest_actions = {
            "suggest_now": self._plain_action(suggest_menu, "Suggest now", keys.suggest_now,
                                              lambda: self.controller.suggest_now()),
            "accept": self._plain_action(suggest_menu, "Accept suggestion", keys.accept,
                                         lambda: self._on_editor("accept_all")),
            "accept_word": self._plain_action(suggest_menu, "Accept next word", keys.accept_word,
                                              lambda: self._on_editor("accept_next_word")),
            "dismiss": self._plain_action(suggest_menu, "Dismiss", keys.dismiss,
                                          lambda: self._on_editor("end_ghost", "rejected")),
            "next_alternative": self._plain_action(suggest_menu, "Next alternative", keys.next_alternative,
                                                   lambda: self._on_editor("cycle_alternative", 1)),
            "previous_alternative": self._plain_action(suggest_menu, "Previous alternative",
                                                       keys.previous_alternative,
                                                       lambda: self._on_editor("cycle_alternative", -1)),
        }
        suggest_menu.addSeparator()
        self.auto_action = self._action(suggest_menu, "Suggest &automatically", self._toggle_auto, checkable=True)
        self._action(suggest_menu, "&Write a piece…", self._show_creative)

        self.model_menu = ModelMenu(self.paths, lambda: self._model_target or self.settings.model.spec, self)
        self.model_menu.model_chosen.connect(self.switch_model)
        self.model_menu.download_requested.connect(self._ask_download)
        self.model_menu.open_folder_requested.connect(self._open_model_folder)
        self.model_menu.show_models_folder_requested.connect(lambda: self._reveal(self.paths.models_dir))
        self.model_menu.dialog_requested.connect(
            lambda module, name, with_settings: self.open_dialog_module(module, name, with_settings=with_settings))
        bar.addMenu(self.model_menu)

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self._show_shortcuts)
        self._action(help_menu, "&About", self._show_about)

    def _plain_action(self, menu: QMenu, text: str, key: str, slot: Callable[[], Any]) -> QAction:
        action = QAction(f"{text}\t{QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)}", self)
        action.setData(text)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # -- workers -------------------------------------------------------------------------------------
    def _connect_workers(self) -> None:
        self.loader.progress.connect(self._on_load_progress)
        # Bound methods of GUI-thread objects only: PySide runs a plain function or lambda connected
        # to a worker's signal in the worker's thread.
        self.generation.budget_ready.connect(self._on_budget)
        self.generation.write_token.connect(self._on_write_token)
        self.generation.write_finished.connect(self._on_write_finished)
        self.generation.cancelled.connect(self._on_generation_cancelled)
        self.generation.failed.connect(self._on_generation_failed)
        self.controller.alternatives_changed.connect(self.alternatives_panel.show_alternatives)
        self.controller.status_message.connect(lambda text: self.notify(text, 6000))

    def start(self, model_spec: str | None = None) -> None:
        """After the window is shown: start loading the model in the background, then offer crash
        recovery (the model loads while the writer decides)."""
        self.switch_model(model_spec or self.settings.model.spec)
        self.report_settings_problems()
        self.restore_from_crash()

    def report_settings_problems(self) -> None:
        if self.settings.problems:
            self.prompts.error("Settings file problems", settings_problems_message(self.settings))

    @asyncSlot(str)
    async def switch_model(self, spec: str) -> None:
        """Load `spec` in the loader thread and hand it to the generation worker; never blocks."""
        self._model_target = spec
        self.model_status.show_loading(_short_spec(spec))
        loading = signal_future(self.loader.loaded, self.loader.failed, key=spec)
        self.loader.request_load(spec)
        try:
            loaded = await loading
            if self._model_target != spec:
                return  # the writer picked another model meanwhile
            installing = signal_future(self.generation.model_installed, self.generation.install_failed)
            self.generation.install(loaded)
            info = await installing
        except WorkerError as exc:
            if self._model_target == spec:
                self._show_model_error(spec, str(exc))
            return
        self._on_model_installed(spec, info)

    def _on_model_installed(self, spec: str, info: dict[str, Any]) -> None:
        self.current_model = info
        self.controller.model_spec = spec
        self._show_ready(info)
        if self.settings.model.spec != spec:
            self.settings.model.spec = spec
            self.save_settings()
        self.refresh_budget()
        self.model_ready.emit(info)

    def _show_ready(self, info: dict[str, Any]) -> None:
        details = f"{info['name']}\n{info['folder']}\nContext window: {info['context_length']} tokens, " \
                  f"loaded in {info['load_seconds']:.1f} s"
        self.model_status.show_ready(describe_model(info), details)

    def _show_model_error(self, spec: str, message: str) -> None:
        if self.current_model is not None:
            message += f" — still using {self.current_model['name']}."
        self.model_status.show_error(message)
        self.model_failed.emit(spec, message)

    def _on_load_progress(self, spec: str, fraction: float, stage: str) -> None:
        if spec in (self._model_target, self._download_target):
            self.model_status.show_loading(_short_spec(spec), fraction, stage)

    @asyncSlot(str)
    async def download_model(self, spec: str) -> None:
        entry = next((e for e in load_catalog() if e.matches(spec)), None)
        name = entry.name if entry else spec
        self._download_target = spec
        self.model_status.show_loading(f"{name} (download)")
        downloading = signal_future(self.loader.downloaded, self.loader.failed, key=spec)
        self.loader.request_download(spec)
        try:
            folder = await downloading
        except WorkerError as exc:
            self.model_failed.emit(spec, str(exc))
            self.prompts.error("Download failed", str(exc))
            if self.current_model is not None:
                self._show_ready(self.current_model)  # nothing changed: keep writing with it
            else:
                self.model_status.show_error(str(exc))
            return
        finally:
            self._download_target = None
        self.switch_model(str(folder))

    def _ask_download(self, spec: str) -> None:
        entry = next((e for e in load_catalog() if e.matches(spec)), None)
        size = f" (about {download_size_mb(entry)} MB)" if entry else ""
        name = entry.name if entry else spec
        if self.prompts.confirm("Download a model", f"Download {name}{size} from the Hugging Face hub?\n\n"
                                "This is the only time cw_desktop uses the network; the model is then "
                                "kept on this computer."):
            self.download_model(spec)

    def _fill_model_menu(self) -> None:
        self.model_menu.refresh()

    def _popup_model_menu(self) -> None:
        self.model_menu.refresh()
        button = self.model_status.choose_button
        self.model_menu.popup(button.mapToGlobal(button.rect().topLeft()))

    def _open_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a model folder (save_pretrained)",
                                                  str(self.paths.models_dir))
        if folder:
            self.switch_model(folder)

    def _reveal(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def open_dialog_module(self, module_name: str, class_name: str, *, with_settings: bool) -> QWidget | None:
        """Open one of the fine-tuning dialogs (imported only when asked for: they pull in QtCharts)."""
        import importlib

        try:
            module = importlib.import_module(module_name)
            dialog_class = getattr(module, class_name)
            args = (self.paths, self.settings) if with_settings else (self.paths,)
            dialog = dialog_class(*args, parent=self)
        except Exception as exc:  # noqa: BLE001 - a broken dialog must not take the editor down
            QMessageBox.warning(self, "Not available", f"{class_name} could not be opened: {type(exc).__name__}: {exc}")
            return None
        signal = getattr(dialog, "use_model_requested", None)
        if signal is not None:
            signal.connect(self.switch_model)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def register_close_guard(self, guard: Callable[[], bool]) -> None:
        """`guard()` is asked before the window closes; False keeps it open (e.g. training running)."""
        self._close_guards.append(guard)

    def unregister_close_guard(self, guard: Callable[[], bool]) -> None:
        if guard in self._close_guards:
            self._close_guards.remove(guard)

    def is_training_running(self) -> bool:
        return bool(self._close_guards)

    # -- documents -----------------------------------------------------------------------------------
    def current_tab(self) -> DocumentTab | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, DocumentTab) else None

    def current_editor(self):  # type: ignore[no-untyped-def]
        tab = self.current_tab()
        return tab.editor if tab else None

    def document_tabs(self) -> list[DocumentTab]:
        return [w for w in (self.tabs.widget(i) for i in range(self.tabs.count())) if isinstance(w, DocumentTab)]

    def new_document(self, text: str = "", title: str | None = None) -> DocumentTab:
        tab = DocumentTab(self.settings.keys)
        used = {t.untitled_name for t in self.document_tabs() if t.path is None}
        if title:
            tab.untitled_name = title
        else:
            number = 1
            while (name := "Untitled" if number == 1 else f"Untitled {number}") in used:
                number += 1
            tab.untitled_name = name
        self._style_editor(tab)
        if text:
            tab.editor.setPlainText(text)
        editor = tab.editor
        editor.document().modificationChanged.connect(lambda _m, t=tab: self._refresh_title(t))
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

    def open_dialog(self) -> None:
        start = str(Path(self.settings.editor.recent_files[0]).parent) if self.settings.editor.recent_files else ""
        files, _ = QFileDialog.getOpenFileNames(self, "Open", start, FILE_FILTER)
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
        current = self.current_tab()
        tab = current if current is not None and current.is_blank() else self.new_document()
        tab.path, tab.encoding, tab.disk_stamp = path, loaded.encoding, loaded.stamp
        tab.editor.setPlainText(loaded.text)
        tab.editor.document().setModified(False)
        tab.memory = self.memories.load(path)
        self._refresh_title(tab)
        self._on_tab_changed()
        self._add_recent(path)
        return tab

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
        file, _ = QFileDialog.getSaveFileName(self, "Save as", start, FILE_FILTER)
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
        tab.recovered_revision = -1
        if tab.memory.strip():
            self.memories.save(tab.path, tab.memory)
        self._add_recent(tab.path)
        self._refresh_title(tab)
        self.notify(f"Saved {tab.path}", 4000)
        return True

    def close_tab(self, tab: DocumentTab | None) -> bool:
        if tab is None:
            return False
        if not self._settle(tab):
            return False
        if tab.writing_request is not None:
            self.generation.cancel(tab.writing_request)
        if tab.editor is self.controller.editor:
            self.controller.attach(None)
        self.recovery_writer.remove(tab.doc_id)
        self.tabs.removeTab(self.tabs.indexOf(tab))
        tab.deleteLater()
        if self.tabs.count() == 0:
            self.new_document()
        return True

    def _settle(self, tab: DocumentTab) -> bool:
        """Ask about unsaved changes; True when the tab may go."""
        if not tab.is_modified():
            return True
        self.tabs.setCurrentWidget(tab)
        answer = self.prompts.unsaved_changes(tab.title)
        if answer == "save":
            return self.save(tab)
        return answer == "discard"

    def _add_recent(self, path: Path) -> None:
        self.settings.editor.recent_files = update_recent(self.settings.editor.recent_files, path)
        self.save_settings()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in self.settings.editor.recent_files if Path(p).exists()]
        for file in recent:
            self.recent_menu.addAction(file, lambda f=file: self.open_path(Path(f)))
        if not recent:
            self.recent_menu.addAction("(no recent files)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.editor.recent_files = []
        self.save_settings()

    def _refresh_title(self, tab: DocumentTab) -> None:
        index = self.tabs.indexOf(tab)
        if index >= 0:
            self.tabs.setTabText(index, tab.title + (" •" if tab.is_modified() else ""))
            self.tabs.setTabToolTip(index, str(tab.path) if tab.path else "Not saved yet")
        current = self.current_tab()
        if current is not None:
            self.setWindowTitle(f"{current.title}[*] — {APP_NAME}")
            self.setWindowModified(current.is_modified())

    def _on_tab_changed(self, _index: int = -1) -> None:
        tab = self.current_tab()
        self.controller.attach(tab.editor if tab else None)
        self.generation_panel.set_memory(tab.memory if tab else "")
        self.alternatives_panel.show_alternatives([], 0)
        if self.find_bar.isVisible() and tab is not None:
            self.find_bar.editor = tab.editor
        if tab is not None:
            self._refresh_title(tab)
        self._update_counts()
        self.budget_timer.start()

    def _on_text_changed(self) -> None:
        self.count_timer.start()
        self.budget_timer.start()
        self.autosave_scheduler.poke()

    def _update_counts(self) -> None:
        tab = self.current_tab()
        text = tab.text() if tab else ""
        words = len(text.split())
        self.counts.setText(f"{words:,} words · {len(text):,} characters")

    def _on_editor(self, method: str, *args: Any) -> None:
        editor = self.current_editor()
        if editor is not None:
            getattr(editor, method)(*args)

    def _insert_alternative(self, index: int) -> None:
        editor = self.current_editor()
        if editor is not None:
            editor.choose_alternative(index)
            editor.accept_all()
            editor.setFocus()

    def show_find(self, replace: bool) -> None:
        editor = self.current_editor()
        if editor is not None:
            self.find_bar.open_for(editor, replace)

    # -- memory and budget ---------------------------------------------------------------------------
    def _current_memory(self) -> str:
        tab = self.current_tab()
        return tab.memory if tab else ""

    def _on_memory_edited(self, text: str) -> None:
        tab = self.current_tab()
        if tab is None:
            return
        tab.memory = text
        tab.recovered_revision = -1  # the recovery copy carries the Memory too
        self.memory_timer.start()
        self.autosave_scheduler.poke()
        self.budget_timer.start()

    def _store_memory(self) -> None:
        for tab in self.document_tabs():
            if tab.path is not None:
                try:
                    self.memories.save(tab.path, tab.memory)
                except OSError as exc:
                    self.notify(f"Memory not saved: {exc}", 6000)

    def _on_options_changed(self) -> None:
        self.generation_panel.store(self.settings.suggestions)
        self.save_settings()
        self.budget_timer.start()

    def refresh_budget(self) -> None:
        editor = self.current_editor()
        if editor is None or not self.generation.has_model:
            return
        self.generation.submit_budget(editor.text_before_cursor(), self.generation_panel.options(),
                                      self._current_memory())

    # -- creative output -----------------------------------------------------------------------------
    def write_piece(self, form: str, title: str, max_tokens: int) -> DocumentTab | None:
        if not self.generation.has_model:
            self.creative_panel.set_running(False, "No model is ready yet: see the status bar.")
            return None
        memory = self._current_memory()  # the piece shares the current document's characters and setting
        tab = self.new_document(title=f"{FORMS.get(form, form)} — {title[:40]}")
        tab.memory = memory
        self.generation_panel.set_memory(memory)
        tab.editor.setReadOnly(True)
        tab.editor.document().setUndoRedoEnabled(False)  # the draft arrives as one piece, not 400 undo steps
        tab.writing_request = self.generation.submit_write(form, title, max_tokens, memory=memory)
        self.controller.paused_reason = "Suggestions wait while the model writes a draft"
        self.creative_panel.set_running(True, f"Writing a {FORMS.get(form, form).lower()}…")
        return tab

    def stop_writing(self) -> None:
        for tab in self.document_tabs():
            if tab.writing_request is not None:
                self.generation.cancel(tab.writing_request)

    def _writing_tab(self, request: int) -> DocumentTab | None:
        return next((t for t in self.document_tabs() if t.writing_request == request), None)

    def _on_budget(self, _request: int, budget: Any) -> None:
        self.generation_panel.show_budget(budget)

    def _on_write_token(self, request: int, text: str) -> None:
        tab = self._writing_tab(request)
        if tab is None:
            return
        editor = tab.editor
        current = editor.toPlainText()
        cursor = editor.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        if text.startswith(current):
            cursor.insertText(text[len(current):])  # append only what is new: no flicker, no reflow
        else:
            editor.setPlainText(text)
        editor.setTextCursor(cursor)
        editor.ensureCursorVisible()

    def _on_write_finished(self, request: int, result: Any) -> None:
        tab = self._writing_tab(request)
        if tab is None:
            return
        self._on_write_token(request, result.text)
        if result.finish_reason == "cancelled":
            self._finish_writing(tab, "Stopped. What was written so far is kept.")
            return
        reason = {"eos": "the model ended it", "length": "length reached", "stop": "finished"}.get(
            result.finish_reason, result.finish_reason)
        self._finish_writing(tab, f"Done: {result.tokens} tokens ({reason}). Edit and save it like any document.")

    def _on_generation_cancelled(self, request: int, _tokens_after: int) -> None:
        tab = self._writing_tab(request)
        if tab is not None:
            self._finish_writing(tab, "Stopped. What was written so far is kept.")

    def _on_generation_failed(self, request: int, message: str) -> None:
        tab = self._writing_tab(request)
        if tab is not None:
            self._finish_writing(tab, message)

    def _finish_writing(self, tab: DocumentTab, message: str) -> None:
        tab.writing_request = None
        tab.editor.setReadOnly(False)
        document = tab.editor.document()
        document.setUndoRedoEnabled(True)
        document.setModified(bool(tab.text()))
        self.controller.paused_reason = ""
        self.creative_panel.set_running(False, message)
        self._refresh_title(tab)

    def _show_creative(self) -> None:
        self.creative_dock.show()
        self.creative_dock.raise_()
        self.creative_panel.title.setFocus()

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
            if not document.isModified() and not (tab.path is None and tab.memory.strip()):
                if tab.recovered_revision != -2:
                    self.recovery_writer.remove(tab.doc_id)
                    tab.recovered_revision = -2  # nothing to protect: the file on disk is current
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
                tab.recovered_revision = -1  # try again next time
        if errors:
            self.notify(f"Autosave failed: {next(iter(errors.values()))}", 8000)
        self.autosaved.emit(written)

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
        current = self.current_tab()
        tab = current if current is not None and current.is_blank() else self.new_document()
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
        tab.memory = entry.memory
        tab.editor.setPlainText(entry.text)
        tab.editor.document().setModified(True)  # recovered text is not on disk yet
        self._refresh_title(tab)
        self._on_tab_changed()
        return tab

    def _on_application_state(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self.autosave()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.ActivationChange and not self.isActiveWindow():
            self.autosave()  # focus lost: another app may crash the session, or the battery may die
        elif event.type() == QEvent.Type.ActivationChange:
            QTimer.singleShot(0, self.check_disk_changes)  # back from another program: did it edit our files?
        super().changeEvent(event)

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

    # -- settings, theme, fonts ----------------------------------------------------------------------
    def apply_settings(self) -> None:
        editor_settings = self.settings.editor
        apply_theme(QApplication.instance(), editor_settings.theme)
        self.dark_action.setChecked(editor_settings.theme == "dark")
        self.wrap_action.setChecked(editor_settings.soft_wrap)
        self.auto_action.setChecked(self.settings.suggestions.auto_suggest)
        self.generation_panel.gauge.set_colours(colours(editor_settings.theme))
        for tab in self.document_tabs():
            tab.editor.keys = self.settings.keys
            self._style_editor(tab)
        seconds = max(1, min(MAX_AUTOSAVE_SECONDS, editor_settings.autosave_seconds))
        self.autosave_timer.start(seconds * 1000)
        self.controller.apply_settings()
        for name, action in self.suggest_actions.items():
            key = QKeySequence(getattr(self.settings.keys, name)).toString(QKeySequence.SequenceFormat.NativeText)
            action.setText(f"{action.data()}\t{key}")

    def _style_editor(self, tab: DocumentTab) -> None:
        editor_settings = self.settings.editor
        editor = tab.editor
        editor.setFont(editor_font(editor_settings.font_family, editor_settings.font_size))
        editor.ghost_colour = QColor(colours(editor_settings.theme).ghost)
        editor.setLineWrapMode(editor.LineWrapMode.WidgetWidth if editor_settings.soft_wrap
                               else editor.LineWrapMode.NoWrap)
        if self._distraction_free_state is not None:
            self._center_column(editor)

    def save_settings(self) -> None:
        try:
            self.settings.save(self.paths.settings_file)
        except OSError as exc:
            self.notify(f"Settings not saved to {self.paths.settings_file}: {exc}", 8000)

    def show_preferences(self) -> None:
        from cw_desktop.dialogs.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.settings, self)
        if dialog.exec():
            self.set_settings(dialog.result_settings())

    def set_settings(self, settings: Settings) -> None:
        """Adopt edited settings (from Preferences) everywhere and persist them."""
        for section in ("editor", "suggestions", "keys", "model"):
            setattr(self.settings, section, getattr(settings, section))
        self.apply_settings()
        self.save_settings()

    def _toggle_theme(self) -> None:
        self.settings.editor.theme = "dark" if self.dark_action.isChecked() else "light"
        self.apply_settings()
        self.save_settings()

    def _toggle_wrap(self) -> None:
        self.settings.editor.soft_wrap = self.wrap_action.isChecked()
        self.apply_settings()
        self.save_settings()

    def _toggle_auto(self) -> None:
        self.settings.suggestions.auto_suggest = self.auto_action.isChecked()
        self.controller.apply_settings()
        self.save_settings()
        self.notify("Suggestions: " + ("automatic after a pause" if self.auto_action.isChecked()
                                                        else f"only on {self.settings.keys.suggest_now}"), 4000)

    def _choose_font(self) -> None:
        editor = self.current_editor()
        ok, font = QFontDialog.getFont(editor.font() if editor else self.font(), self)
        if ok:
            self.settings.editor.font_family = font.family()
            self.settings.editor.font_size = font.pointSize()
            self.apply_settings()
            self.save_settings()

    def _change_font_size(self, step: int) -> None:
        self.settings.editor.font_size = max(8, min(48, self.settings.editor.font_size + step))
        self.apply_settings()
        self.save_settings()

    def _remember_side_panel(self, visible: bool) -> None:
        if self._distraction_free_state is None and not self.isHidden():
            self.settings.suggestions.show_side_panel = visible

    # -- distraction-free mode -----------------------------------------------------------------------
    def toggle_distraction_free(self) -> None:
        if self._distraction_free_state is None:
            docks = [d for d in (self.alternatives_dock, self.generation_dock, self.creative_dock) if d.isVisible()]
            self._distraction_free_state = {"docks": docks, "maximized": self.isMaximized()}
            for dock in docks:
                dock.hide()
            self.menuBar().hide()
            self.statusBar().hide()
            self.tabs.tabBar().hide()
            self.showFullScreen()
            for tab in self.document_tabs():
                self._center_column(tab.editor)
        else:
            state, self._distraction_free_state = self._distraction_free_state, None
            for dock in state["docks"]:
                dock.show()
            self.menuBar().show()
            self.statusBar().show()
            self.tabs.tabBar().show()
            self.showMaximized() if state["maximized"] else self.showNormal()
            for tab in self.document_tabs():
                tab.editor.setViewportMargins(0, 0, 0, 0)
        self.focus_action.setChecked(self._distraction_free_state is not None)

    def _center_column(self, editor: Any) -> None:
        column = editor.fontMetrics().horizontalAdvance("n") * self.settings.editor.line_width_chars
        side = max(0, (self.width() - column) // 2)
        editor.setViewportMargins(side, 24, side, 24)

    def _restore_window_layout(self) -> None:
        editor_settings = self.settings.editor
        if editor_settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(editor_settings.window_geometry.encode("ascii")))
        if editor_settings.window_state and self.restoreState(
                QByteArray.fromBase64(editor_settings.window_state.encode("ascii"))):
            self._docks_sized = True  # the writer's own arrangement wins over our defaults

    def _remember_window_layout(self) -> None:
        if self._distraction_free_state is not None:
            return  # never come back in full screen with everything hidden
        self.settings.editor.window_geometry = bytes(self.saveGeometry().toBase64().data()).decode("ascii")
        self.settings.editor.window_state = bytes(self.saveState().toBase64().data()).decode("ascii")

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if not getattr(self, "_docks_sized", False):
            self._docks_sized = True
            # Room for three alternative cards above the settings.
            self.resizeDocks([self.alternatives_dock, self.generation_dock], [380, 420], Qt.Orientation.Vertical)
            self.resizeDocks([self.generation_dock], [300], Qt.Orientation.Horizontal)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._distraction_free_state is not None:
            for tab in self.document_tabs():
                self._center_column(tab.editor)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape and self._distraction_free_state is not None:
            self.toggle_distraction_free()
            return
        super().keyPressEvent(event)

    # -- help ----------------------------------------------------------------------------------------
    def _show_shortcuts(self) -> None:
        keys = self.settings.keys
        rows = [("Accept the suggestion", keys.accept), ("Accept the next word", keys.accept_word),
                ("Dismiss", keys.dismiss), ("Next / previous alternative",
                                            f"{keys.next_alternative} / {keys.previous_alternative}"),
                ("Suggest now", keys.suggest_now), ("Distraction-free mode", "F11"), ("Find / replace", "Ctrl+F / Ctrl+H")]
        text = "".join(f"<tr><td>{what}</td><td><b>{key}</b></td></tr>" for what, key in rows)
        QMessageBox.information(self, "Keyboard shortcuts",
                                f"<table cellpadding=4>{text}</table><p>Typing the suggested characters "
                                "keeps the rest of the suggestion; typing anything else dismisses it.</p>"
                                "<p>All keys can be changed in Preferences.</p>")

    def _show_about(self) -> None:
        from cw_desktop import __version__

        QMessageBox.about(self, f"About {APP_NAME}",
                          f"<b>{APP_NAME}</b> {__version__}<p>A local creative-writing assistant: inline suggestions "
                          "from a language model running on this computer, which you can fine-tune on your own "
                          f"manuscripts, offline.</p><p>Data folder: {self.paths.data_dir}</p>")

    # -- closing -------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        for guard in list(self._close_guards):
            try:
                if not guard():
                    event.ignore()
                    return
            except Exception:  # noqa: BLE001 - a broken guard must not make the window unclosable
                continue
        for tab in self.document_tabs():
            if not self._settle(tab):
                event.ignore()
                return
        self.controller.attach(None)  # ends any ghost and flushes the suggestion log
        for tab in self.document_tabs():
            self.recovery_writer.remove(tab.doc_id)  # a clean exit: nothing to recover next time
        self._store_memory()
        self._remember_window_layout()
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop the workers; True when both threads ended (a model load cannot be interrupted)."""
        if self._shut_down:
            return True
        self._shut_down = True
        self.autosave_timer.stop()
        self.autosave_scheduler.stop()
        self.recovery_writer.close()  # copies still being written land first
        for tab in self.document_tabs():
            if tab.writing_request is not None:
                self.generation.cancel(tab.writing_request)
        request = self.current_editor().ghost_request if self.current_editor() else None
        if request is not None:
            self.generation.cancel(request)
        self.loader.cancel_download()
        stopped = stop_thread(self.generation_thread, timeout_ms)
        return stop_thread(self.loader_thread, timeout_ms) and stopped


def _short_spec(spec: str) -> str:
    if spec == "bundled":
        return "the bundled model"
    return Path(spec).name if (os.sep in spec or spec.startswith((".", "~"))) else spec
