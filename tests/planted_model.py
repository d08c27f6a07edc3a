"""A tiny GPT-2 trained until a known phrase is its greedy continuation (importable by tests).

Banning a phrase is only tested for real when the model wants to write it: after "She opened the
door." this model's likeliest words are " Suddenly the lamp went out." A small vocabulary keeps some
words in several tokens, so phrases span token boundaries.
"""

from __future__ import annotations

from pathlib import Path

from shared_data import SAMPLE_TEXT

PROMPT = "She opened the door."
PLANTED = " Suddenly the lamp went out."
STORY = [
    "She opened the door. Suddenly the lamp went out. He waited in the dark hall.",
    "The wind rose over the hills. She opened the door. Suddenly the lamp went out.",
    "They walked to the river and sat by the water until the evening came.",
    "She opened the door. Suddenly the lamp went out. Nobody spoke for a while.",
]


def build_planted_gpt2(folder: Path, steps: int = 120) -> Path:
    """Train a 2-layer GPT-2 on STORY (~10 s on one core) and save it in `folder`."""
    import torch
    from transformers import GPT2LMHeadModel

    from cw_desktop.ml.tiny import build_tiny_gpt2

    build_tiny_gpt2(folder, STORY * 20 + SAMPLE_TEXT, vocab_size=320, n_layer=2, n_head=2, n_embd=64,
                    n_positions=128)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = GPT2LMHeadModel.from_pretrained(folder)
    end = tokenizer.eos_token_id
    texts = [STORY[i % len(STORY)] + " " + STORY[(i * 3 + 1) % len(STORY)] for i in range(8)]
    rows = [[end] + tokenizer.encode(t) for t in texts]
    width = min(len(r) for r in rows)
    batch = torch.tensor([r[:width] for r in rows])
    torch.manual_seed(0)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    # One thread: on a shared 2-core machine torch's pool of several threads made this 20x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(steps):
            loss = model(input_ids=batch, labels=batch).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(folder)
    return folder
