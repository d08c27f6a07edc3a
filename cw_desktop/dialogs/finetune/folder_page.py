"""Step 1 of the fine-tune dialog: the folder, interrupted runs to resume, and the scan's verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from cw_desktop.core.model_registry import InterruptedRun
from cw_desktop.dialogs.finetune.common import ERROR_STYLE, muted, rough_duration


class FolderPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)

        self.resume_box = QGroupBox("Interrupted training")
        resume_layout = QHBoxLayout(self.resume_box)
        self.resume_combo = QComboBox()
        self.resume_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.resume_button = QPushButton("Resume")
        self.discard_button = QPushButton("Discard…")
        resume_layout.addWidget(self.resume_combo, 1)
        resume_layout.addWidget(self.resume_button)
        resume_layout.addWidget(self.discard_button)
        layout.addWidget(self.resume_box)

        layout.addWidget(QLabel("<b>Which folder holds your writing?</b>"))
        row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("A folder of .txt, .md, .docx, .odt, .rtf, .html or .epub files")
        self.choose_button = QPushButton("Choose folder…")
        self.rescan_button = QPushButton("Scan again")
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.choose_button)
        row.addWidget(self.rescan_button)
        layout.addLayout(row)
        layout.addWidget(muted("The folder is only read, never changed. Sub-folders are included; "
                                "Project Gutenberg headers, licences and duplicate files are left out."))

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.summary)
        self.refusal = QLabel()
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet(ERROR_STYLE)
        self.refusal.hide()
        layout.addWidget(self.refusal)

        self.files = QTableWidget(0, 3)
        self.files.setHorizontalHeaderLabels(["File", "Used?", "Words / reason"])
        self.files.verticalHeader().hide()
        self.files.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.files.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.files, 1)

    def show_runs(self, runs: list[InterruptedRun]) -> None:
        self.resume_combo.clear()
        for run in runs:
            folder = Path(run.folder).name or run.folder
            started = run.created[:16].replace("T", " ")
            self.resume_combo.addItem(f"{run.name} — {folder} on {run.base}, started {started}", run)
        self.resume_box.setVisible(bool(runs))

    def show_report(self, report: dict[str, Any]) -> None:
        self.progress.hide()
        used, skipped = report["files_used"], report["files_skipped"]
        parts = [f"<b>{used} file{'s' if used != 1 else ''} used</b>, {skipped} skipped",
                 f"{report['words']:,} words"]
        if "train_tokens" in report:
            parts.append(f"{report['train_tokens']:,} training tokens + {report['eval_tokens']:,} held out "
                         f"(to measure progress)")
            parts.append(f"estimated time on this computer: <b>about {rough_duration(report['estimated_seconds'])}</b> "
                         f"with the automatic settings")
        self.summary.setText(" · ".join(parts))
        self.refusal.setText(report.get("refusal") or "")
        self.refusal.setVisible(bool(report.get("refusal")))
        rows = report["files"]
        self.files.setRowCount(len(rows))
        muted = self.palette().color(self.foregroundRole())
        muted.setAlpha(140)
        for index, row in enumerate(rows):
            used_file = row["status"] == "used"
            reason = row.get("reason") or ""
            if row.get("detail") and row["detail"] != reason:
                reason = f"{reason}: {row['detail']}" if reason else row["detail"]
            cells = [row["path"], "yes" if used_file else "skipped", f"{row['words']:,} words" if used_file else reason]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if not used_file:
                    item.setForeground(muted)
                self.files.setItem(index, column, item)

    def show_scanning(self, done: int, total: int, path: str) -> None:
        self.progress.show()
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"Reading {done} of {total}: {path}" if total else "Reading…")

    def show_busy(self, text: str) -> None:
        self.progress.show()
        self.progress.setRange(0, 0)
        self.progress.setFormat(text)
        self.summary.setText(text)
        self.refusal.hide()
