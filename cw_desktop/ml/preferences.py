"""Learning from accept/reject: a DPO step on the suggestion log's preference pairs, judged honestly.

DPO (Rafailov et al., 2023) raises the log-likelihood of what the writer chose over what they turned
down, relative to a frozen reference, with no reward model:

    loss = -log sigmoid(beta * ((pi(chosen) - ref(chosen)) - (pi(rejected) - ref(rejected))))

where pi/ref are the summed log-probabilities of the continuation after the shared context. The
step trains a fresh LoRA adapter on the model it is given, so the reference is that same model with
the adapter switched off: no second copy in memory, and the reference's log-probabilities are
computed once up front.

The step is judged on pairs it never saw (held out by place, core/preference_pairs.py): does the
tuned model rank the writer's choice above the rejected suggestion more often? It is adopted only
if held-out perplexity on the manuscripts and the keystroke savings do not get worse; otherwise the
adapter is dropped and the report says why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from cw_desktop.core.preference_pairs import PairSplit, PreferencePair

EventCallback = Callable[[dict[str, Any]], None]
StopCallback = Callable[[], bool]


@dataclass
class PreferenceSettings:
    beta: float = 0.1  # how far from the reference the step may move (DPO's usual 0.1)
    lr: float = 5e-4  # LoRA's usual order of magnitude
    epochs: float = 2.0
    batch_pairs: int = 4
    max_steps: int = 200  # caps a large log: ~ten minutes for the bundled model on 2 cores
    lora_r: int = 8
    lora_alpha: int = 16
    max_context_tokens: int = 128  # the context's last tokens; the choice depends on the nearby words
    max_continuation_tokens: int = 48
    # The guard: adopted only if held-out perplexity rises by at most this share...
    perplexity_tolerance: float = 0.01
    # ...and keystroke savings drop by at most this many points (share of typing).
    keystroke_tolerance: float = 0.005
    seed: int = 1234


@dataclass(frozen=True)
class EncodedPair:
    context: list[int]
    chosen: list[int]
    rejected: list[int]


def encode_pairs(tokenizer: Any, pairs: Sequence[PreferencePair], settings: PreferenceSettings) -> list[EncodedPair]:
    """Token ids of each pair; pairs whose sides tokenise the same (after clipping) are dropped."""
    encoded = []
    bos = [tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0]
    for pair in pairs:
        ids = tokenizer([pair.context, pair.chosen, pair.rejected], add_special_tokens=False,
                        return_attention_mask=False, verbose=False)["input_ids"]
        # A context is never empty for the model: the first continuation token needs something before it.
        context = ids[0][-settings.max_context_tokens:] or bos
        chosen = ids[1][:settings.max_continuation_tokens]
        rejected = ids[2][:settings.max_continuation_tokens]
        if chosen and rejected and chosen != rejected:
            encoded.append(EncodedPair(context, chosen, rejected))
    return encoded


def continuation_logps(model: Any, items: Sequence[tuple[list[int], list[int]]], pad_id: int) -> torch.Tensor:
    """Summed log-probability of each continuation after its context: [len(items)]."""
    device = next(model.parameters()).device
    length = max(len(context) + len(continuation) for context, continuation in items)
    ids = torch.full((len(items), length), pad_id, dtype=torch.long)
    attention = torch.zeros((len(items), length), dtype=torch.long)
    scored = torch.zeros((len(items), length - 1), dtype=torch.bool)  # over the shifted targets
    for row, (context, continuation) in enumerate(items):
        sequence = context + continuation
        ids[row, :len(sequence)] = torch.tensor(sequence)
        attention[row, :len(sequence)] = 1
        scored[row, len(context) - 1:len(sequence) - 1] = True
    ids, attention, scored = ids.to(device), attention.to(device), scored.to(device)
    # Right padding: real tokens keep positions 0..n-1, so no position ids are needed.
    logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits[:, :-1]
    # The softmax over the vocabulary only where a continuation token is predicted: with a 49k-word
    # vocabulary and a context 3-10x longer than the continuation, that is most of the memory.
    token_logps = -F.cross_entropy(logits[scored].float(), ids[:, 1:][scored], reduction="none")
    rows = torch.arange(len(items), device=device).unsqueeze(1).expand_as(scored)[scored]
    return torch.zeros(len(items), device=device, dtype=token_logps.dtype).index_add(0, rows, token_logps)


def pair_logps(model: Any, pairs: Sequence[EncodedPair], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) summed log-probabilities, one forward pass over both sides of every pair."""
    items = [(p.context, p.chosen) for p in pairs] + [(p.context, p.rejected) for p in pairs]
    both = continuation_logps(model, items, pad_id)
    return both[:len(pairs)], both[len(pairs):]


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean DPO loss, each pair's implicit reward margin beta * (chosen - rejected) log-ratio)."""
    margins = beta * ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected))
    return -F.logsigmoid(margins).mean(), margins.detach()


@dataclass
class PairwiseResult:
    accuracy: float  # share of pairs where the writer's choice is the likelier continuation
    margin: float  # mean log-likelihood(chosen) - log-likelihood(rejected), in nats
    pairs: int

    def to_dict(self) -> dict[str, float | int]:
        return {"accuracy": round(self.accuracy, 4), "margin": round(self.margin, 4), "pairs": self.pairs}


@torch.inference_mode()
def pairwise(model: Any, pairs: Sequence[EncodedPair], pad_id: int, batch_pairs: int = 8) -> PairwiseResult:
    """Does the model give the writer's choice a higher log-likelihood than the rejected suggestion?"""
    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    for start in range(0, len(pairs), batch_pairs):
        c, r = pair_logps(model, pairs[start:start + batch_pairs], pad_id)
        chosen.append(c)
        rejected.append(r)
    if was_training:
        model.train()
    if not pairs:
        return PairwiseResult(0.0, 0.0, 0)
    difference = torch.cat(chosen) - torch.cat(rejected)
    return PairwiseResult(float((difference > 0).float().mean()), float(difference.mean()), len(pairs))


def add_preference_adapter(model: Any, settings: PreferenceSettings) -> Any:
    """A fresh LoRA adapter over `model` (whose weights then stay frozen: they are the reference)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                        target_modules="all-linear", task_type="CAUSAL_LM")
    return get_peft_model(model, config)


@dataclass
class PreferenceTraining:
    status: str  # "done" | "cancelled"
    steps: int
    seconds: float
    pairs_per_s: float  # training pairs per second of optimisation (the reference pass not counted)
    losses: list[float]
    reference_seconds: float = 0.0


def train_preferences(model: Any, pairs: Sequence[EncodedPair], settings: PreferenceSettings, pad_id: int, *,
                      on_event: EventCallback | None = None, should_stop: StopCallback | None = None) -> PreferenceTraining:
    """DPO on `model`, a peft model from add_preference_adapter: its adapter trains in place."""
    from cw_desktop.ml.optimizer import make_optimizer
    from cw_desktop.ml.plan import Hyperparameters
    from cw_desktop.ml.train_loop import get_lr

    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    started = time.perf_counter()
    batch = max(1, min(settings.batch_pairs, len(pairs)))
    steps = max(1, min(settings.max_steps, math.ceil(settings.epochs * len(pairs) / batch)))
    # The reference never changes: its log-probabilities once, with the adapter switched off.
    with torch.inference_mode(), model.disable_adapter():
        model.eval()
        reference = [pair_logps(model, pairs[i:i + 8], pad_id) for i in range(0, len(pairs), 8)]
    reference_chosen = torch.cat([c for c, _ in reference])
    reference_rejected = torch.cat([r for _, r in reference])
    reference_seconds = time.perf_counter() - started
    optimizer = make_optimizer(model, Hyperparameters(lr=settings.lr, weight_decay=0.0))
    generator = torch.Generator().manual_seed(settings.seed)
    order: list[int] = []
    losses: list[float] = []
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.train()
    report_every = max(1, steps // 10)
    for step in range(steps):
        if stop():
            return PreferenceTraining("cancelled", step, time.perf_counter() - started, 0.0, losses, reference_seconds)
        if len(order) < batch:
            order += torch.randperm(len(pairs), generator=generator).tolist()
        chosen_rows, order = order[:batch], order[batch:]
        lr = get_lr(step, max_lr=settings.lr, min_lr=settings.lr / 10, warmup_steps=max(1, steps // 10),
                    total_steps=steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        policy_chosen, policy_rejected = pair_logps(model, [pairs[i] for i in chosen_rows], pad_id)
        index = torch.tensor(chosen_rows)
        loss, margins = dpo_loss(policy_chosen, policy_rejected, reference_chosen[index].to(policy_chosen.device),
                                 reference_rejected[index].to(policy_chosen.device), settings.beta)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if (step + 1) % report_every == 0 or step + 1 == steps:
            emit({"event": "stage", "stage": "preferences",
                  "message": f"Learning from your choices: step {step + 1}/{steps}, DPO loss {losses[-1]:.3f}, "
                             f"reward margin {float(margins.mean()):+.3f}"})
    model.eval()
    seconds = time.perf_counter() - started
    return PreferenceTraining("done", steps, seconds, steps * batch / max(1e-6, seconds - reference_seconds), losses,
                              reference_seconds)


def preference_step(model: Any, loaded: Any, eval_ids: torch.Tensor, block_size: int, eval_texts: Sequence[str],
                    split: PairSplit, *, perplexity_before: float, settings: PreferenceSettings | None = None,
                    keystrokes: bool = True, on_event: EventCallback | None = None,
                    should_stop: StopCallback | None = None) -> tuple[Any, dict[str, Any]]:
    """Train on split.train, measure on split.held_out and the manuscripts' held-out chapters, and
    adopt the result only if nothing the writer would notice got worse.

    Returns (the model to save: merged if adopted, else the given one unchanged; the report's
    "preferences" section). `model` is a plain transformers model (not a peft one).
    """
    from cw_desktop.ml.evaluation import evaluate, keystrokes_saved

    settings = settings or PreferenceSettings()
    emit = on_event or (lambda event: None)
    tokenizer = loaded.tokenizer
    pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0)
    train_pairs = encode_pairs(tokenizer, split.train, settings)
    held_pairs = encode_pairs(tokenizer, split.held_out, settings)
    emit({"event": "stage", "stage": "preferences",
          "message": f"Learning from your choices: {len(train_pairs)} pairs to learn from, {len(held_pairs)} held out"})
    section: dict[str, Any] = {"pairs": split.total, "train_pairs": len(train_pairs), "held_out_pairs": len(held_pairs),
                               "settings": asdict(settings)}
    before = pairwise(model, held_pairs, pad_id)
    keys_before = keystrokes_saved(loaded, model, eval_texts) if keystrokes else None
    torch.manual_seed(settings.seed)
    tuned = add_preference_adapter(model, settings)
    run = train_preferences(tuned, train_pairs, settings, pad_id, on_event=emit, should_stop=should_stop)
    section.update(steps=run.steps, seconds=round(run.seconds, 1), pairs_per_s=round(run.pairs_per_s, 2),
                   loss_first=round(run.losses[0], 4) if run.losses else None,
                   loss_last=round(run.losses[-1], 4) if run.losses else None)
    if run.status == "cancelled":
        section.update(adopted=False, reason="stopped before the preference step finished")
        return tuned.unload(), section
    after = pairwise(tuned, held_pairs, pad_id)
    perplexity_after = evaluate(tuned, eval_ids, block_size).perplexity
    keys_after = keystrokes_saved(loaded, tuned, eval_texts) if keystrokes else None
    section.update(held_out_accuracy={"before": round(before.accuracy, 4), "after": round(after.accuracy, 4)},
                   held_out_margin={"before": round(before.margin, 4), "after": round(after.margin, 4)},
                   perplexity={"before": round(perplexity_before, 4), "after": round(perplexity_after, 4)},
                   keystrokes_saved=({"before": keys_before, "after": keys_after} if keys_before is not None
                                     and keys_after is not None else None))
    worse = []
    if perplexity_after > perplexity_before * (1 + settings.perplexity_tolerance):
        worse.append(f"held-out perplexity rose from {perplexity_before:.2f} to {perplexity_after:.2f}")
    if keys_before is not None and keys_after is not None and keys_after < keys_before - settings.keystroke_tolerance:
        worse.append(f"keystroke savings fell from {keys_before:.1%} to {keys_after:.1%}")
    if worse:
        section.update(adopted=False, reason="not adopted: " + "; ".join(worse))
        emit({"event": "stage", "stage": "preferences",
              "message": f"The preference step is NOT kept: {'; '.join(worse)}"})
        return tuned.unload(), section
    section.update(adopted=True, reason="")
    emit({"event": "stage", "stage": "preferences",
          "message": f"Kept: held-out pairs ranked right {before.accuracy:.0%} -> {after.accuracy:.0%}"})
    return tuned.merge_and_unload(), section


def after_fine_tune(model: Any, loaded: Any, data: Any, block_size: int, final_eval: Any, split: PairSplit, *,
                    keystrokes: bool, on_event: EventCallback | None = None,
                    should_stop: StopCallback | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """The trainer's hook (ml/training.py): the preference step on the freshly tuned model.

    Returns (model to save, its held-out evaluation, the report's "preferences" section)."""
    from cw_desktop.ml.evaluation import evaluate

    model, section = preference_step(model, loaded, data.eval_ids, block_size, [u.text for u in data.split.eval],
                                     split, perplexity_before=final_eval.perplexity, keystrokes=keystrokes,
                                     on_event=on_event, should_stop=should_stop)
    if section.get("adopted"):
        final_eval = evaluate(model, data.eval_ids, block_size)
    return model, final_eval, section
