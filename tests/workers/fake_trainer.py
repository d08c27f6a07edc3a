"""A stand-in for `cw-desktop train --json-progress`: speaks the progress protocol (docs/architecture.md) fast.

Used by the worker and dialog tests so they exercise the real QProcess plumbing (pipes, signals,
SIGTERM, SIGKILL, exit codes) in well under a second per run, without torch. Behaviour knobs come
from environment variables:
  FAKE_STEP_SECONDS  pause per step (default 0.02)
  FAKE_IGNORE_TERM   "1": ignore SIGTERM (to test the kill-after-timeout path)
  FAKE_ERROR_AT      step at which to report {"event": "error"} and exit 1
  FAKE_NOISE         "1": also print a non-JSON line on stdout and text on stderr
  FAKE_EXIT_SECONDS  after "cancelled", keep running (and holding the run's lock, as the real
                     trainer does until it exits) this long
Run folders mimic the real trainer (cw_desktop/ml/training.py): <data>/runs/<name>/ with run.json
and checkpoint.pt (here a text file holding the step); `--resume RUN_DIR` continues from it; the
finished model goes to --output (default <data>/models/<name>) and the run folder is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

stop_requested = False


def emit(event: dict) -> None:
    print(json.dumps(event), flush=True)


def on_term(signum, frame) -> None:  # noqa: ANN001
    global stop_requested
    stop_requested = True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache")
    parser.add_argument("command")
    parser.add_argument("folder")
    parser.add_argument("--base", default="bundled")
    parser.add_argument("--continue", dest="continue_from")  # then the base is that fine-tune
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--preferences", action="store_true")
    parser.add_argument("--output")
    parser.add_argument("--mode", default="lora")
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--eval-share", type=float, default=0.1)
    parser.add_argument("--include-accepted", action="store_true")
    parser.add_argument("--grad-accum", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--no-samples", action="store_true")
    parser.add_argument("--resume", nargs="?", const=True, default=False)
    parser.add_argument("--json-progress", action="store_true")
    args = parser.parse_args()
    args.base = args.continue_from or args.base

    signal.signal(signal.SIGTERM, signal.SIG_IGN if os.environ.get("FAKE_IGNORE_TERM") == "1" else on_term)
    delay = float(os.environ.get("FAKE_STEP_SECONDS", "0.02"))
    error_at = int(os.environ.get("FAKE_ERROR_AT", "-1"))
    data = Path(args.data)
    start_step = 0
    if isinstance(args.resume, str):
        run_dir = Path(args.resume)
        info = json.loads((run_dir / "run.json").read_text())
        output = Path(info["output"])
        args.max_steps = info["hyperparameters"]["max_steps"]
        start_step = int((run_dir / "checkpoint.pt").read_text())
    else:
        output = Path(args.output) if args.output else data / "models" / Path(args.folder).name
        run_dir = data / "runs" / output.name
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run.json").write_text(json.dumps({
            "name": output.name, "folder": str(Path(args.folder).resolve()), "base": args.base,
            "output": str(output), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "hyperparameters": {"mode": args.mode, "max_steps": args.max_steps}}))
    checkpoint = run_dir / "checkpoint.pt"
    from cw_desktop.core.run_lock import RUN_LOCK_FILE, FolderLock

    lock = FolderLock(run_dir / RUN_LOCK_FILE, "training run")
    lock.acquire()

    emit({"event": "stage", "stage": "scan", "message": f"Reading {args.folder}"})
    if os.environ.get("FAKE_NOISE") == "1":
        print("a stray line that is not JSON", flush=True)
        print("Some warning on stderr", file=sys.stderr, flush=True)
    emit({"event": "scan", "files_used": 3, "files_skipped": 1, "words": 12000, "train_tokens": 15000,
          "eval_tokens": 1500, "estimated_seconds": args.max_steps * delay})
    emit({"event": "plan", "max_steps": args.max_steps, "mode": args.mode,
          "hyperparameters": {"lr": args.lr, "batch_size": args.batch_size, "block_size": args.block_size},
          "run_dir": str(run_dir)})
    if start_step:
        emit({"event": "stage", "stage": "train", "message": f"Resuming from step {start_step}"})
    emit({"event": "stage", "stage": "baseline", "message": "Measuring the base model"})
    emit({"event": "baseline", "perplexity": 80.0})
    emit({"event": "stage", "stage": "train", "message": "Training"})
    started = time.monotonic()
    for step in range(start_step + 1, args.max_steps + 1):
        if stop_requested:
            checkpoint.write_text(str(step - 1))
            emit({"event": "checkpoint", "step": step - 1, "path": str(checkpoint)})
            emit({"event": "cancelled", "step": step - 1, "checkpoint": str(checkpoint), "run_dir": str(run_dir)})
            time.sleep(float(os.environ.get("FAKE_EXIT_SECONDS", "0")))
            lock.release()
            return 3
        if step == error_at:
            emit({"event": "error", "message": "Out of patience at step %d" % step})
            print("Traceback: fake failure", file=sys.stderr, flush=True)
            return 1
        time.sleep(delay)
        elapsed = time.monotonic() - started
        emit({"event": "step", "step": step, "max_steps": args.max_steps, "loss": 4.0 / step ** 0.3,
              "lr": args.lr, "tokens_per_s": 1000.0, "eta_s": (args.max_steps - step) * delay,
              "elapsed_s": elapsed})
        if step % 5 == 0:
            emit({"event": "eval", "step": step, "eval_loss": 4.2 / step ** 0.25, "perplexity": 60.0 / step ** 0.2})
            checkpoint.write_text(str(step))
            emit({"event": "checkpoint", "step": step, "path": str(checkpoint)})
    emit({"event": "stage", "stage": "save", "message": "Saving the model"})
    output.mkdir(parents=True, exist_ok=True)
    (output / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    samples = [{"form": form, "prompt": f"{form} prompt", "before": f"base {form} text",
                "after": f"tuned {form} text"} for form in ("prose", "poem", "dialogue")]
    report = {"name": output.name, "base_model": args.base, "created": datetime.now(timezone.utc).isoformat(),
              "perplexity_before": 80.0, "perplexity_after": 42.5, "train_tokens": 15000, "eval_tokens": 1500,
              "files_used": ["a.txt", "b.txt", "c.txt"], "files_skipped": [{"path": "x.bin", "reason": "binary"}],
              "folder": args.folder, "mode": args.mode, "hyperparameters": {"lr": args.lr},
              "duration_s": time.monotonic() - started, "samples": samples, "context_length": 128,
              "resumed_from_step": start_step}
    (output / "report.json").write_text(json.dumps(report))
    shutil.rmtree(run_dir)  # a finished run leaves runs/ (as the real trainer does)
    emit({"event": "done", "output": str(output), "report": report})
    return 0


if __name__ == "__main__":
    sys.exit(main())
