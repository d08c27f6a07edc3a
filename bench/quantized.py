"""7. Quantised inference: int8 dynamic quantisation (cw_desktop/ml/quantize.py) vs fp32.

Decode speed: the engine's suggestions (24 tokens after typing a few characters into a cached
512-token draft), fp32 and int8 measured alternately in the same run. Quality: perplexity on held-out
prose the bundled model was not tuned on (Persuasion, The Fall of the House of Usher), same tokens
and blocks for both. The GPT-2-shaped model checks the Conv1D -> Linear conversion (random weights:
its perplexity means nothing, its speed does).

    .venv/bin/python bench/quantized.py [--quick] [--model bundled|gpt2|both]
"""

from __future__ import annotations

import time
from typing import Any

import common
from common import Section, median, ms, table
from latency import typing_steps

DRAFT_TOKENS = 512
EVAL_TOKENS_PER_TEXT = 2048
BLOCK = 512
PPL_COST_LIMIT = 0.03  # "a few percent": above this, int8 must stay opt-in


def held_out_ids(tokenizer: Any) -> Any:
    import torch

    ids: list[int] = []
    for path in common.HELD_OUT:
        text = common.clean_text(path)[5_000:]  # past the title page
        ids += tokenizer.encode(text[: EVAL_TOKENS_PER_TEXT * 8], add_special_tokens=False)[:EVAL_TOKENS_PER_TEXT]
    return torch.tensor(ids)


def perplexity(loaded: Any, ids: Any) -> float:
    from cw_desktop.ml.evaluation import evaluate

    return evaluate(loaded.model, ids, BLOCK, batch_size=2).perplexity


def suggestion_times(engine: Any, draft: str, steps: list[str]) -> tuple[list[float], list[float]]:
    """(full 24-token suggestion times, first-token times) for a series of pauses."""
    from cw_desktop.ml.generation import GenerationSettings

    settings = GenerationSettings(max_new_tokens=24, stop="none", seed=0)
    full, first = [], []
    for chunk in steps:
        draft += chunk
        seen: list[float] = []
        started = time.perf_counter()
        engine.suggest(draft, settings, on_token=lambda _i, _t: seen or seen.append(time.perf_counter()))
        full.append(time.perf_counter() - started)
        first.append((seen[0] if seen else time.perf_counter()) - started)
    return full, first


def linear_counts(model: Any) -> tuple[int, int]:
    """(float nn.Linear layers, dynamically quantised Linear layers) in the model."""
    import torch

    quantized = sum(1 for m in model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear))
    plain = sum(1 for m in model.modules() if type(m) is torch.nn.Linear)
    return plain, quantized


def measure_model(name: str, load: Any, section: Section, rounds: int, with_ppl: bool) -> dict[str, Any]:
    from cw_desktop.ml.generation import GenerationSettings, Generator

    fp32, int8 = load(), load(quantize=True)
    from cw_desktop.ml import quantize

    text = common.prose()
    draft = common.text_with_tokens(fp32.tokenizer, text, DRAFT_TOKENS)
    engines = {"fp32": Generator(fp32), "int8": Generator(int8)}
    for engine in engines.values():  # the draft's one full prefill happens before timing
        engine.suggest(draft, GenerationSettings(max_new_tokens=4, stop="none"))
    full: dict[str, list[float]] = {"fp32": [], "int8": []}
    first: dict[str, list[float]] = {"fp32": [], "int8": []}
    position = len(draft)
    for round_index in range(rounds):  # alternate, so drift in machine load hits both alike
        steps = typing_steps(text[position:], 3, seed=round_index)
        for kind in ("fp32", "int8"):
            f, t = suggestion_times(engines[kind], draft, steps)
            full[kind] += f
            first[kind] += t
        draft += "".join(steps)
        position = len(draft)
    result: dict[str, Any] = {"full": full, "first": first, "layers": linear_counts(int8.model)}
    ppl = {"fp32": float("nan"), "int8": float("nan")}
    if with_ppl:
        ids = held_out_ids(fp32.tokenizer)
        ppl = {"fp32": perplexity(fp32, ids), "int8": perplexity(int8, ids)}
        result["eval_tokens"] = int(ids.numel())
        # The evidence for the layers quantize.py keeps in float: quantise everything but lm_head.
        del int8
        saved = quantize.FLOAT_LAYERS
        quantize.FLOAT_LAYERS = ("lm_head",)
        try:
            everything = load(quantize=True)
        finally:
            quantize.FLOAT_LAYERS = saved
        ppl["int8, MLP output projection too"] = perplexity(everything, ids)
        engine = Generator(everything)
        engine.suggest(draft, GenerationSettings(max_new_tokens=4, stop="none"))
        f, t = suggestion_times(engine, draft, typing_steps(text[len(draft):], 3 * rounds, seed=99))
        full["int8, MLP output projection too"], first["int8, MLP output projection too"] = f, t
        del everything, engine
    result["ppl"] = ppl
    speedup = median(full["fp32"]) / median(full["int8"])
    cost = ppl["int8"] / ppl["fp32"] - 1 if with_ppl else float("nan")
    result["speedup"], result["ppl_cost"] = speedup, cost
    plain, quantized = result["layers"]
    rows = [[kind, ms(median(full[kind])), f"{24 / median(full[kind]):.1f}", ms(median(first[kind])),
             f"{ppl[kind]:.2f}" if with_ppl else "n/a (random weights)"] for kind in full]
    if with_ppl:
        verdict = ("yes: cost within a few %" if cost <= PPL_COST_LIMIT and speedup > 1.1
                   else f"no: {'perplexity cost ' + format(cost * 100, '.1f') + '%' if cost > PPL_COST_LIMIT else 'no real speed-up'}")
    else:
        verdict = "n/a"
    section.add(f"**{name}**: {len(full['fp32'])} suggestions each, {DRAFT_TOKENS}-token draft; int8 model: "
                f"{quantized} Linear layers quantised, {plain} left in float (lm_head and the MLP output projections):\n\n" + table(
        ["weights", "24-token suggestion (median)", "tokens/s", "first token (median)",
         f"held-out perplexity ({result.get('eval_tokens', 0)} tokens)"], rows)
        + f"\n\nint8 decode speed-up: **{speedup:.2f}x**"
        + (f"; perplexity cost: **{cost * 100:+.1f}%**; make int8 the default? **{verdict}**" if with_ppl else ""))
    return result


def run(quick: bool = False, models: str = "both") -> Section:
    common.header("quantized")
    section = Section("7. Quantised inference (int8 dynamic)",
                      f".venv/bin/python bench/quantized.py{' --quick' if quick else ''}")
    section.add("`load_model(spec, quantize=True)` converts GPT-2's Conv1D layers to `nn.Linear`, then applies "
                "`torch.ao.quantization.quantize_dynamic` (int8 weights, activations quantised on the fly) to every "
                "Linear except `lm_head` and the MLP output projections (see quantize.py). Perplexity is measured "
                "on held-out text (Persuasion; The Fall of the House of Usher), "
                f"{BLOCK}-token blocks, the same tokens for both.")
    chosen = {"bundled": ["SmolLM2-135M (bundled)"], "gpt2": ["GPT-2-124M shape (random)"],
              "both": list(common.MODELS)}[models]
    rounds = 2 if quick else 4
    for name in chosen:
        with_ppl = name.startswith("SmolLM2")
        result = measure_model(name, common.MODELS[name], section, rounds, with_ppl)
        section.data[name] = result
        if with_ppl:
            section.target("int8 perplexity cost (bundled)", f"<= {PPL_COST_LIMIT * 100:.0f}% to be the default",
                           f"{result['ppl_cost'] * 100:+.1f}% at {result['speedup']:.2f}x decode speed",
                           result["ppl_cost"] <= PPL_COST_LIMIT)
        else:
            plain, quantized = result["layers"]
            section.target("GPT-2 Conv1D layers converted and quantised",
                           "all 48 converted; 36 quantised (c_attn, attn.c_proj, c_fc)",
                           f"{quantized} quantised + {plain} float Linear", quantized == 36 and plain == 13)
    return section


def main() -> None:
    common.bench_main(__doc__, "quantized", lambda args: run(args.quick, args.model),
                      lambda parser: parser.add_argument("--model", choices=["bundled", "gpt2", "both"],
                                                         default="both"))


if __name__ == "__main__":
    main()
