"""1. Suggestion latency while typing: the engine's prefix cache vs plain model.generate().

A writer has a draft of N tokens (real prose), types a few characters of the novel's next words,
pauses, and waits for a suggestion; repeat. For every pause we time
  - first token: from the request to the first visible suggestion text (engine: the first
    on_token call; baseline: the first generated token reaching a streamer);
  - full: to a complete 24-token suggestion (stop rule "none", so both produce 24 tokens).
(a) Generator.suggest keeps the key/value cache of the previous pause and only runs new tokens;
(b) the naive baseline tokenises the whole draft and runs model.generate() on it from scratch,
with the same sampling settings.

    .venv/bin/python bench/latency.py [--quick] [--model bundled|gpt2|both] [--pauses N]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, field
from typing import Any

import common
from common import Section, median, ms, p90, ratio, table

SIZES = (256, 512, 1000)
MAX_NEW = 24


@dataclass
class Samples:
    first: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    prefilled: list[int] = field(default_factory=list)


def typing_steps(continuation: str, pauses: int, seed: int = 0) -> list[str]:
    """Chunks of the novel's next characters, 2-8 at a time, as a writer types between pauses."""
    rng = random.Random(seed)
    chunks, position = [], 0
    for _ in range(pauses):
        size = rng.randint(2, 8)
        chunks.append(continuation[position:position + size])
        position += size
    return chunks


def engine_run(loaded: Any, draft: str, steps: list[str], alternatives: int) -> Samples:
    import torch

    from cw_desktop.ml.generation import GenerationSettings, Generator

    settings = GenerationSettings(max_new_tokens=MAX_NEW, stop="none", alternatives=alternatives, seed=0)
    engine = Generator(loaded)
    engine.suggest(draft, settings)  # opening the document: the one full prefill, not a pause
    samples = Samples()
    torch.manual_seed(0)
    for chunk in steps:
        draft += chunk
        first: list[float] = []

        def on_token(_index: int, _text: str) -> None:
            if not first:
                first.append(time.perf_counter())

        started = time.perf_counter()
        engine.suggest(draft, settings, on_token=on_token)
        ended = time.perf_counter()
        samples.first.append((first[0] if first else ended) - started)
        samples.full.append(ended - started)
        samples.prefilled.append(engine.last_stats.prefilled_tokens)
    return samples


class _FirstTokenStreamer:
    """transformers streamer protocol: put() gets the prompt first, then each new token."""

    def __init__(self) -> None:
        self.calls = 0
        self.first: float | None = None

    def put(self, _value: Any) -> None:
        self.calls += 1
        if self.calls == 2 and self.first is None:
            self.first = time.perf_counter()

    def end(self) -> None:
        pass


def baseline_run(loaded: Any, draft: str, steps: list[str]) -> Samples:
    """What a straightforward implementation does on every pause: encode everything, generate()."""
    import torch
    from transformers import GenerationConfig

    model, tokenizer = loaded.model, loaded.tokenizer
    config = GenerationConfig(do_sample=True, temperature=0.8, top_p=0.95, top_k=50, repetition_penalty=1.15,
                              max_new_tokens=MAX_NEW, min_new_tokens=MAX_NEW,
                              pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    samples = Samples()
    torch.manual_seed(0)
    with torch.inference_mode():
        model.generate(**tokenizer(draft[:200], return_tensors="pt"), generation_config=config)  # warm-up
        for chunk in steps:
            draft += chunk
            streamer = _FirstTokenStreamer()
            started = time.perf_counter()
            inputs = tokenizer(draft, return_tensors="pt")
            # A naive caller must still respect the position limit (GPT-2: 1,024 with the new tokens).
            room = loaded.context_length - MAX_NEW
            inputs = {key: value[:, -room:] for key, value in inputs.items()}
            model.generate(**inputs, generation_config=config, streamer=streamer)
            ended = time.perf_counter()
            samples.first.append((streamer.first or ended) - started)
            samples.full.append(ended - started)
            samples.prefilled.append(int(inputs["input_ids"].shape[1]))
    return samples


def measure_model(name: str, loaded: Any, sizes: tuple[int, ...], pauses: int, section: Section,
                  alternatives_check: bool) -> dict[str, Any]:
    text = common.prose()
    rows, raw = [], {}
    for size in sizes:
        draft = common.text_with_tokens(loaded.tokenizer, text, size)
        steps = typing_steps(text[len(draft):], pauses, seed=size)
        ours = engine_run(loaded, draft, steps, alternatives=1)
        base = baseline_run(loaded, draft, steps)
        raw[size] = {"engine": ours.__dict__, "baseline": base.__dict__}
        rows.append([size, ms(median(ours.first)), ms(p90(ours.first)), ms(median(base.first)), ms(p90(base.first)),
                     ratio(median(base.first), median(ours.first)),
                     ms(median(ours.full)), ms(p90(ours.full)), ms(median(base.full)), ms(p90(base.full)),
                     ratio(median(base.full), median(ours.full)), f"{median(ours.prefilled):.0f}"])
        print(f"  {name} {size} tokens: engine first {ms(median(ours.first))} full {ms(median(ours.full))}; "
              f"baseline first {ms(median(base.first))} full {ms(median(base.full))}", flush=True)
    section.add(f"**{name}**, {pauses} pauses per draft size, alternatives=1, {MAX_NEW} new tokens, "
                f"{loaded.model.config._attn_implementation} attention:\n\n" + table(
        ["draft tokens", "first: engine median", "p90", "first: generate() median", "p90", "speed-up",
         "full: engine median", "p90", "full: generate() median", "p90", "speed-up", "tokens run per pause"],
        rows))
    result: dict[str, Any] = {"raw": raw}
    if alternatives_check:
        size = sizes[-1]
        draft = common.text_with_tokens(loaded.tokenizer, text, size)
        steps = typing_steps(text[len(draft):], pauses, seed=size)
        one = engine_run(loaded, draft, steps, alternatives=1)
        three = engine_run(loaded, draft, steps, alternatives=3)
        raw["alternatives"] = {"1": one.__dict__, "3": three.__dict__}
        section.add(f"**{name}**, {size}-token draft: alternatives=3 (the first alternative streams alone, "
                    "then alternatives 2-3 decode as one batch of two):\n\n" + table(
            ["alternatives", "first token median", "p90", "all suggestions median", "p90"],
            [[1, ms(median(one.first)), ms(p90(one.first)), ms(median(one.full)), ms(p90(one.full))],
             [3, ms(median(three.first)), ms(p90(three.first)), ms(median(three.full)), ms(p90(three.full))]]))
    return result


def run(quick: bool = False, models: str = "both", pauses: int | None = None) -> Section:
    common.header("latency")
    pauses = pauses or (4 if quick else 8)
    sizes = (256, 1000) if quick else SIZES
    section = Section("1. Suggestion latency while typing",
                      f".venv/bin/python bench/latency.py{' --quick' if quick else ''}")
    section.add("Each pause follows 2-8 typed characters of the novel's real next words (Pride and Prejudice). "
                "*first* = request to the first visible suggestion text; *full* = request to a complete "
                f"{MAX_NEW}-token suggestion. Baseline: tokenise the whole draft and call `model.generate()` with "
                "the same sampling settings (temperature 0.8, top-p 0.95, top-k 50, repetition penalty 1.15), "
                "timing the first token with a streamer. *tokens run per pause*: tokens the model had to read "
                "before sampling (engine: only what changed since the previous pause).")
    chosen = {"bundled": ["SmolLM2-135M (bundled)"], "gpt2": ["GPT-2-124M shape (random)"],
              "both": list(common.MODELS)}[models]
    for index, name in enumerate(chosen):
        loaded = common.MODELS[name]()
        result = measure_model(name, loaded, sizes, pauses, section, alternatives_check=(index == 0))
        section.data[name] = result
        if index == 0:
            raw = result["raw"][sizes[-1]]
            first = median(raw["engine"]["first"])
            base_first = median(raw["baseline"]["first"])
            full = median(raw["engine"]["full"])
            section.target(f"first token at {sizes[-1]} tokens ({name})", "<= 150 ms", ms(first), first <= 0.150)
            section.target(f"first-token speed-up vs generate() at {sizes[-1]} tokens", ">= 8x",
                           ratio(base_first, first), base_first / first >= 8)
            section.target(f"full 24-token suggestion at {sizes[-1]} tokens", "<= 1.2 s", ms(full), full <= 1.2)
        del loaded
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", choices=["bundled", "gpt2", "both"], default="both")
    parser.add_argument("--pauses", type=int)
    args = parser.parse_args()
    section = run(args.quick, args.model, args.pauses)
    print(section.markdown())
    section.save("latency")


if __name__ == "__main__":
    main()
