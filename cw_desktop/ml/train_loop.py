"""The optimisation loop of a fine-tune: schedule, steps, evaluations, checkpoints, resume.

The loop is deliberately the plain one of nanoGPT / transformers' run_clm_no_trainer.py: an
accelerate Accelerator for the device and mixed precision, AdamW with weight-decay groups, a
hand-written warmup + cosine `get_lr`, gradient accumulation and clipping. Everything it needs to
continue after a crash (trainable weights, optimizer, RNG, step) goes into one checkpoint file,
and the data order is a pure function of (seed, position), so a resumed run repeats exactly what
an uninterrupted run would have done.

Under `accelerate launch --num_processes N` the same loop runs in N processes (ml/distributed.py):
each takes its own slice of every global batch (the blocks a single process with an N times larger
batch would take), DDP averages the gradients, the held-out loss is summed over all processes, and
only the main process writes the checkpoint. The effective batch is batch_size x N x grad_accum.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from cw_desktop.ml import dataset as ds
from cw_desktop.ml.checkpoint import read_checkpoint, rng_state, set_rng_state, write_checkpoint
from cw_desktop.ml.distributed import World, join_world
from cw_desktop.ml.evaluation import EvalResult, evaluate
from cw_desktop.ml.lm_loss import causal_lm_loss
from cw_desktop.ml.optimizer import make_optimizer
from cw_desktop.ml.plan import Hyperparameters, cpu_threads

EventCallback = Callable[[dict[str, Any]], None]
StopCallback = Callable[[], bool]

CHECKPOINT_FILE = "checkpoint.pt"
# Wall-clock checkpoint period on top of the step-based one (a CPU run's first step-based
# checkpoint comes only after a quarter of the run, ~5 minutes).
DEFAULT_CHECKPOINT_SECONDS = 180.0


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


@dataclass
class LoopState:
    step: int = 0  # optimizer steps completed
    best_eval_loss: float = math.inf
    best_step: int = 0
    evals_without_improvement: int = 0
    eval_pending: bool = False  # cancelled during an evaluation: redo it first on resume
    elapsed_s: float = 0.0  # training time (all sessions), excluding evaluations
    tokens_seen: int = 0  # by all processes together
    history: list[dict[str, Any]] = field(default_factory=list)  # step/eval events, for the report
    last_eval: dict[str, Any] | None = None
    processes: int = 1  # the data order depends on it, so a resume must use as many


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
                    best: dict[str, torch.Tensor] | None, rng_per_process: list[Any] | None = None) -> None:
    """One file of plain data (cw_desktop/ml/checkpoint.py), replaced atomically."""
    payload = {"trainable": trainable_state(model), "optimizer": optimizer.state_dict(),
               "state": asdict(state), "rng": rng_per_process[0] if rng_per_process else rng_state(), "best": best}
    if rng_per_process and len(rng_per_process) > 1:
        payload["rng_per_process"] = rng_per_process
    write_checkpoint(path, payload)


def different_processes_message(run_dir: Path, saved: int, now: int) -> str:
    return (f"The run in {run_dir} was trained with {saved} process(es) and is resumed with {now}: its data "
            f"order and batch depend on that number. Resume it with {saved} "
            + ("process (plain `cw-desktop train ... --resume`)." if saved == 1 else
               f"processes (`accelerate launch --num_processes {saved} ...`)."))


def run_training(model: Any, data: ds.PackedData, hp: Hyperparameters, run_dir: Path, *,
                 on_event: EventCallback | None = None, should_stop: StopCallback | None = None,
                 resume: bool = False, checkpoint_every_s: float = DEFAULT_CHECKPOINT_SECONDS,
                 threads: int | None = None, world: World | None = None) -> LoopResult:
    """The optimisation loop. `model` is already in its mode (apply_mode); it trains in place.

    Checkpoints every hp.checkpoint_interval steps and at least every `checkpoint_every_s` seconds
    of wall-clock time, so a kill loses minutes, not a quarter of the run.
    """
    from accelerate import Accelerator

    emit = on_event or (lambda event: None)
    local_stop = should_stop or (lambda: False)
    configure_threads(threads)
    world = world or join_world(cpu=hp.device == "cpu")
    accelerator = Accelerator(cpu=hp.device == "cpu", mixed_precision=hp.precision)
    # Another seed per process: dropout masks must differ between the processes' slices.
    torch.manual_seed(hp.seed + world.index)
    random.seed(hp.seed + world.index)

    def stop() -> bool:  # every process stops at the same step, or the others wait for it forever
        return world.any(local_stop())

    optimizer = make_optimizer(model, hp)
    model, optimizer = accelerator.prepare(model, optimizer)
    plain = accelerator.unwrap_model(model)  # without DDP: for evaluations and checkpoints
    trainable = [p for p in model.parameters() if p.requires_grad]
    blocks = data.train_blocks()  # [N, T]
    n_blocks = blocks.shape[0]
    batch_size = min(hp.batch_size, n_blocks)
    checkpoint_path = run_dir / CHECKPOINT_FILE

    state = LoopState(processes=world.count)
    best: dict[str, torch.Tensor] | None = None
    if resume and checkpoint_path.is_file():
        payload = read_checkpoint(checkpoint_path)
        state = LoopState(**payload["state"])
        if state.processes != world.count:
            raise ValueError(different_processes_message(run_dir, state.processes, world.count))
        load_trainable_state(plain, payload["trainable"])
        optimizer.load_state_dict(payload["optimizer"])
        best = payload.get("best")
        per_process = payload.get("rng_per_process") or [payload["rng"]]
        set_rng_state(per_process[world.index] if world.index < len(per_process) else payload["rng"])

    model.train()

    def do_eval() -> EvalResult | None:
        nonlocal best
        result = evaluate(plain, data.eval_ids, hp.block_size, batch_size=batch_size,
                          device=accelerator.device, should_stop=local_stop, world=world)
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
            best = trainable_state(plain)
        else:
            state.evals_without_improvement += 1
        return result

    last_saved = time.monotonic()

    def checkpoint() -> Path:
        nonlocal last_saved
        last_saved = time.monotonic()
        rng_per_process = world.gather(rng_state()) if world.count > 1 else None
        if world.is_main:
            save_checkpoint(checkpoint_path, plain, optimizer, state, best, rng_per_process)
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
    global_batch = batch_size * world.count
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
            # This process's slice of the global micro-batch (all of it when alone).
            position = (state.step * hp.grad_accum + micro) * global_batch + world.index * batch_size
            x = blocks[sample_indices(position, batch_size, n_blocks, hp.seed)].to(accelerator.device)  # [B, T]
            # Gradients are averaged across processes once per step, on the last micro-batch.
            syncing = micro == hp.grad_accum - 1
            with contextlib.nullcontext() if syncing else accelerator.no_sync(model):
                with accelerator.autocast():
                    # No KV cache (training never reuses it); on CPU without the [tokens, vocabulary] logits.
                    loss = causal_lm_loss(model, x) / hp.grad_accum
                accelerator.backward(loss)
            loss_total += float(loss.detach())
        if world.count > 1:
            loss_total = world.mean(loss_total)
        if hp.grad_clip > 0:
            accelerator.clip_grad_norm_(trainable, hp.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        step_tokens = hp.grad_accum * global_batch * hp.block_size
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
        if not last_step:
            # The main process's clock decides, so all processes save (and gather) together.
            time_due = world.on_main(lambda: time.monotonic() - last_saved >= checkpoint_every_s)
            if state.step % hp.checkpoint_interval == 0 or time_due:
                checkpoint()

    if best is not None and state.best_step != state.step:
        # Early stopped or the last evaluations got worse: keep the best weights seen.
        load_trainable_state(plain, best)
        final_eval = EvalResult(loss=state.best_eval_loss, perplexity=math.exp(min(state.best_eval_loss, 50.0)),
                                tokens=final_eval.tokens if final_eval else 0)
    return LoopResult(status, state, final_eval, checkpoint_path if checkpoint_path.exists() else None)

