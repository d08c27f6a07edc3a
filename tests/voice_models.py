"""Tiny fine-tunes with a planted voice, for the "sounds like you" and adapter tests.

Author A writes with distinctive invented words (glimmerwyrm, moonsilver, ...) that a few steps of
training make far more likely; author B writes plain office prose. Held-out paragraphs of each are
made from the same vocabularies but never appear in the training text.
"""

from __future__ import annotations

import random
from pathlib import Path

A_WORDS = ["glimmerwyrm", "moonsilver", "thornhallow", "fjordlight", "emberwane", "quillmoss"]
A_VERBS = ["drifted over", "sang beneath", "kindled", "wove through", "hushed"]
B_WORDS = ["accountant", "invoice", "spreadsheet", "auditor", "ledger", "quarterly report"]
B_VERBS = ["filed", "checked", "approved", "forwarded", "reconciled"]


def _sentence(rng: random.Random, words: list[str], verbs: list[str]) -> str:
    a, b = rng.sample(words, 2)
    return f"The {a} {rng.choice(verbs)} the {b}."


def paragraphs(author: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words, verbs = (A_WORDS, A_VERBS) if author == "A" else (B_WORDS, B_VERBS)
    return [" ".join(_sentence(rng, words, verbs) for _ in range(4)) for _ in range(count)]


def _train(model, tokenizer, texts: list[str], steps: int, lr: float, seed: int = 0) -> None:
    import torch

    torch.manual_seed(seed)
    ids = tokenizer("\n\n".join(texts))["input_ids"]
    block = 64
    blocks = [ids[i:i + block] for i in range(0, len(ids) - block, block)]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for step in range(steps):
        batch = torch.tensor([blocks[(step * 4 + k) % len(blocks)] for k in range(4)])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def train_lora_adapter(base_dir: Path, out: Path, texts: list[str], *, steps: int = 40, lr: float = 1e-2,
                       base_spec: str | None = None, seed: int = 0) -> Path:
    """A LoRA adapter (the trainer's own LoRA set-up) trained a few steps on `texts`, saved in `out`."""
    from cw_desktop.ml.adapters import save_adapter
    from cw_desktop.ml.loading import auto_causal_lm, auto_tokenizer
    from cw_desktop.ml.plan import Hyperparameters
    from cw_desktop.ml.training import apply_mode

    tokenizer = auto_tokenizer(base_dir)
    model = apply_mode(auto_causal_lm(base_dir), Hyperparameters(mode="lora", lora_r=8, lora_alpha=16))
    _train(model, tokenizer, texts, steps, lr, seed)
    save_adapter(model, tokenizer, out, base_spec or str(base_dir))
    return out


def train_full(base_dir: Path, out: Path, texts: list[str], *, steps: int = 40, lr: float = 3e-3) -> Path:
    """A full fine-tune saved as a model folder whose report.json names its base, as the trainer's do."""
    import json

    from cw_desktop.ml.loading import auto_causal_lm, auto_tokenizer

    tokenizer = auto_tokenizer(base_dir)
    model = auto_causal_lm(base_dir)
    _train(model, tokenizer, texts, steps, lr)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "report.json").write_text(json.dumps({"name": "author A", "base_model": str(base_dir)}))
    return out
