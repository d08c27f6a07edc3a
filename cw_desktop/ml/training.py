"""Fine-tune a causal LM on a writer's folder: plan, train loop, checkpoints, the whole pipeline.

The loop is deliberately the plain one of nanoGPT / transformers' run_clm_no_trainer.py: an
accelerate Accelerator for the device and mixed precision, AdamW with weight-decay groups, a
hand-written warmup + cosine `get_lr`, gradient accumulation and clipping. Everything it needs to
continue after a crash (trainable weights, optimizer, RNG, step) goes into one checkpoint file,
and the data order is a pure function of (seed, position), so a resumed run repeats exactly what
an uninterrupted run would have done.

Events are the JSON progress protocol dicts of docs (interfaces.md, section B): the CLI prints
them, the GUI dialog parses them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.model_registry import slug
from cw_desktop.core.paths import AppPaths
from cw_desktop.ml import dataset as ds
from cw_desktop.ml.evaluation import EvalResult, evaluate, generate_samples, sample_prompts

EventCallback = Callable[[dict[str, Any]], None]
StopCallback = Callable[[], bool]

MODES = ("full", "lora", "top")
# Chosen from docs/training-modes.md: on a 2-core CPU, see the measurements there.
DEFAULT_CPU_MODE = "top"
CHECKPOINT_FILE = "checkpoint.pt"
RUN_FILE = "run.json"

# Training throughput on the reference machine (2 CPU cores) for a 135M-parameter model, in
# tokens/s, measured in docs/training-modes.md. Scaled by parameter count for other models; only
# used for time estimates and for capping the default number of steps.
CPU_TOKENS_PER_S_135M = {"full": 60.0, "lora": 200.0, "top": 320.0}
CPU_EVAL_TOKENS_PER_S_135M = 600.0
# A default CPU run should end within this (the writer can ask for more with --max-steps/--epochs).
CPU_DEFAULT_BUDGET_S = 20 * 60


# -- hyperparameters and the automatic plan ---------------------------------------------------

@dataclass
class Hyperparameters:
    mode: str = DEFAULT_CPU_MODE
    block_size: int = 256
    batch_size: int = 4  # sequences per micro-batch
    grad_accum: int = 2  # micro-batches per optimizer step
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 10
    max_steps: int = 200
    epochs: float = 0.0  # informational: passes over the training tokens max_steps amounts to
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 50
    checkpoint_interval: int = 50
    patience: int = 3  # evaluations without improvement before stopping early
    lora_r: int = 16
    lora_alpha: int = 32
    top_layers: int = 4
    seed: int = ds.DEFAULT_SEED
    device: str = "cpu"
    precision: str = "no"  # accelerate mixed_precision: "no" | "bf16" | "fp16"

    @property
    def tokens_per_step(self) -> int:
        return self.block_size * self.batch_size * self.grad_accum

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Hyperparameters":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ModelInfo:
    parameters: int
    layers: int
    context_length: int

    @classmethod
    def of(cls, loaded: Any) -> "ModelInfo":
        model = loaded.model
        return cls(parameters=sum(p.numel() for p in model.parameters()),
                   layers=len(decoder_blocks(model)), context_length=int(loaded.context_length))


def resolve_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def mixed_precision_for(device: str) -> str:
    """bf16 where the GPU does it natively, fp16 on older CUDA GPUs, full precision elsewhere
    (CPU autocast is slower than fp32 on most CPUs; MPS autocast is still patchy)."""
    if device == "cuda" and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def estimate_tokens_per_second(info: ModelInfo, mode: str, device: str) -> float:
    if device != "cpu":
        return 20_000.0  # rough: any GPU is two orders of magnitude faster; only used for ETAs
    scale = 135e6 / max(1.0, float(info.parameters))
    return CPU_TOKENS_PER_S_135M.get(mode, CPU_TOKENS_PER_S_135M["full"]) * scale * cpu_threads() / 2


def plan_training(train_tokens: int, info: ModelInfo, device: str = "cpu",
                  overrides: dict[str, Any] | None = None) -> Hyperparameters:
    """Defaults a writer never has to know, from corpus size and device; any field overridable.

    `overrides` may also hold "epochs" (converted to steps here). None values are ignored.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    device = resolve_device(overrides.pop("device", device))
    on_cpu = device == "cpu"
    mode = overrides.pop("mode", None) or (DEFAULT_CPU_MODE if on_cpu else "full")
    if mode not in MODES:
        raise ValueError(f"Unknown training mode '{mode}' (choose one of {', '.join(MODES)})")

    # Block: long enough to learn paragraph-scale style; on CPU attention cost and activation
    # memory grow with it, so 256. Never more than the model's window, nor so long that a small
    # folder yields only a handful of blocks.
    block = int(overrides.pop("block_size", 0)) or (256 if on_cpu else 512)
    while block > 32 and train_tokens // block < 16:
        block //= 2
    block = max(8, min(block, info.context_length))

    # 512 tokens per micro-batch and per optimizer step on CPU: at a few hundred tokens/s a CPU
    # step must stay short so that a couple of hundred steps (--max-steps 200) fit in minutes;
    # the total amount of text seen, not the step size, is what the time budget fixes. GPUs take
    # 8k-token micro-batches and 32k per step. Small folders get smaller steps so an epoch still
    # has enough of them.
    batch = int(overrides.pop("batch_size", 0)) or max(1, (512 if on_cpu else 8192) // block)
    batch = max(1, min(batch, train_tokens // (block * 16)))  # >= ~16 steps per epoch
    step_tokens = 512 if on_cpu else 32768
    step_tokens = max(block * batch, min(step_tokens, train_tokens // 20))
    accum = int(overrides.pop("grad_accum", 0)) or max(1, round(step_tokens / (block * batch)))
    tokens_per_step = block * batch * accum

    epochs = overrides.pop("epochs", None)
    max_steps = overrides.pop("max_steps", None)
    if max_steps is None:
        wanted_epochs = float(epochs) if epochs is not None else 3.0
        max_steps = max(1, math.ceil(wanted_epochs * train_tokens / tokens_per_step))
        if epochs is None and on_cpu:
            speed = estimate_tokens_per_second(info, mode, device)
            max_steps = max(1, min(max_steps, int(CPU_DEFAULT_BUDGET_S * speed / tokens_per_step)))
    max_steps = int(max_steps)

    # LoRA tolerates (and short runs need) a much larger learning rate than full fine-tuning.
    lr = float(overrides.pop("lr", 0) or {"full": 5e-5, "lora": 5e-4, "top": 2e-4}[mode])
    interval = max(1, max_steps // 4)  # 4 evaluations: each costs a pass over the held-out split
    hp = Hyperparameters(
        mode=mode, block_size=block, batch_size=batch, grad_accum=accum, lr=lr, min_lr=lr / 10,
        warmup_steps=max(1, min(100, max_steps // 10)), max_steps=max_steps,
        epochs=round(max_steps * tokens_per_step / max(1, train_tokens), 3),
        eval_interval=interval, checkpoint_interval=interval,
        top_layers=max(1, min(4, info.layers // 4)) if info.layers else 1,
        device=device, precision=mixed_precision_for(device))
    for key, value in overrides.items():
        if not hasattr(hp, key):
            raise ValueError(f"Unknown training setting '{key}'")
        setattr(hp, key, type(getattr(hp, key))(value))
    if "min_lr" not in overrides:
        hp.min_lr = hp.lr / 10
    return hp


def get_lr(step: int, *, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Linear warmup to max_lr, then cosine decay to min_lr at total_steps (nanoGPT)."""
    if step < warmup_steps:
        return max_lr * (step + 1) / (warmup_steps + 1)
    if step >= total_steps:
        return min_lr
    ratio = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)


def cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def configure_threads() -> None:
    """All cores we may use for the matmuls, one inter-op thread (the graph is sequential)."""
    torch.set_num_threads(cpu_threads())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process
        pass


# -- modes: which parameters train ------------------------------------------------------------

def decoder_blocks(model: Any) -> torch.nn.ModuleList:
    """The stack of transformer blocks (GPT-2 `transformer.h`, Llama `model.layers`, ...)."""
    best: torch.nn.ModuleList | None = None
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and (best is None or len(module) > len(best)):
            best = module
    if best is None:
        raise ValueError("Cannot find the transformer blocks of this model")
    return best


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


def optimizer_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices; never biases, norms or embeddings (decaying them only hurts)."""
    no_decay: set[int] = set()
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding) or "norm" in type(module).__name__.lower():
            no_decay.update(id(p) for p in module.parameters(recurse=False))
    decay, other = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if id(param) in no_decay or param.ndim < 2 or name.endswith("bias"):
            other.append(param)
        else:
            decay.append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]


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


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, model: Any, optimizer: Any, state: LoopState,
                    best: dict[str, torch.Tensor] | None) -> None:
    """One file, written to a temp name and renamed: a kill mid-write keeps the previous one."""
    payload = {"trainable": trainable_state(model), "optimizer": optimizer.state_dict(),
               "state": asdict(state), "rng": _rng_state(), "best": best}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_training(model: Any, data: ds.PackedData, hp: Hyperparameters, run_dir: Path, *,
                 on_event: EventCallback | None = None, should_stop: StopCallback | None = None,
                 resume: bool = False) -> LoopResult:
    """The optimisation loop. `model` is already in its mode (apply_mode); it trains in place."""
    from accelerate import Accelerator

    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    configure_threads()
    accelerator = Accelerator(cpu=hp.device == "cpu", mixed_precision=hp.precision)
    torch.manual_seed(hp.seed)
    random.seed(hp.seed)

    optimizer = torch.optim.AdamW(optimizer_groups(model, hp.weight_decay), lr=hp.lr, betas=(0.9, 0.95),
                                  eps=1e-8)
    model, optimizer = accelerator.prepare(model, optimizer)
    trainable = [p for p in model.parameters() if p.requires_grad]
    blocks = data.train_blocks()  # [N, T]
    n_blocks = blocks.shape[0]
    batch_size = min(hp.batch_size, n_blocks)
    checkpoint_path = run_dir / CHECKPOINT_FILE

    state = LoopState()
    best: dict[str, torch.Tensor] | None = None
    if resume and checkpoint_path.is_file():
        payload = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        load_trainable_state(accelerator.unwrap_model(model), payload["trainable"])
        optimizer.load_state_dict(payload["optimizer"])
        state = LoopState(**payload["state"])
        best = payload.get("best")
        _set_rng_state(payload["rng"])

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

    def checkpoint() -> Path:
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
                loss = model(input_ids=x, labels=x).loss / hp.grad_accum
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
        if not last_step and state.step % hp.checkpoint_interval == 0:
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
    # Minimum-size rules of the split (tests lower them to train on a few paragraphs).
    split_options: dict[str, int] = field(default_factory=dict)


@dataclass
class TrainResult:
    status: str  # "done" | "cancelled"
    output: Path | None = None
    report: dict[str, Any] | None = None
    run_dir: Path | None = None
    checkpoint: Path | None = None
    step: int = 0


class TrainingCancelled(Exception):
    pass


def default_name(folder: Path, base: str, paths: AppPaths, now: datetime | None = None) -> str:
    """<folder>-<base>-<date>, made unique against finished models and runs in progress."""
    stem = f"{slug(folder.name)}-{slug(Path(base).name if os.sep in base else base)}-{(now or datetime.now()):%Y%m%d}"
    name, n = stem, 2
    while (paths.models_dir / name).exists() or (paths.runs_dir / name).exists():
        name, n = f"{stem}-{n}", n + 1
    return name


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
    messages; returns status "cancelled" (after emitting a `cancelled` event) when should_stop
    became true. The writer's folder is only read.
    """
    from cw_desktop.ml.corpus import ScanCancelled, load_corpus
    from cw_desktop.ml.loading import load_model
    from cw_desktop.ml.report import build_report, write_report

    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    started = time.perf_counter()
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
        run_info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        output = Path(run_info["output"]) if run_info.get("output") else output

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
          "estimated_seconds": estimate_seconds(hp, info, data)})

    if run_dir is None:
        name = output.name if output else default_name(folder, loaded.display_name if config.base == "bundled"
                                                        else config.base, paths)
        if output is None:
            output = paths.models_dir / name
        if output.exists() and any(output.iterdir()):
            raise ValueError(f"The output folder {output} already exists and is not empty; choose another "
                             "with --output, or delete it.")
        run_dir = paths.runs_dir / name
        if run_dir.exists():
            run_dir = paths.runs_dir / default_name(folder, name, paths)
        run_dir.mkdir(parents=True)
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
        save_run_info(run_dir, run_info)
    base_eval = EvalResult(**run_info["baseline"])
    emit({"event": "baseline", "perplexity": base_eval.perplexity})

    emit({"event": "stage", "stage": "train", "message": f"Training ({hp.mode}) for {hp.max_steps} steps"})
    torch.manual_seed(hp.seed)
    model = apply_mode(loaded.model, hp)
    result = run_training(model, data, hp, run_dir, on_event=emit, should_stop=stop,
                          resume=bool(config.resume))
    if result.status == "cancelled":
        return cancelled(result.state.step, result.checkpoint)

    emit({"event": "stage", "stage": "evaluate", "message": "Measuring the tuned model on the held-out chapters"})
    model = plain_model(model)
    model.eval()
    final_eval = result.final_eval or evaluate(model, data.eval_ids, hp.block_size)

    after: list[str] = []
    if config.samples:
        emit({"event": "stage", "stage": "samples", "message": "Writing samples with the tuned model"})
        after = generate_samples(model, loaded.tokenizer, prompts)

    emit({"event": "stage", "stage": "save", "message": f"Saving to {output}"})
    report = build_report(
        name=output.name, base=config.base, base_display=loaded.display_name, folder=folder, corpus=corpus,
        data=data, hp=hp, before=base_eval, after=final_eval, loop=result,
        duration_s=(run_info.get("duration_s", 0.0) + time.perf_counter() - started),
        prompts=prompts, samples_before=run_info.get("samples_before", []), samples_after=after,
        # The window the tuned model is meant to be used with: the base's (training blocks are
        # shorter only to save time; LoRA/top layers keep the base's long-range positions).
        context_length=loaded.context_length, eval_share=config.eval_share)
    save_model_folder(model, loaded.tokenizer, output, report, write_report)
    shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints are large and no longer needed
    emit({"event": "done", "output": str(output), "report": report})
    return TrainResult("done", output=output, report=report, run_dir=run_dir, step=result.state.step)


def save_run_info(run_dir: Path, info: dict[str, Any]) -> None:
    atomic_write_text(run_dir / RUN_FILE, json.dumps(info, indent=2))


def accepted_texts(paths: AppPaths) -> list[str]:
    try:
        from cw_desktop.core.suggestion_log import SuggestionLog
    except ImportError:
        raise ValueError("--include-accepted needs the suggestion log, which this version cannot read") from None
    return SuggestionLog(paths.suggestion_log).training_texts()


def estimate_seconds(hp: Hyperparameters, info: ModelInfo, data: ds.PackedData) -> float:
    """Whole-run estimate: baseline + training + evaluations + final samples."""
    speed = estimate_tokens_per_second(info, hp.mode, hp.device)
    eval_speed = CPU_EVAL_TOKENS_PER_S_135M * 135e6 / max(1.0, info.parameters) if hp.device == "cpu" else 50_000.0
    evals = hp.max_steps // max(1, hp.eval_interval) + 2
    return hp.max_steps * hp.tokens_per_step / speed + evals * data.eval_tokens / eval_speed + 30.0


def save_model_folder(model: Any, tokenizer: Any, output: Path, report: dict[str, Any],
                      write_report: Callable[[Path, dict[str, Any]], None]) -> None:
    """save_pretrained into a staging sibling, then rename: no half-written model folder."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_report(staging, report)
        if output.exists():  # an empty folder given with --output
            output.rmdir()
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
