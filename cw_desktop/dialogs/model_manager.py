"""Model ▸ Model manager…: every model on this machine, what it was trained on, how good it is.

Lists the base models and the writer's fine-tunes (core/model_registry.py) with their provenance,
held-out perplexity before/after, the writer's blind ratings and the acceptance rate of their
suggestions in the editor. Actions: use, rename, delete, show folder, export (copied off the GUI
thread), import a fine-tune trained on another machine (checked first: core/model_import.py), and
rate the samples of a fine-tune that was never rated.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QMessageBox, QProgressBar, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from cw_desktop.core.adapters import is_adapter_folder, under_bases
from cw_desktop.core.model_import import check_import_folder
from cw_desktop.core.model_registry import (ModelInfo, RegistryError, acceptance_text, delete_model, list_models,
                                            rename_model)
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings
from cw_desktop.core.units import format_duration, format_size
from cw_desktop.dialogs import questions
from cw_desktop.dialogs.widgets import button, button_row
from cw_desktop.workers.export_worker import ExportWorker
from cw_desktop.workers.threads import start_owned, stop_worker

# An export in flight gets this long to remove its partial copy when the dialog goes away.
EXPORT_STOP_WAIT_MS = 60_000
COLUMNS = ("Name", "Base model", "Trained on", "Tokens", "Date", "Duration", "Perplexity", "Your rating",
           "Suggestions accepted", "Size")


# -- questions to the writer (module functions so tests can answer them) -------------------------

def ask_text(parent: QWidget, title: str, label: str, text: str) -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, text=text)
    return value if ok else None


def choose_export_folder(parent: QWidget) -> str:
    return QFileDialog.getExistingDirectory(parent, "Export the model into which folder?", str(Path.home()))


def choose_import_folder(parent: QWidget) -> str:
    return QFileDialog.getExistingDirectory(parent, "Import which model folder?", str(Path.home()))


def show_refusal(parent: QWidget, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)


def show_folder(folder: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def perplexity_text(info: ModelInfo) -> str:
    before, after = info.perplexity_before, info.perplexity_after
    if before is None or after is None:
        return "—"
    change = (after - before) / before * 100 if before else 0.0
    return f"{before:.1f} → {after:.1f} ({change:+.0f}%)"


class ModelManagerDialog(QDialog):
    use_model_requested = Signal(str)
    export_done = Signal(bool)  # succeeded? (the message is in the status line); GUI thread

    def __init__(self, paths: AppPaths, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(1180, 460)
        self.paths = paths
        self.settings = settings
        self.models: list[ModelInfo] = []
        # Shown as active; follows "Use" at once (the editor switches in the background).
        self.active_spec = settings.model.spec
        self._exporting: str | None = None
        self._importing = False  # the copy in flight (_exporting) brings a model in rather than out

        layout = QVBoxLayout(self)
        self.active_label = QLabel()
        self.active_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.active_label)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Your rating"), QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.use_selected())
        layout.addWidget(self.table, 1)

        self.export_progress = QProgressBar()
        self.export_progress.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.export_progress)
        layout.addWidget(self.status)

        layout.addLayout(self._build_buttons())

        self.export_worker = ExportWorker(paths)
        self.export_thread = start_owned(self.export_worker, "cw-export", self, EXPORT_STOP_WAIT_MS)
        self.export_worker.progress.connect(self._export_progress)
        self.export_worker.finished.connect(self._export_finished)
        self.export_worker.failed.connect(self._export_failed)
        self.refresh()

    def _build_buttons(self) -> QHBoxLayout:
        (self.use_button, self.rate_button, self.rename_button, self.delete_button, self.folder_button,
         self.export_button, self.refresh_button, self.close_button) = (button(text, action) for text, action in (
            ("Use", self.use_selected), ("Rate samples…", self.rate_selected), ("Rename…", self.rename_selected),
            ("Delete…", self.delete_selected), ("Show folder", self.show_selected_folder),
            ("Export…", self.export_selected), ("Refresh", self.refresh), ("Close", self.reject)))
        self.merge_button = button("Merge adapters…", self.merge_adapters)
        self.import_button = button("Import model folder…", self.import_folder)
        return button_row([self.use_button, self.rate_button, self.rename_button, self.delete_button,
                           self.folder_button, self.export_button, self.merge_button],
                          [self.import_button, self.refresh_button, self.close_button])

    def adapters(self) -> list[ModelInfo]:
        return [m for m in self.models if m.folder is not None and is_adapter_folder(m.folder)]

    def merge_adapters(self) -> None:
        from cw_desktop.dialogs.merge_adapters import MergeAdaptersDialog

        self.merge_dialog = MergeAdaptersDialog(self.paths, self.adapters(), self)
        self.merge_dialog.merged.connect(lambda _folder: self.refresh())
        self.merge_dialog.open()

    # -- the table -----------------------------------------------------------------------------
    def refresh(self) -> None:
        selected = self.selected()
        self.models = under_bases(list_models(self.paths))  # each adapter under its base
        self.table.setRowCount(len(self.models))
        bold = QFont(self.font())
        bold.setBold(True)
        active_row = None
        for row, info in enumerate(self.models):
            active = info.matches_spec(self.active_spec)
            if active:
                active_row = row
            data_text = "—"
            if info.data_folder:
                data_text = Path(info.data_folder).name or info.data_folder
                if info.files is not None:
                    data_text += f" ({info.files} file{'s' if info.files != 1 else ''})"
            adapter = info.folder is not None and is_adapter_folder(info.folder)
            cells = [("● " if active else "") + ("    ↳ adapter: " if adapter else "") + info.name,
                     info.base_model,
                     data_text,
                     f"{info.train_tokens:,}" if info.train_tokens is not None else "—",
                     info.created[:10] if info.created else "—",
                     format_duration(info.duration_s) if info.is_fine_tuned else "—",
                     perplexity_text(info),
                     info.rating.short_text() if info.rating else ("not rated" if info.is_fine_tuned else "—"),
                     acceptance_text(info.acceptance),
                     format_size(info.size_bytes) if info.size_bytes is not None else "not prepared yet"]
            tips = {0: info.problem or (f"In use in the editor. {info.spec}" if active else info.spec),
                    2: info.data_folder or "",
                    COLUMNS.index("Your rating"): info.rating.long_text() if info.rating else ""}
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tips.get(column, text))
                if active:
                    item.setFont(bold)
                if column == 0:
                    item.setData(Qt.ItemDataRole.UserRole, info.spec)
                self.table.setItem(row, column, item)
        self.active_label.setText(self._active_text(active_row))
        restore = next((r for r, m in enumerate(self.models) if selected and m.spec == selected.spec), active_row)
        if restore is not None:
            self.table.selectRow(restore)
        self._update_buttons()

    def _active_text(self, active_row: int | None) -> str:
        if active_row is None:
            return f"The editor uses <b>{self.active_spec}</b>."
        info = self.models[active_row]
        if info.is_fine_tuned:
            return (f"The editor uses <b>{info.name}</b>, fine-tuned from {info.base_model} on "
                    f"{Path(info.data_folder).name or 'your writing'}.")
        return f"The editor uses <b>{info.name}</b>."

    def selected(self) -> ModelInfo | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        row = rows[0].row()
        return self.models[row] if 0 <= row < len(self.models) else None

    def select_spec(self, spec: str) -> None:
        for row, info in enumerate(self.models):
            if info.matches_spec(spec):
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        info = self.selected()
        has_folder = info is not None and info.folder is not None
        fine_tuned = info is not None and info.is_fine_tuned
        self.use_button.setEnabled(info is not None and not info.matches_spec(self.active_spec))
        self.rate_button.setEnabled(fine_tuned and bool(info and info.report.get("samples")))
        self.rename_button.setEnabled(fine_tuned)
        self.delete_button.setEnabled(fine_tuned)
        self.folder_button.setEnabled(has_folder)
        self.export_button.setEnabled(has_folder and self._exporting is None)
        self.import_button.setEnabled(self._exporting is None)
        self.merge_button.setEnabled(len(self.adapters()) >= 2)

    # -- actions -------------------------------------------------------------------------------
    def use_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        self.use_model_requested.emit(info.spec)
        self.active_spec = info.spec
        self.status.setText(f"The editor is switching to {info.name}.")
        self.refresh()

    def rename_selected(self) -> None:
        info = self.selected()
        if info is None or info.folder is None or not info.is_fine_tuned:
            return
        name = ask_text(self, "Rename model", "New name:", info.name)
        if name is None or name.strip() == info.name:
            return
        try:
            rename_model(info.folder, name, self.paths)
        except (RegistryError, OSError) as exc:
            QMessageBox.warning(self, "Could not rename", str(exc))
            return
        self.refresh()

    def delete_selected(self) -> None:
        info = self.selected()
        if info is None or info.folder is None or not info.is_fine_tuned:
            return
        if info.matches_spec(self.active_spec):
            QMessageBox.information(self, "Model in use", f"{info.name} is the model the editor is using. "
                                    "Switch the editor to another model first, then delete this one.")
            return
        if not questions.confirm(self, "Delete model?",
                                 f"Delete {info.name} ({format_size(info.size_bytes)})? Its folder {info.folder} is "
                                 "removed with its report and ratings. Your manuscripts are not touched.",
                                 "Delete", "Keep"):
            return
        folder = info.folder
        questions.attempt(self, "Could not delete", lambda: delete_model(folder, self.paths), (RegistryError, OSError))
        self.refresh()

    def show_selected_folder(self) -> None:
        info = self.selected()
        if info is not None and info.folder is not None and not show_folder(info.folder):
            self.status.setText(f"Could not open a file manager; the model is in {info.folder}")

    def export_selected(self) -> None:
        info = self.selected()
        if info is None or info.folder is None or self._exporting is not None:
            return
        target = choose_export_folder(self)
        if not target:
            return
        self._exporting = str(info.folder)
        self.export_progress.setRange(0, 100)
        self.export_progress.setValue(0)
        self.export_progress.show()
        self.status.setText(f"Copying {info.name} to {target}…")
        if not self.export_thread.isRunning():  # the dialog was closed and shown again
            self.export_thread.start()
        self.export_worker.export(str(info.folder), target)
        self._update_buttons()

    def import_folder(self) -> None:
        """A fine-tune trained elsewhere (docs/training-on-bigger-machines.md): checked, then copied in."""
        if self._exporting is not None:
            return
        folder = choose_import_folder(self)
        if not folder:
            return
        try:
            check = check_import_folder(Path(folder), self.paths)
        except (RegistryError, OSError) as exc:
            self.status.setText(f"Not imported: {exc}")
            show_refusal(self, "Cannot import this folder", str(exc))
            return
        self._exporting, self._importing = folder, True
        self.export_progress.setRange(0, 100)
        self.export_progress.setValue(0)
        self.export_progress.show()
        self.status.setText(f"Importing {check.report.get('name') or check.folder.name} "
                            f"({format_size(check.size_bytes)}) as {check.name}…")
        if not self.export_thread.isRunning():  # the dialog was closed and shown again
            self.export_thread.start()
        self.export_worker.import_folder(folder)
        self._update_buttons()

    @Slot(str, int, int)
    def _export_progress(self, folder: str, done: int, total: int) -> None:
        self.export_progress.setValue(done * 100 // max(1, total))

    @Slot(str, str)
    def _export_finished(self, folder: str, destination: str) -> None:
        if self._importing:
            self.refresh()
            self.select_spec(destination)
            self._export_over(f"Imported into {destination}. Press Use to write with it.", ok=True)
            return
        self._export_over(f"Exported to {destination}. Any tool that reads save_pretrained folders can load it.",
                          ok=True)

    @Slot(object, str)
    def _export_failed(self, folder: str, message: str) -> None:
        self._export_over(f"{'Import' if self._importing else 'Export'} failed: {message}", ok=False)

    def _export_over(self, status: str, *, ok: bool) -> None:
        self._exporting, self._importing = None, False
        self.export_progress.hide()
        self.status.setText(status)
        self._update_buttons()
        self.export_done.emit(ok)

    def rate_selected(self) -> None:
        """Open the blind comparison of a fine-tune's samples (for models rated later, or re-rated)."""
        info = self.selected()
        if info is None or info.folder is None or not info.report.get("samples"):
            return
        from cw_desktop.dialogs.finetune.results import ResultsView

        dialog = QDialog(self)
        dialog.setWindowTitle(f"Rate {info.name}")
        dialog.resize(900, 700)
        layout = QVBoxLayout(dialog)
        view = ResultsView(info.folder, info.report)
        view.ratings_saved.connect(lambda _path: self.refresh())
        layout.addWidget(view)
        close = QPushButton("Close")
        close.clicked.connect(dialog.accept)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.rating_dialog = dialog
        dialog.show()

    def done(self, result: int) -> None:
        # Closing cancels an export in progress (its partial copy is removed) and ends the thread.
        stop_worker(self.export_worker, self.export_thread, EXPORT_STOP_WAIT_MS)
        self._exporting, self._importing = None, False
        super().done(result)


def main(argv: list[str] | None = None) -> int:
    """`python -m cw_desktop.dialogs.model_manager [--data DIR]`: the manager on its own."""
    from cw_desktop.dialogs import standalone

    app, paths, settings = standalone.start(standalone.parser("Open the model manager on its own.").parse_args(argv))
    return standalone.run(app, ModelManagerDialog(paths, settings))


if __name__ == "__main__":
    raise SystemExit(main())
