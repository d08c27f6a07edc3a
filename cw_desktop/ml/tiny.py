"""Build small GPT-2 models locally, from nothing: for tests, benchmarks and demos with no hub.

The tokenizer is a byte-level BPE trained on the given text, exactly GPT-2's scheme (so leading
spaces, UTF-8 byte fallback and `<|endoftext|>` behave as in the real model), just smaller.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EOS = "<|endoftext|>"


def train_bytelevel_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> "object":
    """A GPT-2-style fast tokenizer trained on `texts`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2TokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = GPT2TokenizerFast(tokenizer_object=backend, bos_token=EOS, eos_token=EOS, unk_token=EOS)
    tokenizer.pad_token = EOS
    return tokenizer


def build_gpt2(folder: Path, tokenizer: "object", *, n_layer: int = 2, n_head: int = 2,
               n_embd: int = 64, n_positions: int = 256, seed: int = 0) -> Path:
    """Save a randomly initialised GPT-2 of the given shape with `tokenizer` into `folder`."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=n_embd,  # type: ignore[arg-type]
                        n_layer=n_layer, n_head=n_head, bos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
                        eos_token_id=tokenizer.eos_token_id)  # type: ignore[attr-defined]
    model = GPT2LMHeadModel(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]
    return folder


def build_tiny_gpt2(folder: Path, texts: Iterable[str], *, vocab_size: int = 512, **shape: int) -> Path:
    """Train a small tokenizer on `texts` and save a tiny random GPT-2 beside it."""
    return build_gpt2(folder, train_bytelevel_tokenizer(texts, vocab_size), **shape)
