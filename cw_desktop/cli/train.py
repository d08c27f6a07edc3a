"""`cw-desktop train FOLDER`: fine-tune a model on a folder of the writer's text.

With --json-progress, stdout carries only the JSON lines of the progress protocol (the training
dialog runs this command in a separate process and parses them); everything else goes to stderr.
SIGTERM / SIGINT stop training between steps, save a checkpoint and exit with code 3.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cw_desktop.cli import ProgressBar, fail
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.train_log import TrainLog, effective_batch_text

EXIT_DONE, EXIT_ERROR, EXIT_CANCELLED = 0, 1, 3
EXIT_IN_USE = 4  # another training holds the run or output folder
MODES = ("full", "lora", "top")  # = training.MODES, repeated so --help does not import torch
PRECISIONS = ("no", "bf16", "fp16")  # accelerate's mixed_precision values the trainer supports


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="fine-tune a model on a folder of your own writing",
        description="Fine-tune a model on a folder of your writing (read only; never modified). Every "
                    "setting has an automatic default chosen from the amount of text and this machine.")
    parser.add_argument("folder", help="folder of manuscripts (.txt, .md, .docx, .odt, .rtf, .html, .epub)")
    parser.add_argument("--base", default="bundled", metavar="SPEC",
                        help="model to start from: 'bundled', a known model or a model folder (default: bundled)")
    parser.add_argument("--output", metavar="DIR", help="where to save the tuned model (default: the data folder)")
    parser.add_argument("--mode", choices=MODES, help="what to train: all weights, LoRA adapters, or the top layers")
    parser.add_argument("--adapter", action="store_true",
                        help="save only the LoRA adapter (a few MB, used beside its base per project) "
                             "instead of a full model copy; implies --mode lora")
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps")
    steps.add_argument("--epochs", type=float, metavar="E", help="passes over the training text")
    steps.add_argument("--minutes", type=float, metavar="M",
                       help="time budget: as many steps as this machine fits in M minutes (by the same estimate "
                            "`cw-desktop scan` shows)")
    parser.add_argument("--continue", dest="continue_from", metavar="MODEL_DIR",
                        help="continue this fine-tune of FOLDER on the files changed since it was made, measured "
                             "on the same held-out chapters (it is the base; combine with --minutes)")
    parser.add_argument("--preferences", action="store_true",
                        help="after training, also learn from the suggestions you accepted and rejected in the "
                             "editor (a DPO step; kept only if held-out perplexity and typing saved do not get worse)")
    parser.add_argument("--lr", type=float, metavar="F", help="peak learning rate")
    parser.add_argument("--batch-size", type=int, metavar="N", help="blocks per micro-batch")
    parser.add_argument("--grad-accum", type=int, metavar="N", help="micro-batches per optimizer step")
    parser.add_argument("--block-size", type=int, metavar="N", help="tokens per training block")
    parser.add_argument("--eval-share", type=float, default=0.10, metavar="F",
                        help="share of the text held out to measure progress (default 0.10)")
    parser.add_argument("--seed", type=int, default=1234, help="seed for the split, data order and samples")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--include-accepted", action="store_true",
                        help="also train on suggestions you accepted in the editor (training side only)")
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="RUN_DIR",
                        help="continue the interrupted run of this folder and base (or the given run folder)")
    parser.add_argument("--no-samples", action="store_true", help="skip the before/after writing samples")
    parser.add_argument("--checkpoint-minutes", type=float, default=3.0, metavar="M",
                        help="also save a checkpoint at least every M minutes of training (default 3)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for training (default: all cores; the editor passes one less, so "
                             "suggestions stay responsive)")
    parser.add_argument("--mixed-precision", choices=PRECISIONS,
                        help="bf16/fp16 autocast on a GPU (default: bf16 where the GPU supports it, else "
                             "fp16; none on a CPU; under accelerate launch: its config's mixed_precision)")
    parser.add_argument("--log-file", metavar="PATH",
                        help="also write progress lines to PATH, flushed at once, for `tail -f` over ssh "
                             "(default: train.log in the run folder, moved into the model folder at the end)")
    parser.add_argument("--log-every", type=int, metavar="N",
                        help="one log line every N steps (default: about 100 lines per run)")
    parser.add_argument("--json-progress", action="store_true",
                        help="print progress as JSON lines on stdout (for the GUI)")
    parser.set_defaults(handler=run)


def jsonable(value: Any) -> Any:
    """Strict JSON: NaN/inf become null (json.dumps would write the invalid token NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


class StopFlag:
    """Turns SIGTERM/SIGINT into a request to stop between steps (a second SIGINT aborts)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.event.is_set()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.event.set()
        print("\nStopping after the current step (saving a checkpoint)...", file=sys.stderr)

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class HumanProgress:
    """Stage lines, a progress bar during training, and a summary at the end (all on stderr but
    the final summary)."""

    def __init__(self) -> None:
        self.bar: ProgressBar | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "stage":
            self._close_bar()
            print(f"{event['message']}...", file=sys.stderr)
        elif kind == "scan":
            print(f"  {event['files_used']} files, {event['words']:,} words: {event['train_tokens']:,} training "
                  f"tokens, {event['eval_tokens']:,} held out; about {event['estimated_seconds'] / 60:.0f} min",
                  file=sys.stderr)
            if event.get("heldout_overlap_dropped"):
                print(f"  {event['heldout_overlap_dropped']} training chapter(s) left out: they repeat a held-out "
                      "chapter (the same story twice in the folder)", file=sys.stderr)
        elif kind == "plan":
            hp = event["hyperparameters"]
            print(f"  mode {event['mode']}, {event['max_steps']} steps, block {hp['block_size']}, "
                  f"batch {hp['batch_size']}x{hp['grad_accum']}, lr {hp['lr']:g}; run folder {event['run_dir']}",
                  file=sys.stderr)
            if event.get("processes", 1) > 1:
                print(f"  {effective_batch_text(hp, event['processes'])}", file=sys.stderr)
        elif kind == "baseline":
            print(f"  base model perplexity: {event['perplexity']:.2f}", file=sys.stderr)
        elif kind == "step":
            if self.bar is None:
                self.bar = ProgressBar("train ")
            self.bar.update(event["step"] / event["max_steps"],
                            f"step {event['step']}/{event['max_steps']} loss {event['loss']:.3f} "
                            f"{event['tokens_per_s']:.0f} tok/s ETA {event['eta_s'] / 60:.1f} min")
        elif kind == "eval":
            self._close_bar()
            print(f"  step {event['step']}: held-out perplexity {event['perplexity']:.2f}", file=sys.stderr)
        elif kind == "done":
            self._close_bar()
            report = event["report"]
            print(f"Saved {event['output']}\n  perplexity {report['perplexity_before']:.2f} -> "
                  f"{report['perplexity_after']:.2f} on held-out text; {report['steps']} steps "
                  f"({report['mode']}) in {report['duration_s'] / 60:.1f} min; see report.md there")
            preferences = report.get("preferences") or {}
            if "held_out_accuracy" in preferences:
                accuracy = preferences["held_out_accuracy"]
                print(f"  your choices ranked first in {accuracy['before']:.0%} -> {accuracy['after']:.0%} of "
                      f"{preferences['held_out_pairs']} held-out pairs; "
                      + ("kept" if preferences["adopted"] else f"NOT kept: {preferences['reason']}"))
        elif kind == "cancelled":
            self._close_bar()
            where = f"checkpoint at step {event['step']} in {event['run_dir']}" if event["checkpoint"] else "no checkpoint"
            print(f"Training stopped ({where}). Continue with the same command plus --resume.", file=sys.stderr)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def json_printer(stream: TextIO) -> Callable[[dict[str, Any]], None]:
    def emit(event: dict[str, Any]) -> None:
        stream.write(json.dumps(jsonable(event), ensure_ascii=False) + "\n")
        stream.flush()
    return emit


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    return {"mode": args.mode, "max_steps": args.max_steps, "epochs": args.epochs, "lr": args.lr,
            "batch_size": args.batch_size, "grad_accum": args.grad_accum, "block_size": args.block_size,
            "precision": mixed_precision_from(args)}


def mixed_precision_from(args: argparse.Namespace) -> str | None:
    """--mixed-precision, else what `accelerate launch` was configured with (it exports it), else
    None: the plan's choice for the device."""
    wanted = getattr(args, "mixed_precision", None) or os.environ.get("ACCELERATE_MIXED_PRECISION", "")
    return wanted if wanted in PRECISIONS else None


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    real_stdout = sys.stdout
    if args.json_progress:
        # Libraries occasionally print; keep stdout for protocol lines only.
        sys.stdout = sys.stderr
        emit = json_printer(real_stdout)
    else:
        emit = HumanProgress()
    stop = StopFlag()
    stop.install()
    log = train_log(args)
    code = EXIT_ERROR
    try:
        code = _train(args, paths, log.wrap(emit) if log else emit, stop)
        return code
    finally:
        if log is not None:
            log.close(code)
        stop.restore()
        sys.stdout = real_stdout


def train_log(args: argparse.Namespace) -> TrainLog | None:
    """The progress log file; only the main process of a multi-process run writes it."""
    from cw_desktop.ml.distributed import launched_rank

    if launched_rank() != 0:
        return None
    return TrainLog(Path(args.log_file) if args.log_file else None, every=args.log_every)


def _train(args: argparse.Namespace, paths: AppPaths, emit: Callable[[dict[str, Any]], None], stop: StopFlag) -> int:
    def error(message: str, code: int = EXIT_ERROR) -> int:
        emit({"event": "error", "message": message})  # the log file's FAILED line; a no-op for HumanProgress
        if args.json_progress:
            print(f"cw-desktop: error: {message}", file=sys.stderr)
            return code
        return fail(message, code)

    if not 0 < args.eval_share < 1:
        return error(f"--eval-share must be between 0 and 1 (got {args.eval_share})")
    if not args.checkpoint_minutes > 0:
        return error(f"--checkpoint-minutes must be more than 0 (got {args.checkpoint_minutes})")
    for name in ("max_steps", "batch_size", "grad_accum", "block_size", "threads", "log_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            return error(f"--{name.replace('_', '-')} must be at least 1 (got {value})")

    if args.minutes is not None and not args.minutes > 0:
        return error(f"--minutes must be more than 0 (got {args.minutes})")
    if args.continue_from:
        if args.base != "bundled":
            return error("--continue starts from the given fine-tune: leave out --base")
        args.base = str(Path(args.continue_from).expanduser().resolve())
        if not Path(args.base).is_dir():
            return error(f"--continue {args.continue_from}: there is no model folder there")
        from cw_desktop.core.model_registry import RegistryError, read_report

        try:  # the same kind of training as the fine-tune being continued, unless asked otherwise
            args.mode = args.mode or (read_report(Path(args.base)).get("hyperparameters") or {}).get("mode")
        except RegistryError as exc:
            return error(str(exc))
    if args.adapter and args.mode not in (None, "lora"):
        return error(f"--adapter saves a LoRA adapter: it cannot be combined with --mode {args.mode}")
    from cw_desktop.core.run_lock import FolderInUseError
    from cw_desktop.ml.loading import ModelLoadError
    from cw_desktop.ml.training import TrainConfig, train

    resume: bool | Path = Path(args.resume).expanduser() if isinstance(args.resume, str) else bool(args.resume)
    config = TrainConfig(folder=Path(args.folder), paths=paths.ensure(), base=args.base,
                         output=Path(args.output) if args.output else None, overrides=overrides_from(args),
                         eval_share=args.eval_share, seed=args.seed, resume=resume,
                         include_accepted=args.include_accepted, device=args.device, samples=not args.no_samples,
                         checkpoint_every_s=args.checkpoint_minutes * 60, threads=args.threads,
                         adapter=args.adapter, minutes=args.minutes, preferences=args.preferences,
                         continue_from=Path(args.base) if args.continue_from else None)
    if args.adapter:
        config.overrides["mode"] = "lora"
    try:
        result = train(config, on_event=emit, should_stop=stop)
    except FolderInUseError as exc:
        return error(str(exc), EXIT_IN_USE)
    except (ModelLoadError, ValueError, OSError) as exc:
        # CorpusError and InsufficientDataError are ValueErrors with messages written for the writer.
        return error(str(exc))
    except KeyboardInterrupt:
        return error("Interrupted")
    except Exception as exc:  # a bug: still a parseable error line for the dialog, details on stderr
        traceback.print_exc(file=sys.stderr)
        return error(f"Training failed unexpectedly: {type(exc).__name__}: {exc}")
    return EXIT_CANCELLED if result.status == "cancelled" else EXIT_DONE
