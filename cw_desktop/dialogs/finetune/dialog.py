"""The fine-tune dialog: walks the writer through the four pages and runs the trainer process.

Pages: folder_page.FolderPage (1), model_page.ModelPage (2), training_page.TrainingPage (3),
results.ResultsView inside page 4. The scan runs in a ScanWorker thread; training runs as
`cw-desktop train --json-progress` in a TrainingProcess, whose events this dialog turns into page
updates.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDialog, QFrame, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from cw_desktop.core.model_registry import (InterruptedRun, RegistryError, discard_run, list_interrupted_runs,
                                            list_models, rename_model, save_run_options, unique_model_folder)
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.preference_pairs import count_pairs
from cw_desktop.core.settings import Settings
from cw_desktop.dialogs import questions
from cw_desktop.dialogs.finetune.common import ERROR_STYLE, rough_duration
from cw_desktop.dialogs.finetune.folder_page import FolderPage
from cw_desktop.dialogs.finetune.model_page import ModelPage
from cw_desktop.dialogs.finetune.results import ResultsView
from cw_desktop.dialogs.finetune.training_page import TrainingPage
from cw_desktop.dialogs.widgets import button, button_row
from cw_desktop.workers.scan_worker import DEFAULT_EVAL_SHARE, ScanWorker, plan_from_counts
from cw_desktop.workers.threads import start_owned, stop_worker
from cw_desktop.workers.training_process import TrainingProcess, cli_prefix, path_options, train_arguments

STEP_TITLES = ("Folder", "Model", "Training", "Results")
# How long closing the editor waits for a cancelled trainer to save its checkpoint.
CLOSE_WAIT_MS = 60_000
# Closing the dialog waits this long for a scan to stop; a scan busy counting a big folder's tokens
# finishes in the background (stop_worker keeps its thread referenced).
SCAN_STOP_WAIT_MS = 2_000


class FineTuneDialog(QDialog):
    use_model_requested = Signal(str)
    scan_done = Signal()  # step 1's report (or its error) is shown; emitted in the GUI thread

    def __init__(self, paths: AppPaths, settings: Settings, parent: QWidget | None = None, *,
                 trainer_command: list[str] | None = None) -> None:
        """`trainer_command` replaces `python -m cw_desktop` (tests run a fake trainer script)."""
        super().__init__(parent)
        self.setWindowTitle("Fine-tune on a folder")
        self.setModal(False)
        self.resize(920, 720)
        self.paths = paths
        self.settings = settings
        self.trainer_command = list(trainer_command) if trainer_command else cli_prefix()
        self.report: dict[str, Any] | None = None  # the latest scan report
        self.automatic_hp: dict[str, Any] = {}
        self.process: TrainingProcess | None = None
        self.run_context: dict[str, Any] = {}  # folder, base, include_accepted, name of the current run
        self.resumable_run: str | None = None
        self.output: Path | None = None
        self.results: ResultsView | None = None
        self._scan_request = 0
        self._resume_after_exit = False  # "Resume training" was clicked while the stopped trainer exited
        self._close_guard: Any = None  # registered with the editor window while a trainer runs

        layout = QVBoxLayout(self)
        self.steps_label = QLabel()
        self.steps_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.steps_label)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        self.stack = QStackedWidget()
        self.folder_page = FolderPage()
        self.model_page = ModelPage()
        self.training_page = TrainingPage()
        self.results_page = QWidget()
        QVBoxLayout(self.results_page).setContentsMargins(0, 0, 0, 0)
        for page in (self.folder_page, self.model_page, self.training_page, self.results_page):
            self.stack.addWidget(page)
        layout.addWidget(self.stack, 1)

        layout.addLayout(self._build_buttons())
        self._connect_pages()
        self.scan_worker = ScanWorker(paths)
        self.scan_thread = start_owned(self.scan_worker, "cw-scan", self, SCAN_STOP_WAIT_MS)
        self.scan_worker.progress.connect(self._scan_progress)
        self.scan_worker.finished.connect(self._scan_finished)
        self.scan_worker.failed.connect(self._scan_failed)

        self._fill_base_models()
        self._fill_accepted()
        self.folder_page.show_runs(list_interrupted_runs(paths))
        self._go(0)

    def _build_buttons(self) -> QHBoxLayout:
        self.back_button = button("Back", self._back)
        self.next_button = button("Next", self._next)
        self.cancel_training_button = button("Stop training", self.stop_training)
        self.resume_button = button("Resume training", self._resume_current)
        self.use_button = button("Use this model", self._use_model)
        self.close_button = button("Close", self.reject)
        return button_row([self.back_button], [self.cancel_training_button, self.resume_button, self.next_button,
                                               self.use_button, self.close_button])

    def _connect_pages(self) -> None:
        self.folder_page.choose_button.clicked.connect(self._choose_folder)
        self.folder_page.rescan_button.clicked.connect(lambda: self.scan(rescan=True))
        self.folder_page.folder_edit.returnPressed.connect(lambda: self.scan())
        self.folder_page.resume_button.clicked.connect(self._resume_selected)
        self.folder_page.discard_button.clicked.connect(self._discard_selected)
        self.model_page.changed.connect(self._update_estimate)
        self.model_page.base_combo.currentIndexChanged.connect(self._base_changed)
        self.model_page.accepted_check.toggled.connect(self._base_changed)
        self.model_page.share_spin.editingFinished.connect(self._share_changed)
        self.model_page.reset_button.clicked.connect(self._reset_advanced)

    # -- navigation ----------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.stack.currentIndex()

    def _go(self, step: int) -> None:
        self.stack.setCurrentIndex(step)
        parts = []
        for index, title in enumerate(STEP_TITLES):
            text = f"{index + 1}&nbsp;&nbsp;{title}"
            parts.append(f"<b style='font-size:large'>{text}</b>" if index == step else
                         f"<span style='color:gray'>{text}</span>")
        self.steps_label.setText("&nbsp;&nbsp;&nbsp;›&nbsp;&nbsp;&nbsp;".join(parts))
        self._update_buttons()

    def _update_buttons(self) -> None:
        step = self.step
        running = self.is_training_running()
        self.back_button.setVisible(step in (1,) or (step == 2 and not running and self.output is None))
        self.next_button.setVisible(step in (0, 1))
        self.next_button.setText("Start training" if step == 1 else "Next")
        ready = self.report is not None and not self.report.get("refusal") and "train_tokens" in self.report
        self.next_button.setEnabled(ready)
        self.cancel_training_button.setVisible(step == 2 and running)
        self.resume_button.setVisible(step == 2 and not running and self.resumable_run is not None)
        self.use_button.setVisible(step == 3)
        self.close_button.setText("Close")

    def _back(self) -> None:
        if self.step == 2:
            self._go(1)
        elif self.step > 0:
            self._go(self.step - 1)

    def _next(self) -> None:
        if self.step == 0:
            self._go(1)
            self._update_estimate()
        elif self.step == 1:
            self.start_training()

    # -- step 1: folder and scan ---------------------------------------------------------------
    def _choose_folder(self) -> None:
        folder = questions.choose_folder(self, self.folder_page.folder_edit.text() or str(Path.home()))
        if folder:
            self.folder_page.folder_edit.setText(folder)
            self.scan()

    def scan(self, *, rescan: bool = False) -> int:
        """Scan the folder in the edit box for the selected base model; returns the request id."""
        folder = self.folder_page.folder_edit.text().strip()
        if not folder:
            return 0
        self.report = None
        if not self.scan_thread.isRunning():  # the dialog was closed and shown again
            self.scan_thread.start()
        self.folder_page.show_busy("Reading the folder…")
        self._update_buttons()
        self._scan_request = self.scan_worker.request(folder, self.base_spec(), self.model_page.share_spin.value(),
                                                      self._accepted_texts(), rescan=rescan)
        return self._scan_request

    @Slot(int, int, int, str)
    def _scan_progress(self, request: int, done: int, total: int, path: str) -> None:
        if request == self._scan_request:
            self.folder_page.show_scanning(done, total, path)

    @Slot(object)
    def _scan_finished(self, report: dict[str, Any]) -> None:
        if report.get("request") != self._scan_request:
            return
        self.report = report
        self.folder_page.show_report(report)
        self.model_page.show_continuation(report.get("continuation"))
        if "hyperparameters" in report:
            self.automatic_hp = dict(report["hyperparameters"])
            self.model_page.set_automatic(self.automatic_hp, report["eval_share"])
            if self.model_page.mode_group.checkedButton() is None:  # keep a mode the writer chose
                self.model_page.mode_buttons.get(self.automatic_hp["mode"], self.model_page.mode_buttons["lora"]) \
                    .setChecked(True)
            if not self.model_page.name_edit.text().strip():
                self.model_page.name_edit.setText(self._default_name())
        self._update_estimate()
        self._update_buttons()
        self.scan_done.emit()

    @Slot(object, str)
    def _scan_failed(self, request: int, message: str) -> None:
        if request != self._scan_request:
            return
        self.report = None
        self.folder_page.progress.hide()
        self.folder_page.summary.setText("")
        self.folder_page.refusal.setText(message)
        self.folder_page.refusal.show()
        self.model_page.estimate.setText(f"<span style='{ERROR_STYLE}'>{html.escape(message)}</span>")
        self._update_buttons()
        self.scan_done.emit()

    # -- step 2: model and settings ------------------------------------------------------------
    def _fill_base_models(self) -> None:
        combo = self.model_page.base_combo
        combo.clear()
        current = self.settings.model.spec
        found_current = False
        try:
            infos = list_models(self.paths)
        except Exception:  # an unreadable catalog must not stop fine-tuning from the bundled model
            infos = []
        for info in infos:
            label = info.name if not info.is_fine_tuned else f"{info.name} (your fine-tune, continue from it)"
            combo.addItem(label, info.spec)
            if info.matches_spec(current):
                combo.setCurrentIndex(combo.count() - 1)
                found_current = True
        if combo.findData("bundled") < 0:
            combo.insertItem(0, "SmolLM2-135M (bundled)", "bundled")
        if not found_current and current:
            # The editor's current model (a folder opened by hand, say) is always a choice.
            combo.insertItem(0, f"The editor's current model ({Path(current).name or current})", current)
            combo.setCurrentIndex(0)

    def base_spec(self) -> str:
        return str(self.model_page.base_combo.currentData() or "bundled")

    def _fill_accepted(self) -> None:
        count = len(self._all_accepted_texts())
        check = self.model_page.accepted_check
        check.setText(f"Include my accepted suggestions ({count} from the editor's log)")
        check.setEnabled(count > 0)
        self.model_page.show_preferences(count_pairs(self.paths.suggestion_log))
        check.setToolTip("Suggestions you accepted, with the text around them and what you wrote next, "
                         "are added to the training text (never to the held-out text).")

    def _all_accepted_texts(self) -> list[str]:
        from cw_desktop.core.suggestion_log import SuggestionLog

        try:
            return SuggestionLog(self.paths.suggestion_log).training_texts()
        except OSError:
            return []

    def _accepted_texts(self) -> list[str] | None:
        return self._all_accepted_texts() if self.model_page.accepted_check.isChecked() else None

    def _base_changed(self) -> None:
        # Another tokenizer means other token counts, plan and estimate (the folder is not re-read).
        if self.folder_page.folder_edit.text().strip():
            self.model_page.estimate.setText("Counting tokens with this model's tokenizer…")
            self.scan()

    def _share_changed(self) -> None:
        if self.report is not None and abs(self.model_page.share_spin.value() - self.report["eval_share"]) > 1e-9:
            self.scan()

    def _reset_advanced(self) -> None:
        if self.report is not None and abs(self.report["eval_share"] - DEFAULT_EVAL_SHARE) > 1e-9:
            self.model_page.share_spin.setValue(DEFAULT_EVAL_SHARE)
            self.scan()
        elif self.automatic_hp:
            self.model_page.set_automatic(self.automatic_hp, DEFAULT_EVAL_SHARE)
            self.model_page.mode_buttons[self.automatic_hp["mode"]].setChecked(True)
            self._update_estimate()

    def overrides(self) -> dict[str, Any]:
        """Only what the writer changed from the automatic plan: the trainer plans the rest itself."""
        page, auto = self.model_page, self.automatic_hp
        chosen: dict[str, Any] = {}
        if page.mode != auto.get("mode"):
            chosen["mode"] = page.mode
        # The Advanced fields start at the automatic values, so any difference is the writer's choice.
        if page.steps_radio.isChecked():
            if page.steps_spin.value() != auto.get("max_steps"):
                chosen["max_steps"] = page.steps_spin.value()
        else:
            chosen["epochs"] = round(page.epochs_spin.value(), 2)
        if not math.isclose(page.lr_spin.value(), float(auto.get("lr", 0)), rel_tol=1e-6):
            chosen["lr"] = page.lr_spin.value()
        if page.batch_spin.value() != auto.get("batch_size"):
            chosen["batch_size"] = page.batch_spin.value()
        if page.block_spin.value() != auto.get("block_size"):
            chosen["block_size"] = page.block_spin.value()
        return chosen

    def _update_estimate(self) -> None:
        report = self.report
        if report is None or "train_tokens" not in report:
            return
        try:
            plan = plan_from_counts(report["train_tokens"], report["eval_tokens"], report["model"], self.overrides())
        except ValueError as exc:
            self.model_page.estimate.setText(f"<span style='{ERROR_STYLE}'>{html.escape(str(exc))}</span>")
            self.next_button.setEnabled(False)
            return
        hp = plan["hyperparameters"]
        text = (f"<b>Estimated time: about {rough_duration(plan['estimated_seconds'])}</b> on this computer — "
                f"{hp['max_steps']:,} steps of {hp['block_size'] * hp['batch_size'] * hp['grad_accum']:,} tokens "
                f"({hp['epochs']:.2f} passes over your {report['train_tokens']:,} training tokens), "
                f"learning rate {hp['lr']:g}. You can stop at any time and resume later.")
        if plan["refusal"]:
            text += f"<br><span style='{ERROR_STYLE}'>{html.escape(plan['refusal'])}</span>"
        self.model_page.estimate.setText(text)
        self.next_button.setEnabled(self.step != 1 or not plan["refusal"])

    def _default_name(self) -> str:
        folder = Path(self.folder_page.folder_edit.text().strip())
        base = self.base_spec()
        base_name = "smollm2" if base == "bundled" else Path(base).name or base
        return f"{folder.name} on {base_name}"

    # -- step 3: training ----------------------------------------------------------------------
    def is_training_running(self) -> bool:
        """Training in progress; a trainer that already reported its end and is only exiting is not."""
        return self.process is not None and self.process.is_running() and not self.process.training_over

    def start_training(self) -> None:
        if self.report is None or self.is_training_running():
            return
        folder = self.report["folder"]
        base = self.base_spec()
        name = " ".join(self.model_page.name_edit.text().split()) or self._default_name()
        output = unique_model_folder(self.paths, name)
        overrides = self.overrides()
        include_accepted = self.model_page.accepted_check.isChecked()
        tonight = self.model_page.continuing
        args = train_arguments(folder, base, output=str(output), mode=overrides.get("mode", self.model_page.mode),
                               max_steps=overrides.get("max_steps"), epochs=overrides.get("epochs"),
                               lr=overrides.get("lr"), batch_size=overrides.get("batch_size"),
                               block_size=overrides.get("block_size"),
                               eval_share=self.model_page.share_spin.value(), include_accepted=include_accepted,
                               preferences=self.model_page.preferences_check.isChecked(),
                               continue_from=tonight.model if tonight else None,
                               minutes=self.model_page.minutes_spin.value() if tonight else None)
        self.run_context = {"folder": folder, "base": base, "include_accepted": include_accepted, "name": name,
                            "eval_share": self.model_page.share_spin.value()}
        self.training_page.chart.clear()
        self.training_page.log.clear()
        self._launch(args)

    def resume_run(self, run: InterruptedRun) -> None:
        """Continue an interrupted run from its checkpoint (same folder, base and settings)."""
        if self.is_training_running():
            return
        # The same held-out share and extra texts as the interrupted run, or the data would differ
        # (the trainer refuses to resume on different data).
        args = train_arguments(run.folder, run.base, eval_share=run.eval_share, include_accepted=run.include_accepted,
                               resume=str(run.run_dir))
        self.run_context = {"folder": run.folder, "base": run.base, "include_accepted": run.include_accepted,
                            "eval_share": run.eval_share, "name": self.run_context.get("name") or run.name,
                            "run_dir": str(run.run_dir)}
        self.training_page.append_log(f"Resuming {run.name} from its last checkpoint…")
        self._launch(args)

    def _launch(self, args: list[str]) -> None:
        command = self.trainer_command + path_options(self.paths) + args
        process = TrainingProcess(command[0], command[1:], parent=self)
        page = self.training_page
        # Progress events only update the page; the ones that change the run's state come here.
        for signal, slot in ((process.stage, page.show_stage), (process.scan, page.show_scan),
                             (process.step, page.show_step), (process.eval, page.show_eval),
                             (process.checkpoint, page.show_checkpoint), (process.log_line, page.show_log_line),
                             (process.plan, self._on_plan), (process.baseline, self._on_baseline),
                             (process.done, self._on_done), (process.cancelled, self._on_cancelled),
                             (process.failed, self._on_failed), (process.finished, self._process_finished)):
            signal.connect(slot)
        self.process = process
        self.resumable_run = None
        self.output = None
        page.message.hide()
        page.status.setText("Starting the trainer…")
        page.progress.setRange(0, 0)
        page.numbers.setText(" ")
        self._register_close_guard()
        self._go(2)
        process.start()
        self._update_buttons()

    @Slot()
    def _process_finished(self) -> None:
        if not self.is_training_running():
            self._unregister_close_guard()
        self._update_buttons()
        if self._resume_after_exit:
            self._resume_after_exit = False
            self._resume_current()

    def stop_training(self) -> None:
        if self.process is not None and self.is_training_running():
            self.training_page.status.setText("Stopping after the current step (saving a checkpoint)…")
            self.cancel_training_button.setEnabled(False)
            self.process.cancel()

    @Slot(object)
    def _on_plan(self, event: dict[str, Any]) -> None:
        run_dir = event.get("run_dir")
        self.run_context["run_dir"] = run_dir
        if run_dir and Path(run_dir).is_dir():
            try:
                save_run_options(Path(run_dir), eval_share=self.run_context.get("eval_share"),
                                 include_accepted=bool(self.run_context.get("include_accepted")))
            except OSError as exc:  # only resuming later from step 1 would miss it
                self.training_page.append_log(f"(could not record the run's options: {exc})")
        hp = event.get("hyperparameters") or {}
        self.training_page.chart.set_max_steps(int(event["max_steps"]))
        self.training_page.progress.setRange(0, int(event["max_steps"]))
        self.training_page.append_log(
            f"  mode {event.get('mode')}, {event['max_steps']} steps, block {hp.get('block_size')}, batch "
            f"{hp.get('batch_size')}×{hp.get('grad_accum')}, learning rate {hp.get('lr')}")

    @Slot(object)
    def _on_baseline(self, event: dict[str, Any]) -> None:
        perplexity = float(event["perplexity"])
        self.run_context["baseline"] = perplexity
        # The base model's held-out loss is the chart's starting point at step 0.
        self.training_page.chart.add_eval(0, math.log(perplexity))
        self.training_page.append_log(f"  base model: held-out perplexity {perplexity:.2f}")

    @Slot(object)
    def _on_done(self, event: dict[str, Any]) -> None:
        self.output = Path(event["output"])
        report = dict(event.get("report") or {})
        wanted = self.run_context.get("name")
        if wanted and wanted != report.get("name"):
            try:
                rename_model(self.output, wanted, self.paths)
                report["name"] = wanted
            except (RegistryError, OSError) as exc:
                self.training_page.append_log(f"Could not name the model '{wanted}': {exc}")
        self.training_page.status.setText("Done.")
        self.training_page.progress.setValue(self.training_page.progress.maximum())
        self.training_page.append_log(f"Saved {self.output}")
        self.show_results(self.output, report)

    def _run_ended(self, event: dict[str, Any]) -> bool:
        """The trainer stopped early (cancelled or failed); True when its checkpoint can be resumed."""
        self.cancel_training_button.setEnabled(True)
        run_dir = event.get("run_dir")
        if event.get("checkpoint") and run_dir:
            self.resumable_run = str(run_dir)
            return True
        return False

    @Slot(object)
    def _on_cancelled(self, event: dict[str, Any]) -> None:
        if self._run_ended(event):
            text = (f"Training stopped at step {event.get('step')}. The checkpoint is kept: "
                    "“Resume training” continues from there (also later, from step 1 of this dialog).")
        else:
            text = "Training stopped before the first checkpoint; nothing was saved. Start again from step 2."
        self.training_page.status.setText("Stopped.")
        self.training_page.show_message(text, error=False)
        self._update_buttons()

    @Slot(object)
    def _on_failed(self, event: dict[str, Any]) -> None:
        self._run_ended(event)
        self.training_page.status.setText("Training failed.")
        self.training_page.show_message(str(event.get("message")), error=True)
        self.training_page.append_log(f"ERROR: {event.get('message')}")
        self._update_buttons()

    def _resume_current(self) -> None:
        if self.resumable_run is None:
            return
        for run in list_interrupted_runs(self.paths):
            if str(run.run_dir) == self.resumable_run:
                self.resume_run(run)
                return
        if self.process is not None and self.process.is_running():
            # Not listed because the stopped trainer still holds the run's lock: it is exiting.
            self._resume_after_exit = True
            self.training_page.status.setText("Resuming as soon as the stopped trainer has exited…")
            return
        self.training_page.show_message("The interrupted run's folder is gone; start a new run from step 2.",
                                        error=True)

    def _selected_run(self) -> InterruptedRun | None:
        run = self.folder_page.resume_combo.currentData()
        return run if isinstance(run, InterruptedRun) else None

    def _resume_selected(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.training_page.chart.clear()
            self.training_page.log.clear()
            self.run_context = {"name": run.name}
            self.resume_run(run)

    def _discard_selected(self) -> None:
        run = self._selected_run()
        if run is None or not questions.confirm(
                self, "Discard the interrupted run?", f"Delete the checkpoint of {run.name}? The run cannot be "
                "resumed afterwards. Your manuscripts are not touched.", "Discard", "Keep"):
            return
        questions.attempt(self, "Could not discard the run", lambda: discard_run(run.run_dir, self.paths),
                          (RegistryError, OSError))
        self.folder_page.show_runs(list_interrupted_runs(self.paths))

    # -- step 4: results -----------------------------------------------------------------------
    def show_results(self, folder: Path, report: dict[str, Any]) -> None:
        layout = self.results_page.layout()
        if self.results is not None:
            layout.removeWidget(self.results)
            self.results.deleteLater()
        self.results = ResultsView(folder, report)
        layout.addWidget(self.results)
        self._go(3)

    def _use_model(self) -> None:
        if self.output is not None:
            self.use_model_requested.emit(str(self.output))
            self.use_button.setText("Used in the editor ✓")
            self.use_button.setEnabled(False)

    # -- closing -------------------------------------------------------------------------------
    def _register_close_guard(self) -> None:
        """While a trainer runs, the editor asks before closing ; no-op without a window."""
        window = self.parent()
        if self._close_guard is not None or window is None or not hasattr(window, "register_close_guard"):
            return
        dialog_alive = [True]
        self.destroyed.connect(lambda *_: dialog_alive.__setitem__(0, False))

        def ok_to_close() -> bool:
            # The window may outlive this dialog: a destroyed dialog has nothing left to guard.
            return not dialog_alive[0] or self.ask_to_stop()

        self._close_guard = ok_to_close
        window.register_close_guard(ok_to_close)

    def _unregister_close_guard(self) -> None:
        window = self.parent()
        if self._close_guard is not None and window is not None and hasattr(window, "unregister_close_guard"):
            window.unregister_close_guard(self._close_guard)
            self._close_guard = None

    def ask_to_stop(self) -> bool:
        """True when nothing is running or the writer agreed to stop training (which then stops)."""
        if not self.is_training_running():
            return True
        if not questions.confirm(self, "Training is running",
                       "A model is being trained. Stop training now? The last checkpoint is kept, and you can "
                       "resume the run later from Model ▸ Fine-tune on a folder.",
                       "Stop training", "Keep training"):
            return False
        self.stop_training()
        assert self.process is not None
        self.process.wait(CLOSE_WAIT_MS)
        return True

    def reject(self) -> None:
        # The window's close button, Esc and "Close" all land here (QDialog.closeEvent calls reject).
        if self.ask_to_stop():
            super().reject()

    def done(self, result: int) -> None:
        self.shutdown()
        self._unregister_close_guard()
        super().done(result)

    def shutdown(self) -> None:
        """Stop the scan thread (a scan in progress stops at the next file)."""
        stop_worker(self.scan_worker, self.scan_thread, SCAN_STOP_WAIT_MS)
        if self.process is not None and self.process.is_running() and self.process.training_over:
            # The model is saved; give the trainer its second or two to exit instead of killing it.
            self.process.wait(10_000)
