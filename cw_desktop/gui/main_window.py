"""The editor window: docks, layout, window state, and the wiring between its parts.

Threads: the GUI thread only edits text and paints; the generation worker (one QThread, owning
the model) answers suggestion and writing requests; the model loader (ModelController's QThread)
loads, converts and downloads models while the current one keeps working. Each concern has an
owner that talks back only through signals: MainMenu (the actions), DocumentsController,
ModelController, WritingController, SuggestionController, PreferencesController.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QFont
from PySide6.QtWidgets import (QApplication, QDockWidget, QFrame, QLabel, QMainWindow, QScrollArea, QTabWidget,
                               QVBoxLayout, QWidget)

from cw_desktop import APP_NAME
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings
from cw_desktop.core.suggestion_log import SuggestionLog
from cw_desktop.gui.adapter_controller import AdapterController
from cw_desktop.gui.alternatives_panel import AlternativesPanel
from cw_desktop.gui.creative_panel import CreativePanel
from cw_desktop.gui.distraction_free import DistractionFree
from cw_desktop.gui.document_tab import DocumentTab
from cw_desktop.gui.documents_controller import DocumentsController
from cw_desktop.gui.find_bar import FindBar
from cw_desktop.gui.generation_panel import GenerationPanel
from cw_desktop.gui.history_controller import HistoryController
from cw_desktop.gui.main_menu import MainMenu, MenuSlots
from cw_desktop.gui.model_controller import ModelController
from cw_desktop.gui.preferences_controller import PreferencesController
from cw_desktop.gui.project_controller import ProjectController
from cw_desktop.gui.project_menu import ProjectMenu
from cw_desktop.gui.project_panel import ProjectPanel
from cw_desktop.gui.prompts import Prompts, settings_problems_message
from cw_desktop.gui.rewrite_controller import RewriteController
from cw_desktop.gui.status_widgets import ModelStatus
from cw_desktop.gui.story_controller import StoryController
from cw_desktop.gui.suggestion_controller import SuggestionController
from cw_desktop.gui.theme import apply_theme, colours, editor_font
from cw_desktop.gui.voice_controller import VoiceController
from cw_desktop.gui.writing_controller import WritingController
from cw_desktop.workers.generation_worker import GenerationWorker
from cw_desktop.workers.inference_process import (InferenceProcess, RemoteGenerationWorker, RemoteModelLoader,
                                                  RemoteVoiceWorker)
from cw_desktop.workers.threads import start_in_thread, stop_thread


class MainWindow(QMainWindow):
    model_ready = Signal(dict)  # model_info of the model now suggesting
    model_failed = Signal(str, str)  # spec, message
    autosaved = Signal(int)  # how many documents were copied to the recovery folder

    def __init__(self, paths: AppPaths, settings: Settings, parent: QWidget | None = None,
                 inference: InferenceProcess | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.settings = settings
        self.log = SuggestionLog(paths.suggestion_log)
        self._close_guards: list[Callable[[], bool]] = []
        self._shut_down = False

        # With `inference`, the model runs in that child process and these are its stand-ins.
        self.inference = inference
        self.generation = RemoteGenerationWorker(inference) if inference else GenerationWorker()
        self.generation_thread = None if inference else start_in_thread(self.generation, "cw-generation")

        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self._build_controllers(Prompts(self))
        self.main_menu = MainMenu(self, settings, paths.data_dir, self._menu_slots(),
                                  [self.alternatives_dock, self.generation_dock, self.creative_dock, self.project_dock],
                                  self.model_menu)
        self.project_menu = ProjectMenu(self, self.main_menu.file_menu, self.main_menu.file_saving_section,
                                        self.projects)
        self.count_timer = QTimer(self, singleShot=True, interval=150)
        self.count_timer.timeout.connect(self._update_counts)
        self._connect_parts()
        QApplication.instance().applicationStateChanged.connect(self._on_application_state)

        self.apply_settings()
        self.documents.new_document()
        self.resize(1200, 800)
        self._restore_window_layout()

    # -- layout --------------------------------------------------------------------------------------
    def _build_central(self) -> None:
        self.tabs = QTabWidget(documentMode=True, tabsClosable=True, movable=True)
        self.tabs.tabBar().setDrawBase(False)  # no hard line between the menu and the page
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
        self.generation_panel = GenerationPanel(self.settings.suggestions)
        self.creative_panel = CreativePanel()
        self.alternatives_dock = self._dock("Alternatives", self.alternatives_panel, "alternativesDock")
        self.generation_dock = self._dock("Generation", self.generation_panel, "generationDock", scrolling=True)
        self.creative_dock = self._dock("Write a piece", self.creative_panel, "creativeDock")
        self.tabifyDockWidget(self.generation_dock, self.creative_dock)
        self.generation_dock.raise_()
        self.project_panel = ProjectPanel()
        self.project_dock = self._dock("Project", self.project_panel, "projectDock")
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.project_dock)
        self.project_dock.hide()  # shown when a project opens
        self.alternatives_dock.setVisible(self.settings.suggestions.show_side_panel)
        self.alternatives_dock.visibilityChanged.connect(self._remember_side_panel)
        self.focus_mode = DistractionFree(self, [self.alternatives_dock, self.generation_dock, self.creative_dock,
                                                 self.project_dock],
                                          self.tabs.tabBar(), lambda: [t.editor for t in self.document_tabs()],
                                          lambda: self.settings.editor.line_width_chars)

    def _dock(self, title: str, widget: QWidget, name: str, scrolling: bool = False) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if scrolling:
            # A tall panel (Generation: presets, DRY, Memory, banned phrases, note, gauge) in a scroll
            # area can shrink, leaving room for the alternatives and their history on a small screen.
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setWidget(widget)
            widget = scroll
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable |
                         QDockWidget.DockWidgetFeature.DockWidgetMovable)
        dock.setMinimumWidth(260)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.model_status = ModelStatus()
        self.counts = QLabel()
        self.counts.setProperty("muted", True)
        # Notices get their own label: QStatusBar.showMessage would hide the model's state.
        self.notice = QLabel()
        self.notice.setProperty("muted", True)
        self.notice_timer = QTimer(self, singleShot=True)
        self.notice_timer.timeout.connect(self.notice.clear)
        self.statusBar().addWidget(self.model_status)
        self.statusBar().addWidget(self.notice, 1)
        self.session_status = QLabel()  # words written this session against the project's target
        self.session_status.setProperty("muted", True)
        self.statusBar().addPermanentWidget(self.session_status)
        self.statusBar().addPermanentWidget(self.counts)

    def notify(self, text: str, milliseconds: int = 5000) -> None:
        self.notice.setText(text)
        self.notice_timer.start(milliseconds)

    # -- wiring --------------------------------------------------------------------------------------
    def _build_controllers(self, prompts: Prompts) -> None:
        self.preferences = PreferencesController(self.settings, self.paths.settings_file, self)
        self.documents = DocumentsController(self.tabs, self.paths, self.settings, prompts, self)
        self.models = ModelController(self.paths, self.settings, self.generation, self.model_status, prompts, self,
                                      RemoteModelLoader(self.inference, self.paths) if self.inference else None)
        self.model_menu = self.models.menu
        self.story = StoryController(self)  # Memory, lorebook, author's note of the front document
        self.controller = SuggestionController(self.generation, self.settings, self.log, self.generation_panel.options,
                                               self.story.current, self)
        self.history = HistoryController(self.controller, self.alternatives_panel, self)
        self.writing = WritingController(self.generation, self.creative_panel, self.documents, self,
                                         banned_phrases=self.generation_panel.banned_phrases,
                                         memory=lambda: self.story.current().memory)
        self.rewriting = RewriteController(self.generation, self.documents, self,  # rewrite the selection
                                           banned_phrases=self.generation_panel.banned_phrases)
        self.adapters = AdapterController(self.paths, self.generation, self)
        self.generation_panel.layout().insertWidget(0, self.adapters.strength)
        self.voice = VoiceController(self.paths, lambda: self.controller.model_spec or self.settings.model.spec, self,
                                     RemoteVoiceWorker(self.inference) if self.inference else None)
        # A chapter of the open project uses the project's story context (kept in its project file).
        self.projects = ProjectController(self.project_panel, self.documents, self.settings, self, story=self.story)

    def _menu_slots(self) -> MenuSlots:
        documents, preferences = self.documents, self.preferences
        return MenuSlots(
            new=documents.new_document, open=documents.open_dialog, fill_recent=documents.fill_recent_menu,
            save=documents.save, save_as=documents.save_as,
            close_tab=lambda: documents.close_tab(documents.current_tab()), quit=self.close,
            editor=self._on_editor, find=self.show_find, find_next=self.find_bar.find_next,
            preferences=preferences.show_dialog, dark_theme=preferences.set_dark_theme,
            soft_wrap=preferences.set_soft_wrap, font=lambda: preferences.choose_font(self._current_font()),
            font_size=preferences.change_font_size, distraction_free=self.toggle_distraction_free,
            suggest_now=self.controller.suggest_now, auto_suggest=preferences.set_auto_suggest,
            write_piece=self._show_creative, lorebook=lambda: self.story.edit_lorebook(self),
            retry=self.history.retry, swap=self.history.swap,
            voice_gutter=self._set_voice_gutter, rewrite=self.rewriting.rewrite_selection)

    def _connect_parts(self) -> None:
        documents, models = self.documents, self.models
        documents.current_changed.connect(self._on_current_document)
        documents.tab_created.connect(self._style_editor)
        documents.tab_closing.connect(self._on_tab_closing)
        documents.text_changed.connect(self.count_timer.start)
        documents.text_changed.connect(self.controller.schedule_budget)
        documents.title_changed.connect(self._show_title)
        documents.title_changed.connect(self._follow_document_folder)  # e.g. "Save as" gave it a folder
        documents.notice.connect(self.notify)
        documents.settings_changed.connect(self.preferences.save)
        documents.autosaved.connect(self.autosaved)
        self.projects.notice.connect(self.notify)
        self.projects.settings_changed.connect(self.preferences.save)
        self.projects.session_changed.connect(self.session_status.setText)
        models.settings_changed.connect(self.preferences.save)
        self.preferences.applied.connect(self.apply_settings)
        self.preferences.suggestions_changed.connect(self.controller.apply_settings)
        self.preferences.notice.connect(self.notify)
        models.installed.connect(self._on_model_installed)
        models.failed.connect(self.model_failed)
        self.writing.suggestions_paused.connect(self._pause_suggestions)
        self.rewriting.suggestions_paused.connect(self._pause_suggestions)
        self.rewriting.notice.connect(lambda text: self.notify(text, 6000))
        self.alternatives_panel.chosen.connect(self._insert_alternative)
        self.generation_panel.options_changed.connect(self._on_options_changed)
        self._connect_story()
        self.controller.budget_changed.connect(self.generation_panel.show_budget)
        self.controller.alternatives_changed.connect(self.alternatives_panel.show_alternatives)
        self.controller.status_message.connect(lambda text: self.notify(text, 6000))
        self.voice.notice.connect(lambda text: self.notify(text, 8000))
        self.adapters.notice.connect(lambda text: self.notify(text, 6000))
        documents.current_changed.connect(self.adapters.document_changed)
        documents.title_changed.connect(lambda *_: self.adapters.document_changed(documents.current_tab()))
        models.installed.connect(lambda *_: self.adapters.model_installed())
        self.statusBar().addPermanentWidget(self.voice.legend)
        self.history.status_message.connect(lambda text: self.notify(text, 6000))
        documents.current_changed.connect(lambda tab: self.history.attach(tab.editor if tab else None))

    def _connect_story(self) -> None:
        story, panel, fields = self.story, self.generation_panel, self.generation_panel.story_fields
        panel.memory_changed.connect(story.set_memory)
        fields.note_changed.connect(story.set_authors_note)
        fields.depth_changed.connect(story.set_authors_note_depth)
        fields.lorebook_requested.connect(lambda: story.edit_lorebook(self))
        story.loose_edited.connect(self.documents.story_edited)
        story.switched.connect(lambda: (panel.set_memory(story.current().memory), fields.show_story(story.current())))
        story.changed.connect(lambda: fields.show_lorebook_size(story.current()))
        story.changed.connect(self.controller.schedule_budget)
        story.notice.connect(self.notify)

    def start(self, model_spec: str | None = None) -> None:
        """After the window is shown: start loading the model in the background, then offer crash
        recovery (the model loads while the writer decides)."""
        self.switch_model(model_spec or self.settings.model.spec)
        self.report_settings_problems()
        self.projects.reopen_last()
        self.documents.restore_from_crash()

    def report_settings_problems(self) -> None:
        if self.settings.problems:
            self.prompts.error("Settings file problems", settings_problems_message(self.settings))

    @property
    def prompts(self) -> Any:
        """The questions to the writer (Prompts; tests swap in scripted answers)."""
        return self.documents.prompts

    @prompts.setter
    def prompts(self, prompts: Any) -> None:
        self.documents.prompts = self.models.prompts = prompts

    def switch_model(self, spec: str) -> Any:
        return self.models.switch_model(spec)

    def _on_model_installed(self, spec: str, info: dict[str, Any]) -> None:
        self.controller.model_spec = spec
        self.controller.refresh_budget()
        self.model_ready.emit(info)

    def _pause_suggestions(self, reason: str) -> None:
        self.controller.paused_reason = reason

    def register_close_guard(self, guard: Callable[[], bool]) -> None:
        """`guard()` is asked before the window closes; False keeps it open (e.g. training running)."""
        self._close_guards.append(guard)
        if len(self._close_guards) == 1:  # a fine-tune started: leave it all but one core
            self.generation.set_training_running(True)

    def unregister_close_guard(self, guard: Callable[[], bool]) -> None:
        if guard in self._close_guards:
            self._close_guards.remove(guard)
            if not self._close_guards:
                self.generation.set_training_running(False)

    def is_training_running(self) -> bool:
        return bool(self._close_guards)

    # -- the documents, as the window shows them ----------------------------------------------------
    def current_tab(self) -> DocumentTab | None:
        return self.documents.current_tab()

    def current_editor(self):  # type: ignore[no-untyped-def]
        tab = self.current_tab()
        return tab.editor if tab else None

    def document_tabs(self) -> list[DocumentTab]:
        return self.documents.document_tabs()

    def open_path(self, path: Path) -> DocumentTab | None:
        return self.documents.open_path(path)

    def _on_current_document(self, tab: DocumentTab | None) -> None:
        self.controller.attach(tab.editor if tab else None)
        self.voice.attach(tab)
        self._follow_document_folder()
        self.story.show_loose(tab.story if tab else None)
        self.alternatives_panel.show_alternatives([], 0)
        if self.find_bar.isVisible() and tab is not None:
            self.find_bar.editor = tab.editor
        self._update_counts()
        self.controller.schedule_budget()

    def _follow_document_folder(self, *_ignored: object) -> None:
        tab = self.documents.current_tab()
        self.controller.set_document(tab.path if tab else None)

    def _on_tab_closing(self, tab: DocumentTab) -> None:
        if tab.editor is self.controller.editor:
            self.controller.attach(None)

    def _show_title(self, title: str, modified: bool) -> None:
        self.setWindowTitle(f"{title}[*] — {APP_NAME}")
        self.setWindowModified(modified)

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

    def _current_font(self) -> QFont:
        editor = self.current_editor()
        return editor.font() if editor else self.font()

    def _show_creative(self) -> None:
        self.creative_dock.show()
        self.creative_dock.raise_()
        self.creative_panel.title.setFocus()

    def _on_options_changed(self) -> None:
        self.generation_panel.store(self.settings.suggestions)
        self.preferences.save()
        self.controller.schedule_budget()

    def _on_application_state(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self.documents.autosave()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.ActivationChange and not self.isActiveWindow():
            self.documents.autosave()  # focus lost: another app may crash the session, or the battery may die
        elif event.type() == QEvent.Type.ActivationChange:
            # Back from another program: did it edit our files?
            QTimer.singleShot(0, self.documents.check_disk_changes)
        super().changeEvent(event)

    # -- settings, theme, fonts ----------------------------------------------------------------------
    def apply_settings(self) -> None:
        apply_theme(QApplication.instance(), self.settings.editor.theme)
        self.main_menu.apply_settings()
        self.generation_panel.gauge.set_colours(colours(self.settings.editor.theme))
        for tab in self.document_tabs():
            tab.editor.keys = self.settings.keys
            self._style_editor(tab)
        self.documents.apply_settings()
        self.controller.apply_settings()
        if self.voice.enabled != self.settings.editor.voice_gutter:
            self.voice.set_enabled(self.settings.editor.voice_gutter)

    def _style_editor(self, tab: DocumentTab) -> None:
        editor_settings = self.settings.editor
        editor = tab.editor
        editor.setFont(editor_font(editor_settings.font_family, editor_settings.font_size))
        editor.ghost_colour = QColor(colours(editor_settings.theme).ghost)
        editor.setLineWrapMode(editor.LineWrapMode.WidgetWidth if editor_settings.soft_wrap
                               else editor.LineWrapMode.NoWrap)
        if self.focus_mode.active:
            self.focus_mode.center(editor)

    def _set_voice_gutter(self, on: bool) -> None:
        self.settings.editor.voice_gutter = on
        self.voice.set_enabled(on)
        self.preferences.save()

    def _remember_side_panel(self, visible: bool) -> None:
        if not self.focus_mode.active and not self.isHidden():
            self.settings.suggestions.show_side_panel = visible

    # -- distraction-free mode -----------------------------------------------------------------------
    def toggle_distraction_free(self) -> None:
        self.focus_mode.toggle()
        self.main_menu.focus_action.setChecked(self.focus_mode.active)

    # -- window state --------------------------------------------------------------------------------
    def _restore_window_layout(self) -> None:
        editor_settings = self.settings.editor
        if editor_settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(editor_settings.window_geometry.encode("ascii")))
        if editor_settings.window_state and self.restoreState(
                QByteArray.fromBase64(editor_settings.window_state.encode("ascii"))):
            self._docks_sized = True  # the writer's own arrangement wins over our defaults

    def _remember_window_layout(self) -> None:
        if self.focus_mode.active:
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
        if self.focus_mode.active:
            self.focus_mode.center_all()

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape and self.focus_mode.active:
            self.toggle_distraction_free()
            return
        super().keyPressEvent(event)

    # -- closing -------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        for guard in list(self._close_guards):
            try:
                if not guard():
                    event.ignore()
                    return
            except Exception:  # noqa: BLE001 - a broken guard must not make the window unclosable
                continue
        if not self.documents.settle_all():
            event.ignore()
            return
        self.controller.attach(None)  # ends any ghost and flushes the suggestion log
        self.documents.remove_recovery_copies()  # a clean exit: nothing to recover next time
        self.documents.store_memory()
        self.story.flush()
        self._remember_window_layout()
        self.preferences.save()
        self.shutdown()
        event.accept()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop the workers; True when both threads ended (a model load cannot be interrupted)."""
        if self._shut_down:
            return True
        self._shut_down = True
        self.documents.shut_down()  # copies still being written land first
        self.writing.stop_writing()
        self.rewriting.shut_down()
        request = self.current_editor().ghost_request if self.current_editor() else None
        if request is not None:
            self.generation.cancel(request)
        self.models.cancel_download()
        voice_stopped = self.voice.stop(timeout_ms)  # stops between two blocks of paragraphs
        stopped = (stop_thread(self.generation_thread, timeout_ms) if self.generation_thread else True) and voice_stopped
        if self.inference is not None:
            self.inference.stop(timeout_ms / 1000)
        stopped = self.projects.shut_down(timeout_ms) and stopped
        return self.models.stop(timeout_ms) and stopped
