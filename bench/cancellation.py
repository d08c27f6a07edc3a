"""2. Cancellation: from should_stop() turning true (set by another thread, as the GUI does when the
writer types) to Generator.suggest() returning, while the engine decodes and while it prefills.

The yardstick is one decoding step of the same model at the same context length, measured in the
same run: the target is "within one decoding step + 20 ms".

    .venv/bin/python bench/cancellation.py [--quick] [--model bundled|gpt2|both] [--runs N]
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from typing import Any

import common
from common import Section, median, ms, table

DRAFT_TOKENS = 1000


def decode_step_seconds(loaded: Any, draft: str, repeats: int = 12) -> float:
    """Median time of one decoding step after a DRAFT_TOKENS-token context (the engine's own cache)."""
    import torch
    from transformers import DynamicCache

    ids = torch.tensor([loaded.tokenizer.encode(draft, add_special_tokens=False)])
    times = []
    with torch.inference_mode():
        cache = DynamicCache(config=loaded.model.config)
        out = loaded.model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        for _ in range(repeats):
            started = time.perf_counter()
            loaded.model(input_ids=token, cache=cache, use_cache=True)
            times.append(time.perf_counter() - started)
            cache.crop(-1)
    return median(times)


def cancel_once(engine: Any, draft: str, delay: float, settings: Any) -> tuple[float, str, int]:
    """Start a suggestion, flip the stop flag from a timer thread after `delay` s; return
    (seconds from the flip to suggest() returning, finish reason, tokens generated)."""
    flag = threading.Event()
    flipped: list[float] = []

    def flip() -> None:
        flipped.append(time.perf_counter())
        flag.set()

    timer = threading.Timer(delay, flip)
    timer.start()
    result = engine.suggest(draft, settings, should_stop=flag.is_set)
    returned = time.perf_counter()
    timer.join()
    if not flipped or flipped[0] > returned:
        return float("nan"), result[0].finish_reason, result[0].tokens
    return returned - flipped[0], result[0].finish_reason, result[0].tokens


def measure_model(name: str, loaded: Any, runs: int, section: Section) -> dict[str, Any]:
    from cw_desktop.ml.generation import GenerationSettings, Generator

    text = common.prose()
    draft = common.text_with_tokens(loaded.tokenizer, text, DRAFT_TOKENS)
    settings = GenerationSettings(max_new_tokens=64, stop="none", seed=0)
    step = decode_step_seconds(loaded, draft)
    engine = Generator(loaded)
    rng = random.Random(1)

    # Decoding: the draft is cached, the writer typed a few letters, the flag flips mid-suggestion.
    engine.suggest(draft, settings)
    decode_lat: list[float] = []
    for run in range(runs):
        draft_now = draft + text[len(draft):len(draft) + 3 * (run + 1)]
        delay = step * rng.uniform(3, 20)
        latency, reason, _tokens = cancel_once(engine, draft_now, delay, settings)
        if reason == "cancelled" and latency == latency:
            decode_lat.append(latency)

    # Prefilling: a fresh document of DRAFT_TOKENS tokens (4 chunks of 256), flag flips mid-prefill.
    engine.reset()
    started = time.perf_counter()
    engine._prefill(engine._build_prompt(draft, settings, "").ids, None)
    prefill_s = time.perf_counter() - started
    prefill_lat: list[float] = []
    consistent = True
    for _ in range(runs):
        engine.reset()
        latency, reason, tokens = cancel_once(engine, draft, prefill_s * rng.uniform(0.05, 0.9), settings)
        if reason == "cancelled" and tokens == 0 and latency == latency:
            prefill_lat.append(latency)
        # An abandoned prefill must leave every layer of the cache at the length the engine believes.
        layers = getattr(engine._cache, "layers", [])
        consistent &= all(layer.get_seq_length() == len(engine._cache_ids) for layer in layers)

    rows = []
    for phase, lat in (("decoding", decode_lat), ("prefilling 1,000 tokens", prefill_lat)):
        rows.append([phase, len(lat), ms(median(lat)), ms(max(lat) if lat else float("nan")),
                     f"{median(lat) / step:.2f}" if lat else "–", ms(step + 0.020)])
    section.add(f"**{name}**, {DRAFT_TOKENS}-token draft, one decoding step = {ms(step)} "
                f"(median, same run); a full prefill of the draft took {ms(prefill_s)}:\n\n" + table(
        ["cancelled while", "runs", "flag -> returned median", "max", "median in decoding steps", "target (< step + 20 ms)"],
        rows))
    return {"step": step, "prefill_s": prefill_s, "decode": decode_lat, "prefill": prefill_lat,
            "consistent_after_cancel": consistent}


def run(quick: bool = False, models: str = "both", runs: int | None = None) -> Section:
    common.header("cancellation")
    runs = runs or (5 if quick else 8)
    section = Section("2. Cancellation", f".venv/bin/python bench/cancellation.py{' --quick' if quick else ''}")
    section.add("A timer thread sets the stop flag at a random moment while `Generator.suggest()` decodes (after "
                "3-20 steps) or prefills a fresh 1,000-token draft; we time the flag flip to `suggest()` "
                "returning. The engine checks the flag before every decoding step and, during a prefill, before "
                "every decoder layer (a 256-token prefill chunk costs dozens of decoding steps).")
    chosen = {"bundled": ["SmolLM2-135M (bundled)"], "gpt2": ["GPT-2-124M shape (random)"],
              "both": list(common.MODELS)}[models]
    for index, name in enumerate(chosen):
        loaded = common.MODELS[name]()
        result = measure_model(name, loaded, runs, section)
        section.data[name] = result
        limit = result["step"] + 0.020
        for phase in ("decode", "prefill"):
            lat = result[phase]
            worst = max(lat) if lat else float("nan")
            section.target(f"cancel while {'decoding' if phase == 'decode' else 'prefilling'} ({name}), max",
                           f"< 1 step + 20 ms = {ms(limit)}", f"median {ms(median(lat))}, max {ms(worst)}",
                           (worst < limit) if lat else None)
        if not result["consistent_after_cancel"]:
            section.add(f"WARNING: {name}: the cache was inconsistent after a cancelled prefill.")
        del loaded
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", choices=["bundled", "gpt2", "both"], default="both")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    section = run(args.quick, args.model, args.runs)
    print(section.markdown())
    section.save("cancellation")


if __name__ == "__main__":
    main()
