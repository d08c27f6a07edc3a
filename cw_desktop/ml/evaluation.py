"""Held-out perplexity and side-by-side samples: the honest answer to "did fine-tuning help?"."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from cw_desktop.ml.dataset import eval_blocks

# The forms a writer cares about; each prompt is the opening the model continues.
SAMPLE_PROMPTS: list[tuple[str, str]] = [
    ("poem", "The Lighthouse\n\nAt dusk the lamp"),
    ("dialogue", "\"You are late again,\" said Margaret, not looking up from her letter.\n\n\""),
    ("story", "It was the last evening of the summer, and the house by the river"),
]
SAMPLE_SEED = 7
SAMPLE_NEW_TOKENS = 60


@dataclass
class EvalResult:
    loss: float  # mean token loss (nats) over the whole split
    perplexity: float
    tokens: int  # predicted tokens counted

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@torch.inference_mode()
def evaluate(model: Any, ids: torch.Tensor, block_size: int, *, batch_size: int = 4,
             device: torch.device | str | None = None,
             should_stop: Callable[[], bool] | None = None, world: Any = None) -> EvalResult:
    """Perplexity = exp(sum of token losses / number of tokens) over EVERY held-out block.

    Summing token losses (rather than averaging batch means) weights the short last block
    correctly and makes the number independent of batch size. With several training processes
    (`world`, ml/distributed.py) each measures every count-th batch and the sums are added up, so
    the figure is the whole split's, the same as one process would get.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    blocks = eval_blocks(ids, block_size)
    full = [b for b in blocks if b.numel() == block_size]
    tail = [b for b in blocks if b.numel() != block_size]
    total_loss = 0.0
    total_tokens = 0
    batches = [torch.stack(full[i:i + batch_size]) for i in range(0, len(full), batch_size)]
    batches += [t.unsqueeze(0) for t in tail]
    if world is not None and world.count > 1:
        batches = batches[world.index::world.count]
    for batch in batches:  # [B, T]
        if should_stop is not None and should_stop():
            break
        batch = batch.to(device)
        logits = model(input_ids=batch).logits  # [B, T, V]
        loss_sum = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)).float(),
                                   batch[:, 1:].reshape(-1), reduction="sum")
        total_loss += float(loss_sum)
        total_tokens += batch[:, 1:].numel()
    if was_training:
        model.train()
    if world is not None and world.count > 1:
        total_loss, summed_tokens = world.sum([total_loss, total_tokens])
        total_tokens = int(summed_tokens)
    mean = total_loss / max(1, total_tokens)
    return EvalResult(loss=mean, perplexity=math.exp(min(mean, 50.0)), tokens=total_tokens)


def sample_prompts(eval_texts: Sequence[str], held_out_openings: int = 2, words: int = 40) -> list[tuple[str, str]]:
    """The fixed prompts plus the openings of a few held-out chapters (the writer's own voice)."""
    prompts = list(SAMPLE_PROMPTS)
    for text in list(eval_texts)[:held_out_openings]:
        opening = " ".join(text.split()[:words])
        if opening:
            prompts.append(("held-out opening", opening))
    return prompts


@torch.inference_mode()
def generate_samples(model: Any, tokenizer: Any, prompts: Sequence[tuple[str, str]], *,
                     seed: int = SAMPLE_SEED, max_new_tokens: int = SAMPLE_NEW_TOKENS,
                     should_stop: Callable[[], bool] | None = None) -> list[str]:
    """One sampled continuation per prompt, with a fixed seed per prompt so before/after compare."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    outputs = []
    for index, (form, prompt) in enumerate(prompts):
        if should_stop is not None and should_stop():
            break
        torch.manual_seed(seed + index)
        encoded = tokenizer(_framed(tokenizer, form, prompt), return_tensors="pt").to(device)
        generated = model.generate(**encoded, do_sample=True, temperature=0.8, top_p=0.95, top_k=50,
                                   repetition_penalty=1.15, max_new_tokens=max_new_tokens,
                                   pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                                   logits_processor=_form_shaping(model, tokenizer, form, prompt,
                                                                  encoded["input_ids"].shape[1]))
        new_tokens = generated[0, encoded["input_ids"].shape[1]:]
        outputs.append(tokenizer.decode(new_tokens, skip_special_tokens=True))
    if was_training:
        model.train()
    return outputs


def _form_shaping(model: Any, tokenizer: Any, form: str, prompt: str, prompt_tokens: int) -> list[Any]:
    """A poem sample in lines, a dialogue sample in turns, as "Write a piece" makes them (ml/form_shaping.py)."""
    from cw_desktop.ml.form_shaping import FormLogitsProcessor, FormShaper

    if form not in ("poem", "dialogue"):
        return []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ends = {tokenizer.eos_token_id, *(configured if isinstance(configured, list) else [configured])}
    shaper = FormShaper(form, tokenizer, [i for i in ends if isinstance(i, int)], prompt)
    return [FormLogitsProcessor(shaper, tokenizer, prompt_tokens)]


def _framed(tokenizer: Any, form: str, prompt: str) -> str:
    """A form sample's prompt behind a request for that form in the model's chat format, when it has
    one (ml/forms.py): framed as a plain document, the bundled model writes prose for every form."""
    from cw_desktop.ml.forms import chat_preamble

    request = chat_preamble(tokenizer, form, prompt.split("\n")[0].strip().strip('"“'))
    return request + prompt if request else prompt


def block_size_for(loaded: Any, train_tokens: int) -> int:
    """The block length a model was (or would be) trained with, so numbers compare with training:
    the fine-tune's own from its report.json, else what plan_training picks on a CPU."""
    hyperparameters = (loaded.provenance or {}).get("hyperparameters") or {}
    if hyperparameters.get("block_size"):
        return int(hyperparameters["block_size"])
    from cw_desktop.ml.plan import ModelInfo, plan_training

    return plan_training(train_tokens, ModelInfo.of(loaded), "cpu").block_size


def evaluate_folder(loaded: Any, folder: Any, *, eval_share: float | None = None, seed: int | None = None,
                    block_size: int | None = None, split_options: dict[str, int] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Perplexity of a loaded model on a folder's held-out split: the same split function and seed
    as training (a fine-tune's own seed and share when it has a report.json)."""
    from pathlib import Path

    from cw_desktop.ml import dataset as ds
    from cw_desktop.ml.corpus import load_corpus

    hyperparameters = (loaded.provenance or {}).get("hyperparameters") or {}
    seed = seed if seed is not None else int(hyperparameters.get("seed", ds.DEFAULT_SEED))
    if eval_share is None:
        eval_share = float((loaded.provenance or {}).get("eval_share") or ds.DEFAULT_EVAL_SHARE)
    folder = Path(folder).expanduser().resolve()
    corpus = load_corpus(folder, should_stop=should_stop)
    split = ds.split_units(ds.document_units(corpus.documents), eval_share=eval_share, seed=seed,
                           source=str(folder), **(split_options or {}))
    train_tokens = ds.count_tokens(loaded.tokenizer, [u.text for u in split.train])
    block = min(block_size or block_size_for(loaded, train_tokens), loaded.context_length)
    eval_ids = ds.pack(ds.tokenize_texts(loaded.tokenizer, [u.text for u in split.eval]),
                       ds.eos_token_id(loaded.tokenizer))
    result = evaluate(loaded.model, eval_ids, block, should_stop=should_stop)
    return {"model": loaded.spec, "model_name": loaded.display_name, "folder": str(folder),
            "perplexity": result.perplexity, "eval_loss": result.loss, "eval_tokens": int(eval_ids.numel()),
            "predicted_tokens": result.tokens, "held_out_chapters": len(split.eval),
            "held_out_words": split.eval_words, "block_size": block, "seed": seed, "eval_share": eval_share}


# Held-out words the fine-tune report types with ghost text on (ml/keystrokes.py): ~200 pauses,
# well under a minute for the bundled model on 2 cores; base and tuned type the very same words.
KEYSTROKE_WORDS = 200


def keystrokes_saved(loaded: Any, model: Any, eval_texts: Sequence[str], words: int = KEYSTROKE_WORDS) -> float | None:
    """Share of typing the editor's ghost text (prose preset) saves a simulated writer on the
    openings of held-out chapters, with `model` in place of `loaded.model`; None without text."""
    from dataclasses import replace

    from cw_desktop.ml.generation import Generator, preset
    from cw_desktop.ml.keystrokes import held_out_openings, measure_engine

    texts = held_out_openings(list(eval_texts), words)
    if not texts:
        return None
    engine = Generator(replace(loaded, model=model))
    result, _ = measure_engine(engine, texts, preset("prose", alternatives=1))
    return round(result.savings, 4)
