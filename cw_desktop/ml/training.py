"""Fine-tune a causal LM on a writer's folder: modes, the whole pipeline, the saved model folder.

The optimisation loop itself (schedule, steps, checkpoints, resume) is ml/train_loop.py; under
`accelerate launch --num_processes N` the pipeline runs in every process (ml/distributed.py) and
only the main one takes the run locks and writes run.json, the report and the model folder.

Events are the JSON progress lines of `cw-desktop train --json-progress` (docs/architecture.md):
the CLI prints them, the fine-tune dialog parses them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.disk_space import reporting_disk_full
from cw_desktop.core.model_registry import slug, unique_model_folder
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.run_lock import RUN_LOCK_FILE, FolderLock, output_lock_file
from cw_desktop.core.train_log import TRAIN_LOG_FILE
from cw_desktop.ml import dataset as ds
from cw_desktop.ml.distributed import World, join_world
from cw_desktop.ml.evaluation import EvalResult, evaluate, generate_samples, keystrokes_saved, sample_prompts
from cw_desktop.ml.optimizer import make_optimizer, optimizer_groups  # noqa: F401 - re-exported
from cw_desktop.ml.plan import (Hyperparameters, ModelInfo, decoder_blocks, estimate_seconds,  # noqa: F401
                                plan_training, resolve_device)
from cw_desktop.ml.train_loop import (CHECKPOINT_FILE, DEFAULT_CHECKPOINT_SECONDS, LoopResult,  # noqa: F401
                                      LoopState, configure_threads, get_lr, load_trainable_state, run_training,
                                      sample_indices, save_checkpoint, trainable_state)

EventCallback = Callable[[dict[str, Any]], None]
StopCallback = Callable[[], bool]

RUN_FILE = "run.json"


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
    adapter: bool = False  # LoRA only: save the adapter (a few MB, ml/adapters.py), not a merged full copy
    continue_from: Path | None = None  # a fine-tune of this folder (= base): train on what changed since it
    minutes: float | None = None  # time budget: as many steps as fit (ml/continuation.py)
    preferences: bool = False  # then a DPO step on the suggestion log's pairs (ml/preferences.py)


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
    world = join_world(cpu=resolve_device(config.device) == "cpu")  # one process, or all under accelerate
    with contextlib.ExitStack() as locks:  # released however the run ends
        result = _train_pipeline(config, on_event, should_stop, locks, world)
    world.barrier()  # the other processes exit only once the main one has saved everything
    world.close()
    return result


def _lock_folder(locks: contextlib.ExitStack, lock_file: Path, what: str) -> None:
    from cw_desktop.ml.distributed import launched_rank

    if launched_rank() == 0:  # with several processes only the main one locks (and writes)
        locks.enter_context(FolderLock(lock_file, what))


def _train_pipeline(config: TrainConfig, on_event: EventCallback | None, should_stop: StopCallback | None,
                    locks: contextlib.ExitStack, world: World) -> TrainResult:
    from cw_desktop.ml.corpus import ScanCancelled, load_corpus
    from cw_desktop.ml.loading import load_model
    from cw_desktop.ml.continuation import (budget_overrides, continuation_report, continuation_split,
                                            source_manifest, steps_within, with_manifest)
    from cw_desktop.ml.memorisation import MemorisationIndex, also_saving, copying_samples
    from cw_desktop.ml.preferences import after_fine_tune
    from cw_desktop.ml.report import build_report, write_report

    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    started = time.perf_counter()
    configure_threads(config.threads)  # before the baseline evaluation, which is a long matmul run too
    if not world.is_main:  # one voice: only the main process reports progress
        emit = lambda event: None  # noqa: E731
    folder = Path(config.folder).expanduser().resolve()
    output = Path(config.output).expanduser().resolve() if config.output else None
    paths = config.paths

    run_dir: Path | None = None
    run_info: dict[str, Any] = {}
    if config.resume:
        run_dir = Path(config.resume) if isinstance(config.resume, Path) else \
            world.on_main(lambda: find_resumable_run(paths, folder, config.base, output))
        if run_dir is None or not (run_dir / RUN_FILE).is_file():
            raise ValueError(f"No interrupted training run of {folder} on '{config.base}' to resume in "
                             f"{paths.runs_dir}; start a new run without --resume.")
        _lock_folder(locks, run_dir / RUN_LOCK_FILE, f"The training run folder {run_dir}")
        run_info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        output = Path(run_info["output"]) if run_info.get("output") else output
        # A continued run resumes as one (its split depends on it), a preference run with its step.
        config = dataclasses.replace(config, continue_from=config.continue_from or run_info.get("continue_from"),
                                     preferences=config.preferences or bool(run_info.get("preferences")))
    if output is not None:  # known now: refuse a second training into it before any work
        _lock_folder(locks, output_lock_file(output), f"The output folder {output}")

    def cancelled(step: int = 0, checkpoint: Path | None = None) -> TrainResult:
        if run_dir is not None and run_dir.is_dir() and world.is_main:
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
    continued = continuation_split(corpus.documents, Path(config.continue_from), folder, [f.path for f in used]) \
        if config.continue_from else None
    split = continued.split if continued else ds.split_units(
        ds.document_units(corpus.documents), eval_share=config.eval_share, seed=config.seed, source=str(folder),
        **config.split_options)
    manifest = source_manifest(folder, [f.path for f in used], split, continued, seed=config.seed,
                               eval_share=config.eval_share, continued_from=config.continue_from)
    accepted = accepted_texts(paths) if config.include_accepted else []
    pairs = preference_pairs(paths, config) if config.preferences else None  # refused now if too few

    emit({"event": "stage", "stage": "tokenize", "message": f"Loading {config.base} and tokenising"})
    loaded = load_model(config.base, paths)
    info = ModelInfo.of(loaded)
    tokens = ds.tokenize_split(split, loaded.tokenizer, accepted)
    if run_info:
        hp = Hyperparameters.from_dict(run_info["hyperparameters"])
    else:
        overrides = dict(config.overrides)
        overrides.setdefault("seed", config.seed)
        hp = plan_training(tokens.train_tokens, info, config.device,
                           budget_overrides(overrides, config.minutes) if continued else overrides)
        if config.minutes:
            hp = steps_within(hp, info, sum(len(t) + 1 for t in tokens.eval), config.minutes * 60)
    data = ds.pack_split(tokens, hp.block_size)
    fingerprint = data_fingerprint(data)
    if run_info and run_info.get("data_fingerprint") != fingerprint:
        raise ValueError(f"The text in {folder} changed since the interrupted run started, so it cannot be "
                         "resumed with the same result; start a new run without --resume.")
    emit({"event": "scan", "files_used": len(used), "files_skipped": len(skipped), "words": corpus.words,
          "train_tokens": data.train_tokens, "eval_tokens": data.eval_tokens,
          "heldout_overlap_dropped": split.heldout_overlap_dropped,
          "estimated_seconds": estimate_seconds(hp, info, data.eval_tokens)})

    def start_run(output: Path | None) -> tuple[Path, Path, dict[str, Any]]:
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
                    "hyperparameters": hp.to_dict(), "data_fingerprint": fingerprint,
                    "continue_from": str(config.continue_from) if config.continue_from else None,
                    "preferences": config.preferences}
        save_run_info(run_dir, run_info)
        return output, run_dir, run_info

    if run_dir is None:  # the main process names and creates it; the others learn where it is
        output, run_dir, run_info = world.on_main(lambda: start_run(output))
    assert output is not None
    emit({"event": "plan", "max_steps": hp.max_steps, "mode": hp.mode, "hyperparameters": hp.to_dict(),
          "run_dir": str(run_dir), **({"processes": world.count} if world.count > 1 else {})})

    prompts = sample_prompts([u.text for u in split.eval])
    if "baseline" not in run_info:
        emit({"event": "stage", "stage": "baseline", "message": "Measuring the base model on the held-out chapters"})
        base_eval = evaluate(loaded.model, data.eval_ids, hp.block_size, should_stop=stop, world=world)
        if world.any(stop()):
            return cancelled()
        samples = config.samples and world.is_main  # samples and the report are the main process's
        before = generate_samples(loaded.model, loaded.tokenizer, prompts, should_stop=stop) if samples else []
        if world.any(stop()):
            return cancelled()
        run_info["baseline"] = base_eval.to_dict()
        run_info["samples_before"] = before
        run_info["keystrokes_before"] = (keystrokes_saved(loaded, loaded.model, [u.text for u in split.eval])
                                         if samples else None)
        if world.is_main:
            save_run_info(run_dir, run_info)
    base_eval = EvalResult(**run_info["baseline"])
    emit({"event": "baseline", "perplexity": base_eval.perplexity})

    emit({"event": "stage", "stage": "train", "message": f"Training ({hp.mode}) for {hp.max_steps} steps"})
    torch.manual_seed(hp.seed)
    model = apply_mode(loaded.model, hp)
    result = run_training(model, data, hp, run_dir, on_event=emit, should_stop=stop,
                          resume=bool(config.resume), checkpoint_every_s=config.checkpoint_every_s,
                          threads=config.threads, world=world)
    if result.status == "cancelled":
        return cancelled(result.state.step, result.checkpoint)

    emit({"event": "stage", "stage": "evaluate", "message": "Measuring the tuned model on the held-out chapters"})
    model = model if config.adapter else plain_model(model)
    model.eval()
    final_eval = result.final_eval or evaluate(model, data.eval_ids, hp.block_size, world=world)
    if not world.is_main:
        return TrainResult("done", output=output, run_dir=run_dir, step=result.state.step)
    preferences = None
    if pairs is not None:  # on the main process only: a short single-process step after the fine-tune
        model, final_eval, preferences = after_fine_tune(model, loaded, data, hp.block_size, final_eval, pairs,
                                                         keystrokes=config.samples, on_event=emit, should_stop=stop)

    after: list[str] = []
    keystrokes_after = None
    if config.samples:
        emit({"event": "stage", "stage": "samples", "message": "Writing samples with the tuned model"})
        after = generate_samples(model, loaded.tokenizer, prompts)
        keystrokes_after = keystrokes_saved(loaded, model, [u.text for u in split.eval])

    emit({"event": "stage", "stage": "save", "message": f"Saving to {output}"})
    guard = MemorisationIndex.build(continued.trained_before if continued else split.train, config.memorisation_words)
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
    if config.adapter:  # its base by our spec, resolved on this machine (peft would write a cache path)
        model.peft_config["default"].base_model_name_or_path = config.base
        report["kind"] = "adapter"
    if world.count > 1:
        report["processes"] = world.count  # the effective batch is hyperparameters' batch x grad_accum x this
    if continued:
        report["continued"] = continuation_report(continued, Path(config.continue_from))
    if preferences is not None:
        report["preferences"] = preferences
    save_model_folder(model, loaded.tokenizer, output, report, with_manifest(also_saving(guard, write_report), manifest))
    if (run_dir / TRAIN_LOG_FILE).is_file():  # the log goes with the model (an open `tail -f` follows it)
        os.replace(run_dir / TRAIN_LOG_FILE, output / TRAIN_LOG_FILE)
    shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints are large and no longer needed
    emit({"event": "done", "output": str(output), "report": report})
    return TrainResult("done", output=output, report=report, run_dir=run_dir, step=result.state.step)


def save_run_info(run_dir: Path, info: dict[str, Any]) -> None:
    text = json.dumps(info, indent=2)
    with reporting_disk_full(run_dir, len(text.encode()), "the training run's record"):
        atomic_write_text(run_dir / RUN_FILE, text)


def preference_pairs(paths: AppPaths, config: TrainConfig) -> Any:
    """The suggestion log's pairs, split (core/preference_pairs.py); a ValueError saying why when they
    cannot be used, before anything is trained."""
    from cw_desktop.core.preference_pairs import pairs_from_log

    if config.adapter:
        raise ValueError("Learning from your choices (--preferences) cannot be combined with --adapter yet: "
                         "it merges its own small adapter into the saved model.")
    return pairs_from_log(paths.suggestion_log)


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
