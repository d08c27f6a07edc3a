"""Fine-tune a causal LM on a writer's folder: plan, train loop, checkpoints, the whole pipeline.

The loop is deliberately the plain one of nanoGPT / transformers' run_clm_no_trainer.py: an
accelerate Accelerator for the device and mixed precision, AdamW with weight-decay groups, a
hand-written warmup + cosine `get_lr`, gradient accumulation and clipping. Everything it needs to
continue after a crash (trainable weights, optimizer, RNG, step) goes into one checkpoint file,
and the data order is a pure function of (seed, position), so a resumed run repeats exactly what
an uninterrupted run would have done.

Events are the JSON progress lines of `cw-desktop train --json-progress` (docs/architecture.md):
the CLI prints them, the fine-tune dialog parses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.disk_space import reporting_disk_full
from cw_desktop.core.model_registry import slug, unique_model_folder
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.run_lock import RUN_LOCK_FILE, FolderLock, output_lock_file
from cw_desktop.ml import dataset as ds
from cw_desktop.ml.checkpoint import read_checkpoint, rng_state, set_rng_state, write_checkpoint
from cw_desktop.ml.evaluation import EvalResult, evaluate, generate_samples, keystrokes_saved, sample_prompts
from cw_desktop.ml.optimizer import make_optimizer, optimizer_groups  # noqa: F401 - re-exported
from cw_desktop.ml.plan import Hyperparameters, ModelInfo, cpu_threads, decoder_blocks, estimate_seconds, plan_training

EventCallback = Callable[[dict[str, Any]], None]
StopCallback = Callable[[], bool]

CHECKPOINT_FILE = "checkpoint.pt"
# Wall-clock checkpoint period on top of the step-based one (a CPU run's first step-based
# checkpoint comes only after a quarter of the run, ~5 minutes).
DEFAULT_CHECKPOINT_SECONDS = 180.0
RUN_FILE = "run.json"



def get_lr(step: int, *, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Linear warmup to max_lr, then cosine decay to min_lr at total_steps (nanoGPT)."""
    if step < warmup_steps:
        return max_lr * (step + 1) / (warmup_steps + 1)
    if step >= total_steps:
        return min_lr
    ratio = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)


def configure_threads(threads: int | None = None) -> None:
    """`threads` (default: all cores we may use) for the matmuls, one inter-op thread (the graph is sequential)."""
    torch.set_num_threads(threads or cpu_threads())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process
        pass


# -- modes: which parameters train ------------------------------------------------------------

def final_norm(model: Any) -> torch.nn.Module | None:
    base = getattr(model, "base_model", model)
    for name in ("ln_f", "norm", "final_layernorm", "final_layer_norm"):
        module = getattr(base, name, None)
        if isinstance(module, torch.nn.Module):
            return module
    return None


def apply_mode(model: Any, hp: Hyperparameters) -> Any:
    """Freeze / wrap the model for the chosen mode; returns the model to train."""
    if hp.mode == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if hp.mode == "top":
        for p in model.parameters():
            p.requires_grad_(False)
        trainable = list(decoder_blocks(model)[-hp.top_layers:])
        norm = final_norm(model)
        if norm is not None:
            trainable.append(norm)
        for module in trainable:
            for p in module.parameters():
                p.requires_grad_(True)
        return model
    if hp.mode == "lora":
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=hp.lora_r, lora_alpha=hp.lora_alpha, lora_dropout=0.0,
                            target_modules="all-linear", task_type="CAUSAL_LM")
        return get_peft_model(model, config)
    raise ValueError(f"Unknown training mode '{hp.mode}'")


def plain_model(model: Any) -> Any:
    """The trained model as a plain transformers model (LoRA merged into the base weights)."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [name for name in state if name not in params]
    if missing:
        raise ValueError(f"Checkpoint does not fit this model (e.g. {missing[0]})")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].device))


# -- the training loop ------------------------------------------------------------------------

@dataclass
class LoopState:
    step: int = 0  # optimizer steps completed
    best_eval_loss: float = math.inf
    best_step: int = 0
    evals_without_improvement: int = 0
    eval_pending: bool = False  # cancelled during an evaluation: redo it first on resume
    elapsed_s: float = 0.0  # training time (all sessions), excluding evaluations
    tokens_seen: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # step/eval events, for the report
    last_eval: dict[str, Any] | None = None


@dataclass
class LoopResult:
    status: str  # "done" | "early_stopped" | "cancelled"
    state: LoopState
    final_eval: EvalResult | None
    checkpoint: Path | None


def sample_indices(position: int, count: int, n_blocks: int, seed: int) -> list[int]:
    """Blocks for samples [position, position+count) of the endless stream of shuffled epochs.

    A pure function of its arguments: the data order of a resumed run is the uninterrupted one.
    """
    out = []
    cache: dict[int, list[int]] = {}
    for s in range(position, position + count):
        epoch, offset = divmod(s, n_blocks)
        if epoch not in cache:
            g = torch.Generator().manual_seed(seed * 1000 + epoch)
            cache[epoch] = torch.randperm(n_blocks, generator=g).tolist()
        out.append(cache[epoch][offset])
    return out


def save_checkpoint(path: Path, model: Any, optimizer: Any, state: LoopState,
                    best: dict[str, torch.Tensor] | None) -> None:
    """One file of plain data (cw_desktop/ml/checkpoint.py), replaced atomically."""
    write_checkpoint(path, {"trainable": trainable_state(model), "optimizer": optimizer.state_dict(),
                            "state": asdict(state), "rng": rng_state(), "best": best})


def run_training(model: Any, data: ds.PackedData, hp: Hyperparameters, run_dir: Path, *,
                 on_event: EventCallback | None = None, should_stop: StopCallback | None = None,
                 resume: bool = False, checkpoint_every_s: float = DEFAULT_CHECKPOINT_SECONDS,
                 threads: int | None = None) -> LoopResult:
    """The optimisation loop. `model` is already in its mode (apply_mode); it trains in place.

    Checkpoints every hp.checkpoint_interval steps and at least every `checkpoint_every_s` seconds
    of wall-clock time, so a kill loses minutes, not a quarter of the run.
    """
    from accelerate import Accelerator

    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    configure_threads(threads)
    accelerator = Accelerator(cpu=hp.device == "cpu", mixed_precision=hp.precision)
    torch.manual_seed(hp.seed)
    random.seed(hp.seed)

    optimizer = make_optimizer(model, hp)
    model, optimizer = accelerator.prepare(model, optimizer)
    trainable = [p for p in model.parameters() if p.requires_grad]
    blocks = data.train_blocks()  # [N, T]
    n_blocks = blocks.shape[0]
    batch_size = min(hp.batch_size, n_blocks)
    checkpoint_path = run_dir / CHECKPOINT_FILE

    state = LoopState()
    best: dict[str, torch.Tensor] | None = None
    if resume and checkpoint_path.is_file():
        payload = read_checkpoint(checkpoint_path)
        load_trainable_state(accelerator.unwrap_model(model), payload["trainable"])
        optimizer.load_state_dict(payload["optimizer"])
        state = LoopState(**payload["state"])
        best = payload.get("best")
        set_rng_state(payload["rng"])

    model.train()

    def do_eval() -> EvalResult | None:
        nonlocal best
        result = evaluate(model, data.eval_ids, hp.block_size, batch_size=batch_size,
                          device=accelerator.device, should_stop=stop)
        if stop():
            state.eval_pending = True
            return None
        state.eval_pending = False
        event = {"event": "eval", "step": state.step, "eval_loss": result.loss, "perplexity": result.perplexity}
        state.history.append(event)
        state.last_eval = event
        emit(event)
        if result.loss < state.best_eval_loss - 1e-4:
            state.best_eval_loss, state.best_step = result.loss, state.step
            state.evals_without_improvement = 0
            best = trainable_state(accelerator.unwrap_model(model))
        else:
            state.evals_without_improvement += 1
        return result

    last_saved = time.monotonic()

    def checkpoint() -> Path:
        nonlocal last_saved
        last_saved = time.monotonic()
        save_checkpoint(checkpoint_path, accelerator.unwrap_model(model), optimizer, state, best)
        emit({"event": "checkpoint", "step": state.step, "path": str(checkpoint_path)})
        return checkpoint_path

    def cancelled() -> LoopResult:
        return LoopResult("cancelled", state, None, checkpoint())

    final_eval: EvalResult | None = None
    if state.eval_pending:
        final_eval = do_eval()
        if final_eval is None:
            return cancelled()
    session_start = time.perf_counter()
    session_tokens = 0
    eval_seconds: list[float] = []
    status = "done"
    while state.step < hp.max_steps:
        if stop():
            return cancelled()
        step_start = time.perf_counter()
        lr = get_lr(state.step, max_lr=hp.lr, min_lr=hp.min_lr, warmup_steps=hp.warmup_steps,
                    total_steps=hp.max_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss_total = 0.0
        for micro in range(hp.grad_accum):
            position = (state.step * hp.grad_accum + micro) * batch_size
            x = blocks[sample_indices(position, batch_size, n_blocks, hp.seed)].to(accelerator.device)  # [B, T]
            with accelerator.autocast():
                # No KV cache: training never reuses it (transformers' Trainer turns it off too).
                loss = model(input_ids=x, labels=x, use_cache=False).loss / hp.grad_accum
            accelerator.backward(loss)
            loss_total += float(loss.detach())
        if hp.grad_clip > 0:
            accelerator.clip_grad_norm_(trainable, hp.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        step_tokens = hp.grad_accum * batch_size * hp.block_size
        state.tokens_seen += step_tokens
        session_tokens += step_tokens
        state.elapsed_s += time.perf_counter() - step_start
        train_time = max(1e-6, time.perf_counter() - session_start - sum(eval_seconds))
        tokens_per_s = session_tokens / train_time
        remaining = hp.max_steps - state.step
        evals_left = remaining // max(1, hp.eval_interval) + 1
        eta = remaining * step_tokens / tokens_per_s + evals_left * (
            sum(eval_seconds) / len(eval_seconds) if eval_seconds else 0.0)
        event = {"event": "step", "step": state.step, "max_steps": hp.max_steps, "loss": loss_total, "lr": lr,
                 "tokens_per_s": tokens_per_s, "eta_s": eta, "elapsed_s": state.elapsed_s}
        state.history.append({k: v for k, v in event.items() if k in ("step", "loss", "lr")})
        emit(event)

        last_step = state.step >= hp.max_steps
        if state.step % hp.eval_interval == 0 or last_step:
            eval_start = time.perf_counter()
            final_eval = do_eval()
            eval_seconds.append(time.perf_counter() - eval_start)
            if final_eval is None:
                return cancelled()
            if state.evals_without_improvement >= hp.patience:
                status = "early_stopped"
                break
        if not last_step and (state.step % hp.checkpoint_interval == 0
                              or time.monotonic() - last_saved >= checkpoint_every_s):
            checkpoint()

    if best is not None and state.best_step != state.step:
        # Early stopped or the last evaluations got worse: keep the best weights seen.
        load_trainable_state(accelerator.unwrap_model(model), best)
        final_eval = EvalResult(loss=state.best_eval_loss, perplexity=math.exp(min(state.best_eval_loss, 50.0)),
                                tokens=final_eval.tokens if final_eval else 0)
    return LoopResult(status, state, final_eval, checkpoint_path if checkpoint_path.exists() else None)


# -- the whole pipeline -----------------------------------------------------------------------

@dataclass
class TrainConfig:
    """What the writer asked for; the rest is planned (plan_training) from the data and device."""

    folder: Path
    paths: AppPaths
    base: str = "bundled"
    output: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # mode, max_steps, epochs, lr, block_size, ...
    eval_share: float = ds.DEFAULT_EVAL_SHARE
    seed: int = ds.DEFAULT_SEED
    resume: bool | Path = False  # True: the latest unfinished run for folder+base(+output); Path: that run
    include_accepted: bool = False
    device: str = "auto"
    samples: bool = True
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_SECONDS  # wall-clock checkpoints, besides step-based ones
    threads: int | None = None  # CPU threads; None: all cores (the editor leaves one to its suggestions)
    # Minimum-size rules of the split (tests lower them to train on a few paragraphs).
    split_options: dict[str, int] = field(default_factory=dict)
    memorisation_words: int = 12  # consecutive training words that make a suggestion a copy (ml/memorisation.py)


@dataclass
class TrainResult:
    status: str  # "done" | "cancelled"
    output: Path | None = None
    report: dict[str, Any] | None = None
    run_dir: Path | None = None
    checkpoint: Path | None = None
    step: int = 0


def default_name(folder: Path, base: str, paths: AppPaths, now: datetime | None = None) -> str:
    """<folder>-<base>-<date>, made unique against finished models and runs in progress."""
    stem = f"{slug(folder.name)}-{slug(Path(base).name if os.sep in base else base)}-{(now or datetime.now()):%Y%m%d}"
    return unique_model_folder(paths, stem).name


def find_resumable_run(paths: AppPaths, folder: Path, base: str, output: Path | None) -> Path | None:
    """The newest interrupted run (with a checkpoint) of this folder and base (and output)."""
    candidates = []
    for run_file in paths.runs_dir.glob(f"*/{RUN_FILE}"):
        try:
            info = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        same = info.get("folder") == str(folder) and info.get("base") == base
        if output is not None:
            same = same and info.get("output") == str(output)
        if same and (run_file.parent / CHECKPOINT_FILE).is_file():
            candidates.append((run_file.stat().st_mtime, run_file.parent))
    return max(candidates)[1] if candidates else None


def data_fingerprint(data: ds.PackedData) -> str:
    digest = hashlib.sha256()
    digest.update(data.train_ids.numpy().tobytes())
    digest.update(data.eval_ids.numpy().tobytes())
    return digest.hexdigest()[:16]


def train(config: TrainConfig, on_event: EventCallback | None = None,
          should_stop: StopCallback | None = None) -> TrainResult:
    """Scan -> clean -> split -> tokenise -> baseline -> train -> evaluate -> samples -> save.

    Raises CorpusError, InsufficientDataError, ModelLoadError or ValueError with user-facing
    messages, FolderInUseError when another training holds the run or output folder, and
    DiskFullError (an OSError) when a save runs out of space; returns status "cancelled" (after
    emitting a `cancelled` event) when should_stop became true. The writer's folder is only read.
    """
    with contextlib.ExitStack() as locks:  # released however the run ends
        return _train_pipeline(config, on_event, should_stop, locks)


def _lock_folder(locks: contextlib.ExitStack, lock_file: Path, what: str) -> None:
    locks.enter_context(FolderLock(lock_file, what))


def _train_pipeline(config: TrainConfig, on_event: EventCallback | None, should_stop: StopCallback | None,
                    locks: contextlib.ExitStack) -> TrainResult:
    from cw_desktop.ml.corpus import ScanCancelled, load_corpus
    from cw_desktop.ml.loading import load_model
    from cw_desktop.ml.memorisation import MemorisationIndex, also_saving, copying_samples
    from cw_desktop.ml.report import build_report, write_report

    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    started = time.perf_counter()
    configure_threads(config.threads)  # before the baseline evaluation, which is a long matmul run too
    folder = Path(config.folder).expanduser().resolve()
    output = Path(config.output).expanduser().resolve() if config.output else None
    paths = config.paths

    run_dir: Path | None = None
    run_info: dict[str, Any] = {}
    if config.resume:
        run_dir = Path(config.resume) if isinstance(config.resume, Path) else \
            find_resumable_run(paths, folder, config.base, output)
        if run_dir is None or not (run_dir / RUN_FILE).is_file():
            raise ValueError(f"No interrupted training run of {folder} on '{config.base}' to resume in "
                             f"{paths.runs_dir}; start a new run without --resume.")
        _lock_folder(locks, run_dir / RUN_LOCK_FILE, f"The training run folder {run_dir}")
        run_info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        output = Path(run_info["output"]) if run_info.get("output") else output
    if output is not None:  # known now: refuse a second training into it before any work
        _lock_folder(locks, output_lock_file(output), f"The output folder {output}")

    def cancelled(step: int = 0, checkpoint: Path | None = None) -> TrainResult:
        if run_dir is not None and run_dir.is_dir():
            run_info["duration_s"] = run_info.get("duration_s", 0.0) + time.perf_counter() - started
            save_run_info(run_dir, run_info)
        emit({"event": "cancelled", "step": step, "checkpoint": str(checkpoint) if checkpoint else None,
              "run_dir": str(run_dir) if run_dir else None})
        return TrainResult("cancelled", run_dir=run_dir, checkpoint=checkpoint, step=step)

    emit({"event": "stage", "stage": "scan", "message": f"Reading {folder}"})
    try:
        corpus = load_corpus(folder, should_stop=stop)
    except ScanCancelled:
        return cancelled()
    if stop():
        return cancelled()
    used = [f for f in corpus.files if f.status == "used"]
    skipped = [f for f in corpus.files if f.status != "used"]
    emit({"event": "stage", "stage": "clean",
          "message": f"{len(used)} files used, {len(skipped)} skipped, {corpus.words:,} words after cleaning"})
    split = ds.split_units(ds.document_units(corpus.documents), eval_share=config.eval_share,
                           seed=config.seed, source=str(folder), **config.split_options)
    accepted = accepted_texts(paths) if config.include_accepted else []

    emit({"event": "stage", "stage": "tokenize", "message": f"Loading {config.base} and tokenising"})
    loaded = load_model(config.base, paths)
    info = ModelInfo.of(loaded)
    tokens = ds.tokenize_split(split, loaded.tokenizer, accepted)
    if run_info:
        hp = Hyperparameters.from_dict(run_info["hyperparameters"])
    else:
        overrides = dict(config.overrides)
        overrides.setdefault("seed", config.seed)
        hp = plan_training(tokens.train_tokens, info, config.device, overrides)
    data = ds.pack_split(tokens, hp.block_size)
    fingerprint = data_fingerprint(data)
    if run_info and run_info.get("data_fingerprint") != fingerprint:
        raise ValueError(f"The text in {folder} changed since the interrupted run started, so it cannot be "
                         "resumed with the same result; start a new run without --resume.")
    emit({"event": "scan", "files_used": len(used), "files_skipped": len(skipped), "words": corpus.words,
          "train_tokens": data.train_tokens, "eval_tokens": data.eval_tokens,
          "heldout_overlap_dropped": split.heldout_overlap_dropped,
          "estimated_seconds": estimate_seconds(hp, info, data.eval_tokens)})

    if run_dir is None:
        name = output.name if output else default_name(folder, loaded.display_name if config.base == "bundled"
                                                        else config.base, paths)
        if output is None:
            output = paths.models_dir / name
            _lock_folder(locks, output_lock_file(output), f"The output folder {output}")
        if output.exists() and any(output.iterdir()):
            raise ValueError(f"The output folder {output} already exists and is not empty; choose another "
                             "with --output, or delete it.")
        run_dir = paths.runs_dir / name
        if run_dir.exists():
            run_dir = paths.runs_dir / default_name(folder, name, paths)
        run_dir.mkdir(parents=True)
        _lock_folder(locks, run_dir / RUN_LOCK_FILE, f"The training run folder {run_dir}")
        run_info = {"name": output.name, "folder": str(folder), "base": config.base, "output": str(output),
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "hyperparameters": hp.to_dict(), "data_fingerprint": fingerprint}
        save_run_info(run_dir, run_info)
    assert output is not None
    emit({"event": "plan", "max_steps": hp.max_steps, "mode": hp.mode, "hyperparameters": hp.to_dict(),
          "run_dir": str(run_dir)})

    prompts = sample_prompts([u.text for u in split.eval])
    if "baseline" not in run_info:
        emit({"event": "stage", "stage": "baseline", "message": "Measuring the base model on the held-out chapters"})
        base_eval = evaluate(loaded.model, data.eval_ids, hp.block_size, should_stop=stop)
        if stop():
            return cancelled()
        before = generate_samples(loaded.model, loaded.tokenizer, prompts, should_stop=stop) if config.samples else []
        if stop():
            return cancelled()
        run_info["baseline"] = base_eval.to_dict()
        run_info["samples_before"] = before
        run_info["keystrokes_before"] = (keystrokes_saved(loaded, loaded.model, [u.text for u in split.eval])
                                         if config.samples else None)
        save_run_info(run_dir, run_info)
    base_eval = EvalResult(**run_info["baseline"])
    emit({"event": "baseline", "perplexity": base_eval.perplexity})

    emit({"event": "stage", "stage": "train", "message": f"Training ({hp.mode}) for {hp.max_steps} steps"})
    torch.manual_seed(hp.seed)
    model = apply_mode(loaded.model, hp)
    result = run_training(model, data, hp, run_dir, on_event=emit, should_stop=stop,
                          resume=bool(config.resume), checkpoint_every_s=config.checkpoint_every_s,
                          threads=config.threads)
    if result.status == "cancelled":
        return cancelled(result.state.step, result.checkpoint)

    emit({"event": "stage", "stage": "evaluate", "message": "Measuring the tuned model on the held-out chapters"})
    model = plain_model(model)
    model.eval()
    final_eval = result.final_eval or evaluate(model, data.eval_ids, hp.block_size)

    after: list[str] = []
    keystrokes_after = None
    if config.samples:
        emit({"event": "stage", "stage": "samples", "message": "Writing samples with the tuned model"})
        after = generate_samples(model, loaded.tokenizer, prompts)
        keystrokes_after = keystrokes_saved(loaded, model, [u.text for u in split.eval])

    emit({"event": "stage", "stage": "save", "message": f"Saving to {output}"})
    guard = MemorisationIndex.build(split.train, config.memorisation_words)
    report = build_report(
        name=output.name, base=config.base, base_display=loaded.display_name, folder=folder, corpus=corpus,
        data=data, hp=hp, before=base_eval, after=final_eval, loop=result,
        duration_s=(run_info.get("duration_s", 0.0) + time.perf_counter() - started),
        prompts=prompts, samples_before=run_info.get("samples_before", []), samples_after=after,
        # The window the tuned model is meant to be used with: the base's (training blocks are
        # shorter only to save time; LoRA/top layers keep the base's long-range positions).
        context_length=loaded.context_length, eval_share=config.eval_share,
        keystrokes=(run_info.get("keystrokes_before"), keystrokes_after),
        samples_copying=copying_samples(guard, prompts, after) if after else None)
    save_model_folder(model, loaded.tokenizer, output, report, also_saving(guard, write_report))
    shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints are large and no longer needed
    emit({"event": "done", "output": str(output), "report": report})
    return TrainResult("done", output=output, report=report, run_dir=run_dir, step=result.state.step)


def save_run_info(run_dir: Path, info: dict[str, Any]) -> None:
    text = json.dumps(info, indent=2)
    with reporting_disk_full(run_dir, len(text.encode()), "the training run's record"):
        atomic_write_text(run_dir / RUN_FILE, text)


def accepted_texts(paths: AppPaths) -> list[str]:
    try:
        from cw_desktop.core.suggestion_log import SuggestionLog
    except ImportError:
        raise ValueError("--include-accepted needs the suggestion log, which this version cannot read") from None
    return SuggestionLog(paths.suggestion_log).training_texts()


def save_model_folder(model: Any, tokenizer: Any, output: Path, report: dict[str, Any],
                      write_report: Callable[[Path, dict[str, Any]], None]) -> None:
    """save_pretrained into a staging sibling, then rename: no half-written model folder.

    A full disk is reported as DiskFullError; the run folder (and its last checkpoint) is kept.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    needed = sum(t.numel() * t.element_size() for t in model.state_dict().values()) + 5 * 1024 * 1024
    hint = "The training run is kept: free some space, then resume it to save the model."
    try:
        with reporting_disk_full(output.parent, needed, f"the tuned model {output.name}", hint):
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            write_report(staging, report)
        if output.exists():  # an empty folder given with --output
            output.rmdir()
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
