"""The Model menu: pick a base or fine-tuned model, open a folder, download, fine-tuning dialogs.

Rebuilt each time it opens, so a model just fine-tuned or downloaded shows up without a restart.
The menu only reports what the writer chose; the window does the loading.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QDialog, QMenu, QWidget

from cw_desktop.core.catalog import CatalogEntry, load_catalog
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings

DOWNLOADABLE = ("gpt2", "distilgpt2", "gpt2-medium")

# Builds one of the model dialogs: (paths, settings, parent window) -> the dialog.
DialogFactory = Callable[[AppPaths, Settings, QWidget], QDialog]


# The dialogs are imported when first opened, not at start-up: together they take ~0.4 s (QtCharts).
def fine_tune_dialog(paths: AppPaths, settings: Settings, parent: QWidget) -> QDialog:
    from cw_desktop.dialogs.finetune import FineTuneDialog

    return FineTuneDialog(paths, settings, parent=parent)


def model_manager_dialog(paths: AppPaths, settings: Settings, parent: QWidget) -> QDialog:
    from cw_desktop.dialogs.model_manager import ModelManagerDialog

    return ModelManagerDialog(paths, settings, parent=parent)


def suggestion_history_dialog(paths: AppPaths, settings: Settings, parent: QWidget) -> QDialog:
    from cw_desktop.dialogs.suggestion_history import SuggestionHistoryDialog

    return SuggestionHistoryDialog(paths, parent=parent)


DIALOGS: tuple[tuple[str, DialogFactory], ...] = (("Fine-tune on a folder…", fine_tune_dialog),
                                                  ("Model manager…", model_manager_dialog),
                                                  ("Suggestion history…", suggestion_history_dialog))


class ModelMenu(QMenu):
    model_chosen = Signal(str)  # a model spec
    download_requested = Signal(str)  # a catalog key
    open_folder_requested = Signal()
    show_models_folder_requested = Signal()
    dialog_requested = Signal(str, object)  # menu label, DialogFactory

    def __init__(self, paths: AppPaths, current_spec: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__("&Model", parent)
        self.paths = paths
        self.current_spec = current_spec
        self.aboutToShow.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        from cw_desktop.core.model_registry import base_infos, list_fine_tuned

        self.clear()
        current = self.current_spec()
        group = QActionGroup(self)
        self.addSection("Base models")
        infos = base_infos(self.paths)
        for info in infos:
            self._choice(group, info.name, info.spec, current)
        self.addSection("Fine-tuned on your writing")
        tuned = list_fine_tuned(self.paths)
        if not tuned:
            self.addAction("(none yet — Fine-tune on a folder…)").setEnabled(False)
        for info in tuned:
            self._choice(group, info.name + (f" — from {info.base_model}" if info.base_model else ""), info.spec,
                         current)
        self.addSeparator()
        self.addAction("Open model folder…", self.open_folder_requested.emit)
        download = self.addMenu("Download")
        local = {info.spec for info in infos}
        for entry in load_catalog():
            if entry.key in DOWNLOADABLE:
                action = download.addAction(f"{entry.name}, {download_size_mb(entry)} MB",
                                            lambda key=entry.key: self.download_requested.emit(key))
                action.setEnabled(entry.key not in local)
        self.addAction("Show models folder", self.show_models_folder_requested.emit)
        self.addSeparator()
        for label, factory in DIALOGS:
            self.addAction(label, lambda text=label, make=factory: self.dialog_requested.emit(text, make))

    def _choice(self, group: QActionGroup, label: str, spec: str, current: str) -> None:
        action = self.addAction(label, lambda: self.model_chosen.emit(spec))
        action.setCheckable(True)
        action.setChecked(same_model(spec, current))
        action.setToolTip(spec)
        group.addAction(action)


def download_size_mb(entry: CatalogEntry) -> int:
    return int(entry.extra.get("download_size_mb", entry.disk_size_mb))  # type: ignore[call-overload]


def same_model(a: str, b: str) -> bool:
    """Two specs naming the same model ("bundled" == "bundled", two spellings of one folder)."""
    if a == b:
        return True
    if not (os.sep in a or os.sep in b):
        return False
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return False
