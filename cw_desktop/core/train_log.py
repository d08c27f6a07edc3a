"""`cw-desktop train`'s progress as plain text lines in a file, for a run on a machine without a display.

Over ssh a writer starts the run under nohup/tmux and watches `tail -f <run folder>/train.log`: one
timestamped line per stage, one per step interval (step, loss, tokens/s, ETA), one per evaluation
and checkpoint, each flushed at once, and a last line that starts with DONE, STOPPED or FAILED, so
a script can wait for it. The default file is the run folder's train.log; a finished run's log is
moved into the model folder (the same file: an open `tail -f` keeps following it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from cw_desktop.core.units import format_duration

TRAIN_LOG_FILE = "train.log"
# Step lines per run when no interval is given: enough to follow, few enough to read.
DEFAULT_STEP_LINES = 100
FINAL_WORDS = ("DONE", "STOPPED", "FAILED")

Emit = Callable[[dict[str, Any]], None]


def effective_batch_text(hyperparameters: dict[str, Any], processes: int) -> str:
    """"batch 2 x 2 processes x 4 accumulation = 16 blocks of 256 tokens (4,096 tokens) per step"."""
    batch, accum, block = (int(hyperparameters[k]) for k in ("batch_size", "grad_accum", "block_size"))
    blocks = batch * processes * accum
    per_process = f" per process x {processes} processes" if processes > 1 else ""
    return (f"batch {batch}{per_process} x {accum} accumulation = {blocks} blocks of {block} tokens "
            f"({blocks * block:,} tokens) per step")


class TrainLog:
    """An event sink (the progress protocol's events) writing the log file.

    `path` None: the run folder's train.log, opened at the `plan` event (earlier lines are kept
    and written then). `every` steps per step line; None: about DEFAULT_STEP_LINES per run.
    """

    def __init__(self, path: Path | None = None, every: int | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else None
        self.every = every
        self.handle: IO[str] | None = None
        self.pending: list[str] = []
        self.finished = False
        self.processes = 1
        self.write("cw-desktop train started")  # a resumed run appends: this line separates the sessions

    def wrap(self, emit: Emit) -> Emit:
        """`emit` that also writes the log."""
        def both(event: dict[str, Any]) -> None:
            emit(event)
            self(event)
        return both

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "plan":
            self.processes = int(event.get("processes", 1))
            if self.every is None:
                self.every = max(1, int(event["max_steps"]) // DEFAULT_STEP_LINES)
            if self.path is None and event.get("run_dir"):
                self.path = Path(event["run_dir"]) / TRAIN_LOG_FILE
        line = self.line_for(event)
        if line:
            self.write(line)

    def line_for(self, event: dict[str, Any]) -> str:
        kind = event.get("event")
        if kind == "stage":
            return str(event["message"])
        if kind == "scan":
            return (f"{event['files_used']} files, {event['words']:,} words: {event['train_tokens']:,} training "
                    f"tokens, {event['eval_tokens']:,} held out")
        if kind == "plan":
            return (f"plan: mode {event['mode']}, {event['max_steps']} steps, "
                    f"{effective_batch_text(event['hyperparameters'], self.processes)}, "
                    f"lr {event['hyperparameters']['lr']:g}; run folder {event['run_dir']}")
        if kind == "baseline":
            return f"base model held-out perplexity {event['perplexity']:.3f}"
        if kind == "step":
            step, total = int(event["step"]), int(event["max_steps"])
            if step != 1 and step != total and step % (self.every or 1):
                return ""
            return (f"step {step}/{total} loss {event['loss']:.4f} {event['tokens_per_s']:,.0f} tokens/s "
                    f"ETA {format_duration(event['eta_s'], rough=True)}")
        if kind == "eval":
            return f"step {event['step']}: held-out loss {event['eval_loss']:.4f}, perplexity {event['perplexity']:.3f}"
        if kind == "checkpoint":
            return f"step {event['step']}: checkpoint saved ({event['path']})"
        if kind == "done":
            report = event["report"]
            return (f"DONE: saved {event['output']}; held-out perplexity {report['perplexity_before']:.3f} -> "
                    f"{report['perplexity_after']:.3f} after {report['steps']} steps in "
                    f"{format_duration(report['duration_s'])}")
        if kind == "cancelled":
            if event.get("checkpoint"):
                return (f"STOPPED at step {event['step']}: checkpoint in {event['run_dir']}; continue with the "
                        "same command plus --resume")
            return "STOPPED before training began (no checkpoint)"
        if kind == "error":
            return f"FAILED: {event['message']}"
        return ""

    def write(self, line: str) -> None:
        stamped = f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')}Z {line}\n"
        self.finished = self.finished or line.startswith(FINAL_WORDS)
        if self.handle is None and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Appending: a resumed run continues the log of the interrupted one.
            self.handle = open(self.path, "a", encoding="utf-8", errors="backslashreplace")
        if self.handle is None:
            self.pending.append(stamped)
            return
        if self.pending:
            self.handle.writelines(self.pending)
            self.pending = []
        self.handle.write(stamped)
        self.handle.flush()

    def close(self, exit_code: int = 0) -> None:
        """Ends the file with a final line even when the run ended without a final event."""
        if not self.finished and self.handle is not None:
            self.write(f"FAILED: training ended with exit code {exit_code}; the terminal shows why")
        if self.handle is not None:
            self.handle.close()
            self.handle = None
