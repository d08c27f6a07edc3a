"""The automatic training plan and its time estimate: plain Python, cheap, no torch needed on a CPU.

The trainer (ml/training.py), the fine-tune dialog's step 1 (ml/scan.py, via the scan worker) and
`cw-desktop scan` all plan with these functions, so the numbers the writer sees before training are
the ones the trainer then uses.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_SEED = 1234  # data split and data order (ml/dataset.py)
DEFAULT_EVAL_SHARE = 0.10  # share of the chapters held out to measure progress (ml/dataset.py)

MODES = ("full", "lora", "top")
# All weights, since the trainer's own loss (ml/lm_loss.py) doubled full mode's speed: in the same
# ~10 minutes of a 2-core CPU, full fine-tuning took Austen's held-out perplexity from 50.7 to 33.8
# and the model's own typing saved from 10.0% to 13.3%; the top 4 layers reached 38.6 and 11.7%
# (docs/training-modes.md, "Which plan saves the most typing").
DEFAULT_CPU_MODE = "full"
# Training throughput on the reference machine (2 CPU cores) for a 135M-parameter model, in
# tokens/s (bench/finetune_throughput.py in docs/benchmarks.md). Scaled by parameter count for
# other models; only used for time estimates and for capping the default number of steps.
CPU_TOKENS_PER_S_135M = {"full": 115.0, "lora": 155.0, "top": 300.0}
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
    seed: int = DEFAULT_SEED
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


# The model the CPU speeds above were measured with (SmolLM2-135M): `cw-desktop scan` quotes its speed.
REFERENCE_MODEL = ModelInfo(parameters=135_000_000, layers=30, context_length=2048)


def resolve_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import torch  # only here and below: planning for a CPU never needs torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def mixed_precision_for(device: str) -> str:
    """bf16 where the GPU does it natively, fp16 on older CUDA GPUs, full precision elsewhere
    (CPU autocast is slower than fp32 on most CPUs; MPS autocast is still patchy)."""
    if device != "cuda":
        return "no"
    import torch

    if torch.cuda.is_available():
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
    # Full: 1e-4, twice the usual fine-tuning rate, because a CPU budget allows only a few hundred steps.
    lr = float(overrides.pop("lr", 0) or {"full": 1e-4, "lora": 5e-4, "top": 2e-4}[mode])
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


def cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


# The CPU split while the editor runs a fine-tune beside its suggestions (docs/benchmarks.md
# section 5): both at full width oversubscribe the cores and every suggestion gets several times
# slower; one core for the editor keeps them usable and costs the trainer at most one core.
def trainer_threads_beside_editor(cores: int | None = None) -> int:
    return max(1, (cores or cpu_threads()) - 1)


def editor_threads_while_training(cores: int | None = None) -> int:
    return max(1, (cores or cpu_threads()) - trainer_threads_beside_editor(cores))


def decoder_blocks(model: Any) -> Any:
    """The stack of transformer blocks (GPT-2 `transformer.h`, Llama `model.layers`, ...)."""
    import torch

    best: Any = None  # a torch.nn.ModuleList
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and (best is None or len(module) > len(best)):
            best = module
    if best is None:
        raise ValueError("Cannot find the transformer blocks of this model")
    return best


def estimate_seconds(hp: Hyperparameters, info: ModelInfo, eval_tokens: int) -> float:
    """Whole-run estimate on this machine: baseline + training + evaluations + final samples.

    The one training-time estimate: the trainer, the fine-tune dialog and `cw-desktop scan` all show it."""
    speed = estimate_tokens_per_second(info, hp.mode, hp.device)
    eval_speed = CPU_EVAL_TOKENS_PER_S_135M * 135e6 / max(1.0, info.parameters) if hp.device == "cpu" else 50_000.0
    evals = hp.max_steps // max(1, hp.eval_interval) + 2
    return hp.max_steps * hp.tokens_per_step / speed + evals * eval_tokens / eval_speed + 30.0


def plan_from_counts(train_tokens: int, eval_tokens: int, model: dict[str, int],
                     overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The trainer's automatic plan (with the writer's overrides) and its time estimate, as plain data.

    `model` is {"parameters", "layers", "context_length"}. Raises ValueError for impossible overrides.
    """
    info = ModelInfo(parameters=int(model["parameters"]), layers=int(model["layers"]),
                     context_length=int(model["context_length"]))
    hp = plan_training(train_tokens, info, "auto", overrides)
    refusal = None
    if train_tokens < 2 * hp.block_size:
        refusal = (f"The training part holds only {train_tokens:,} tokens, fewer than two blocks of "
                   f"{hp.block_size}; add more text or choose a smaller block size.")
    return {"hyperparameters": hp.to_dict(), "estimated_seconds": estimate_seconds(hp, info, eval_tokens),
            "refusal": refusal}
