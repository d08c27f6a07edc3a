"""Which model suggests: loading, switching and downloading models, the Model menu and the model status.

The model loader (its own QThread) imports torch and loads / converts / downloads models, so the
model in use keeps answering meanwhile; a loaded model is handed to the generation worker. The
window listens to `installed` / `failed`; the fine-tuning dialogs open with `dialog_parent` as
their parent (they ask it to guard against closing while a trainer runs).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget
from qasync import asyncSlot

from cw_desktop.core.catalog import load_catalog
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings
from cw_desktop.gui.model_menu import DialogFactory, ModelMenu, download_size_mb
from cw_desktop.gui.status_widgets import ModelStatus
from cw_desktop.workers.generation_worker import GenerationWorker
from cw_desktop.workers.model_loader import ModelLoaderWorker, describe_model
from cw_desktop.workers.threads import WorkerError, signal_future, start_in_thread, stop_thread


MAX_RESTARTS = 3  # crashes of the inference process within two minutes before it is left stopped


class ModelController(QObject):
    installed = Signal(str, dict)  # the spec the writer chose, model_info of the model now suggesting
    failed = Signal(str, str)  # spec, message
    settings_changed = Signal()  # the default model changed: the settings file should be saved

    def __init__(self, paths: AppPaths, settings: Settings, generation: GenerationWorker, status: ModelStatus,
                 prompts: Any, dialog_parent: QWidget, loader: ModelLoaderWorker | None = None) -> None:
        super().__init__(dialog_parent)
        self.paths = paths
        self.settings = settings
        self.generation = generation
        self.status = status
        self.prompts = prompts
        self.dialog_parent = dialog_parent
        self._model_target: str | None = None  # the spec the writer asked for last
        self._download_target: str | None = None
        self.current_model: dict[str, Any] | None = None
        # `loader` is given when the model runs in the inference process (its stand-in needs no thread).
        self.loader = loader or ModelLoaderWorker(paths)
        self.loader.backend = settings.model.inference_backend
        self.loader_thread = start_in_thread(self.loader, "cw-model-loader") if loader is None else None
        self._restarts: list[float] = []  # when the inference process was restarted after a crash
        process = getattr(self.loader, "process", None)
        if process is not None:
            process.died.connect(self._on_process_died)
        self.loader.progress.connect(self._on_load_progress)
        self.menu = ModelMenu(paths, lambda: self._model_target or self.settings.model.spec, dialog_parent)
        self.menu.model_chosen.connect(self.switch_model)
        self.menu.download_requested.connect(self._ask_download)
        self.menu.open_folder_requested.connect(self._open_model_folder)
        self.menu.show_models_folder_requested.connect(lambda: self._reveal(self.paths.models_dir))
        self.menu.dialog_requested.connect(self.open_dialog)
        status.choose_model.connect(self._popup_menu)

    # -- loading -------------------------------------------------------------------------------------
    @asyncSlot(str)
    async def switch_model(self, spec: str) -> None:
        """Load `spec` in the loader thread and hand it to the generation worker; never blocks."""
        self._model_target = spec
        self.status.show_loading(short_spec(spec))
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
                self._show_error(spec, str(exc))
            return
        self._on_installed(spec, info)

    def _on_installed(self, spec: str, info: dict[str, Any]) -> None:
        self.current_model = info
        self._show_ready(info)
        if self.settings.model.spec != spec:
            self.settings.model.spec = spec
            self.settings_changed.emit()
        self.installed.emit(spec, info)

    def _show_ready(self, info: dict[str, Any]) -> None:
        details = f"{info['name']}\n{info['folder']}\nContext window: {info['context_length']} tokens, " \
                  f"loaded in {info['load_seconds']:.1f} s"
        self.status.show_ready(describe_model(info), details)

    def _show_error(self, spec: str, message: str) -> None:
        if self.current_model is not None:
            message += f" — still using {self.current_model['name']}."
        self.status.show_error(message)
        self.failed.emit(spec, message)

    def _on_process_died(self, message: str) -> None:
        """The model's process crashed (the documents are safe in this one): start it again and
        reload the model, unless it keeps crashing."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 120] + [now]
        self.current_model = None
        if len(self._restarts) > MAX_RESTARTS:
            self._show_error(self._model_target or self.settings.model.spec,
                             f"{message}; it crashed {len(self._restarts)} times in two minutes, so it was not "
                             "restarted — choose another model or restart cw_desktop")
            return
        self.status.show_error(f"{message} — restarting it")
        self.loader.process.start()
        self.switch_model(self._model_target or self.settings.model.spec)

    def _on_load_progress(self, spec: str, fraction: float, stage: str) -> None:
        if spec in (self._model_target, self._download_target):
            self.status.show_loading(short_spec(spec), fraction, stage)

    # -- downloading ---------------------------------------------------------------------------------
    @asyncSlot(str)
    async def download_model(self, spec: str) -> None:
        entry = next((e for e in load_catalog() if e.matches(spec)), None)
        name = entry.name if entry else spec
        self._download_target = spec
        self.status.show_loading(f"{name} (download)")
        downloading = signal_future(self.loader.downloaded, self.loader.failed, key=spec)
        self.loader.request_download(spec)
        try:
            folder = await downloading
        except WorkerError as exc:
            self.failed.emit(spec, str(exc))
            self.prompts.error("Download failed", str(exc))
            if self.current_model is not None:
                self._show_ready(self.current_model)  # nothing changed: keep writing with it
            else:
                self.status.show_error(str(exc))
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

    # -- the Model menu's other entries --------------------------------------------------------------
    def _popup_menu(self) -> None:
        self.menu.refresh()
        button = self.status.choose_button
        self.menu.popup(button.mapToGlobal(button.rect().topLeft()))

    def _open_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.dialog_parent, "Open a model folder (save_pretrained)",
                                                  str(self.paths.models_dir))
        if folder:
            self.switch_model(folder)

    def _reveal(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def open_dialog(self, label: str, factory: DialogFactory) -> QWidget | None:
        """Open one of the Model menu's dialogs (model_menu.DIALOGS); None when it could not be built."""
        try:
            dialog = factory(self.paths, self.settings, self.dialog_parent)
        except Exception as exc:  # noqa: BLE001 - a broken dialog must not take the editor down
            QMessageBox.warning(self.dialog_parent, "Not available",
                                f"{label.rstrip('…')} could not be opened: {type(exc).__name__}: {exc}")
            return None
        signal = getattr(dialog, "use_model_requested", None)
        if signal is not None:
            signal.connect(self.switch_model)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    # -- stopping ------------------------------------------------------------------------------------
    def cancel_download(self) -> None:
        self.loader.cancel()

    def stop(self, timeout_ms: int) -> bool:
        """Stop the loader thread; False when a model load is still running (it cannot be interrupted)."""
        return stop_thread(self.loader_thread, timeout_ms) if self.loader_thread is not None else True


def short_spec(spec: str) -> str:
    if spec == "bundled":
        return "the bundled model"
    return Path(spec).name if (os.sep in spec or spec.startswith((".", "~"))) else spec
