"""Run `cw-desktop train ... --json-progress` in a separate process and turn its JSON lines into signals.

Training runs out of process so the editor survives whatever happens to it: an out-of-memory kill,
a crash in native code, or the writer's task manager. The child speaks the progress protocol of
docs/architecture.md on stdout (one JSON object per line) and human-readable text on stderr.

Every signal carries a plain dict (the protocol event as received). `failed` is emitted exactly once
when the run ends without `done` or `cancelled`: an "error" event, a failure to start, or an exit
without a final event (crash, SIGKILL); its dict has "message" (for the writer), "exit_code",
"crashed" and "log_tail" (the last stderr lines, for the log pane).
"""

from __future__ import annotations

import json
import sys
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from cw_desktop.core.paths import AppPaths
from cw_desktop.ml.plan import trainer_threads_beside_editor

EXIT_DONE, EXIT_ERROR, EXIT_CANCELLED = 0, 1, 3
# A step of the bundled model plus saving a checkpoint takes seconds, not minutes; after this the
# child is presumed stuck and killed (its last checkpoint on disk is still usable).
DEFAULT_CANCEL_TIMEOUT_MS = 120_000
LOG_TAIL_LINES = 40


def cli_prefix() -> list[str]:
    """How to start our own CLI from the GUI: the same interpreter, so the same virtualenv.

    In the one-folder bundle sys.executable is the `cw-desktop` program, which answers `-m` like
    Python (packaging/cw_desktop_main.py)."""
    return [sys.executable, "-m", "cw_desktop"]


def path_options(paths: AppPaths) -> list[str]:
    """--config/--data/--cache so the child uses exactly the GUI's folders."""
    return ["--config", str(paths.config_dir), "--data", str(paths.data_dir), "--cache", str(paths.cache_dir)]


def train_arguments(folder: str, base: str, *, output: str | None = None, mode: str | None = None,
                    max_steps: int | None = None, epochs: float | None = None, lr: float | None = None,
                    batch_size: int | None = None, block_size: int | None = None,
                    eval_share: float | None = None, include_accepted: bool = False,
                    resume: str | None = None, threads: int | None = None, preferences: bool = False,
                    continue_from: str | None = None, minutes: float | None = None) -> list[str]:
    """The `train` subcommand's arguments, always with --json-progress and --threads.

    `threads` defaults to all cores but one (ml.plan.trainer_threads_beside_editor): the editor's
    suggestions keep a core while the fine-tune runs.

    `resume` is the run folder of an interrupted run (paths.runs_dir/<name>): the trainer takes the
    output folder and hyperparameters from its run.json, so only folder and base are repeated.

    `continue_from` (a fine-tune of `folder`, which is then the base) trains on what changed since it,
    within `minutes`; a time budget replaces steps or epochs.
    """
    args = ["train", folder, "--continue", continue_from] if continue_from else ["train", folder, "--base", base]
    if minutes:
        max_steps = epochs = None
    options: list[tuple[str, Any]] = [("--output", output), ("--mode", mode), ("--max-steps", max_steps),
                                      ("--epochs", epochs), ("--lr", lr), ("--batch-size", batch_size),
                                      ("--block-size", block_size), ("--eval-share", eval_share)]
    for flag, value in options:
        if value is not None:
            args += [flag, str(value)]
    if minutes:
        args += ["--minutes", str(minutes)]
    if include_accepted:
        args.append("--include-accepted")
    if preferences:
        args.append("--preferences")
    if resume:
        args += ["--resume", resume]
    args += ["--threads", str(threads or trainer_threads_beside_editor())]
    return args + ["--json-progress"]


class TrainingProcess(QObject):
    """One training run in a child process. Create, connect, start(); cancel() to stop it."""

    stage = Signal(object)
    scan = Signal(object)
    plan = Signal(object)
    baseline = Signal(object)
    step = Signal(object)
    eval = Signal(object)
    checkpoint = Signal(object)
    done = Signal(object)
    cancelled = Signal(object)
    failed = Signal(object)
    log_line = Signal(str)  # stderr text and any non-protocol stdout, for the log pane
    finished = Signal()  # after the terminal signal, when the process has fully exited

    def __init__(self, program: str, args: list[str], *, parent: QObject | None = None,
                 cancel_timeout_ms: int = DEFAULT_CANCEL_TIMEOUT_MS) -> None:
        super().__init__(parent)
        self.program = program
        self.args = list(args)
        self.cancel_timeout_ms = cancel_timeout_ms
        self._process = QProcess(self)
        self._process.setProgram(program)
        self._process.setArguments(self.args)
        env = QProcessEnvironment.systemEnvironment()
        # The child's stdout is a pipe: without this Python would buffer whole blocks of events.
        env.insert("PYTHONUNBUFFERED", "1")
        self._process.setProcessEnvironment(env)
        self._process.readyReadStandardOutput.connect(self._read_stdout)
        self._process.readyReadStandardError.connect(self._read_stderr)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._stdout_buffer = b""
        self._stderr_buffer = b""
        self._log_tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._terminal_event: str | None = None  # "done" | "cancelled" | "error" once received
        self._error_message = ""
        self._cancel_requested = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill_after_timeout)
        self._killed_by_us = False
        self._reported = False
        # The latest facts, so a crash or a forced kill can still say where a resumable checkpoint is.
        self.last_step: dict[str, Any] = {}
        self.last_checkpoint: dict[str, Any] = {}
        self.last_plan: dict[str, Any] = {}

    @classmethod
    def for_cli(cls, paths: AppPaths, train_args: list[str], *, prefix: list[str] | None = None,
                parent: QObject | None = None) -> "TrainingProcess":
        """The real trainer: `python -m cw_desktop --config .. --data .. --cache .. train ...`."""
        command = (prefix or cli_prefix()) + path_options(paths) + train_args
        return cls(command[0], command[1:], parent=parent)

    # -- control -------------------------------------------------------------------------------
    def start(self) -> None:
        self._process.start()

    def is_running(self) -> bool:
        return self._process.state() != QProcess.ProcessState.NotRunning

    @property
    def training_over(self) -> bool:
        """The trainer reported done/cancelled/error (it may still be exiting: that takes a second or two)."""
        return self._terminal_event is not None or self._reported

    def pid(self) -> int:
        return int(self._process.processId())

    def cancel(self) -> None:
        """Ask the trainer to stop between steps and save a checkpoint (SIGTERM); kill if it hangs."""
        if not self.is_running() or self._cancel_requested:
            return
        self._cancel_requested = True
        self._emit_log("Stopping after the current step and saving a checkpoint…")
        self._process.terminate()
        self._kill_timer.start(self.cancel_timeout_ms)

    def wait(self, timeout_ms: int) -> bool:
        """Block until the process exits (used when the app is closing); True if it did."""
        if not self.is_running():
            return True
        return self._process.waitForFinished(timeout_ms)

    # -- reading -------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        self._stdout_buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._stdout_buffer = self._stdout_buffer.split(b"\n")
        for raw in lines:
            self._handle_stdout_line(raw.decode("utf-8", errors="replace").strip())

    def _read_stderr(self) -> None:
        self._stderr_buffer += bytes(self._process.readAllStandardError().data())
        *lines, self._stderr_buffer = self._stderr_buffer.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").rstrip()
            # A \r-redrawn progress bar would flood the log; keep its last state only.
            text = text.split("\r")[-1]
            if text:
                self._emit_log(text)

    def _emit_log(self, text: str) -> None:
        self._log_tail.append(text)
        self.log_line.emit(text)

    def _handle_stdout_line(self, line: str) -> None:
        if not line:
            return
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            # Stray prints (a library warning on stdout) are shown, never fatal.
            self._emit_log(line)
            return
        self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "step":
            self.last_step = event
        elif kind == "checkpoint":
            self.last_checkpoint = event
        elif kind == "plan":
            self.last_plan = event
        if kind == "error":
            self._terminal_event = "error"
            self._error_message = str(event.get("message") or "Training failed")
            return  # reported from _on_finished, with the exit code and the log tail
        if kind in ("done", "cancelled"):
            self._terminal_event = kind
        signal = {"stage": self.stage, "scan": self.scan, "plan": self.plan, "baseline": self.baseline,
                  "step": self.step, "eval": self.eval, "checkpoint": self.checkpoint, "done": self.done,
                  "cancelled": self.cancelled}.get(kind)
        if signal is None:
            self._emit_log(f"(unknown progress event {kind!r} ignored)")
            return
        signal.emit(event)

    # -- ending --------------------------------------------------------------------------------
    def _kill_after_timeout(self) -> None:
        if self.is_running():
            self._killed_by_us = True
            self._emit_log(f"The trainer did not stop within {self.cancel_timeout_ms // 1000} s; killing it.")
            self._process.kill()

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._report_failure(f"The training program could not be started ({self.program}): "
                                 f"{self._process.errorString()}", exit_code=None, crashed=False)
            self.finished.emit()
        # Crashed is followed by finished(), which reports it with the exit status.

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        # Flush whatever the child wrote last without a trailing newline.
        self._read_stdout()
        self._read_stderr()
        for leftover in (self._stdout_buffer, self._stderr_buffer):
            if leftover.strip():
                self._handle_stdout_line(leftover.decode("utf-8", errors="replace").strip())
        self._stdout_buffer = self._stderr_buffer = b""
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        if self._terminal_event in ("done", "cancelled"):
            pass
        elif self._terminal_event == "error":
            self._report_failure(self._error_message, exit_code=exit_code, crashed=crashed)
        elif self._killed_by_us:
            # We killed it after a cancel timed out: report a cancel, pointing at the last checkpoint.
            self._terminal_event = "cancelled"
            self.cancelled.emit({"event": "cancelled", "step": self.last_step.get("step", 0),
                                 "checkpoint": self.last_checkpoint.get("path"),
                                 "run_dir": self.last_plan.get("run_dir"), "forced": True})
        else:
            self._report_failure(self._unexpected_exit_message(exit_code, crashed), exit_code=exit_code,
                                 crashed=crashed)
        self.finished.emit()

    def _unexpected_exit_message(self, exit_code: int, crashed: bool) -> str:
        if crashed:
            how = "The training process was killed or crashed"
            hint = ("This happens when the computer runs out of memory (try the LoRA mode, a smaller batch "
                    "or block size) or when the process is ended from outside.")
        else:
            how = f"The training process stopped unexpectedly (exit code {exit_code})"
            hint = "The log below shows its last messages."
        checkpoint = self.last_checkpoint.get("path")
        saved = (f" The last checkpoint (step {self.last_checkpoint.get('step')}) is kept: you can resume the run."
                 if checkpoint else " No checkpoint had been saved yet.")
        return f"{how}. {hint}{saved} The editor is unaffected."

    def _report_failure(self, message: str, *, exit_code: int | None, crashed: bool) -> None:
        if self._reported:
            return
        self._reported = True
        self.failed.emit({"event": "failed", "message": message, "exit_code": exit_code, "crashed": crashed,
                          "checkpoint": self.last_checkpoint.get("path"),
                          "run_dir": self.last_plan.get("run_dir"), "log_tail": list(self._log_tail)})
