"""The suggestion engine on a tiny GPT-2: streaming, cancellation, prefix cache, window, stop rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cw_desktop.ml.generation import (PRESETS, GenerationSettings, Generator, form_prompt, preset,
                                      sample_next, stop_index)

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, stop="none", repetition_penalty=1.0)


@pytest.fixture
def generator(tiny_loaded) -> Generator:
    engine = Generator(tiny_loaded)
    engine.reset()
    return engine


def reference_greedy(engine: Generator, context: str, steps: int, first_rank: int = 0) -> str:
    """Greedy decoding with no cache at all: the whole sequence through the model at every step,
    with the same token-healing constraint on the first step (whose token is the `first_rank`-th
    best allowed one)."""
    prompt = engine._build_prompt(context, GREEDY, "")
    out: list[int] = []
    with torch.inference_mode():
        for step in range(steps):
            logits = engine.model(input_ids=torch.tensor([prompt.ids + out])).logits[0, -1].numpy()
            if step == 0 and prompt.heal_text:
                logits = np.where(engine._heal_mask(prompt.heal_text), logits, -np.inf)
            token = int(np.argsort(-logits, kind="stable")[first_rank]) if step == 0 else int(logits.argmax())
            if token in engine._end_ids:
                break
            out.append(token)
    return engine._decode(out)[prompt.heal_chars:]


def test_streaming_reports_growing_text_in_order(generator: Generator) -> None:
    seen: list[tuple[int, str]] = []
    result = generator.suggest("Once upon a time there", GREEDY, on_token=lambda i, t: seen.append((i, t)))[0]
    assert seen, "no token was streamed"
    texts = [t for _, t in seen]
    # Each report extends the previous one, and the last one is the returned suggestion.
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert texts[-1] == result.text.rstrip() or texts[-1].rstrip() == result.text
    assert {i for i, _ in seen} == {0}


def test_cached_and_uncached_greedy_decoding_agree(generator: Generator, tiny_loaded) -> None:
    settings = GenerationSettings(max_new_tokens=10, temperature=0.0, stop="none", repetition_penalty=1.0)
    context = "The storm broke over the harbour and the boats strained at their ropes."
    # Warm the cache with an earlier, shorter context, as the writer's previous keystroke would.
    generator.suggest(context[:40], settings)
    cached = generator.suggest(context, settings)[0]
    assert generator.last_stats.reused_tokens > 5, "the prefix cache was not reused"
    assert generator.last_stats.prefilled_tokens < generator.last_stats.reused_tokens

    fresh = Generator(tiny_loaded)
    uncached = fresh.suggest(context, settings)[0]
    assert cached.text == uncached.text
    assert cached.text == reference_greedy(fresh, context, settings.max_new_tokens).rstrip(" \t")


def test_prefix_cache_only_runs_new_tokens_when_typing(generator: Generator) -> None:
    settings = GenerationSettings(max_new_tokens=2, temperature=0.0, stop="none")
    draft = "It was a dark and stormy night; the rain fell in torrents. " * 3
    generator.suggest(draft, settings)
    first_prefill = generator.last_stats.prefilled_tokens
    generator.suggest(draft + "Then", settings)
    assert generator.last_stats.prefilled_tokens <= 3
    assert first_prefill > 20


def test_cancellation_stops_within_one_step(generator: Generator) -> None:
    settings = GenerationSettings(max_new_tokens=50, temperature=0.8, stop="none", seed=1)
    calls = {"tokens": 0}

    def on_token(_index: int, _text: str) -> None:
        calls["tokens"] += 1

    def should_stop() -> bool:
        return calls["tokens"] >= 3

    result = generator.suggest("Once upon a time", settings, on_token=on_token, should_stop=should_stop)[0]
    assert result.finish_reason == "cancelled"
    assert calls["tokens"] == 3
    assert result.tokens <= 4


def test_cancel_during_prefill_returns_nothing_and_keeps_cache_consistent(generator: Generator) -> None:
    settings = GenerationSettings(max_new_tokens=5, temperature=0.0, stop="none")
    result = generator.suggest("A long draft. " * 40, settings, should_stop=lambda: True)
    assert result[0].finish_reason == "cancelled" and result[0].text == ""
    # The engine still works afterwards and gives the same answer as a fresh one.
    again = generator.suggest("A long draft. " * 40, settings)[0]
    assert again.finish_reason != "cancelled"


def test_window_slides_in_large_steps(generator: Generator) -> None:
    """A draft longer than the window is cut once at a boundary; later keystrokes reuse the cache."""
    settings = GenerationSettings(max_new_tokens=4, temperature=0.0, stop="none")
    paragraphs = [f"Paragraph {i}: the rain fell on the roofs and the sea rose in the night." for i in range(60)]
    draft = "\n".join(paragraphs)
    generator.suggest(draft, settings)
    budget = generator.budget(draft, settings)
    assert budget.draft + budget.memory + budget.reserved < generator.window
    assert budget.draft_total > budget.draft
    for word in [" The", " wind", " came", " up", " fast", " and", " cold"]:
        draft += word
        generator.suggest(draft, settings)
        # Only the typed word and the re-healed last token run again, not the window.
        word_tokens = len(generator.tokenizer.encode(word))
        assert generator.last_stats.prefilled_tokens <= word_tokens + 2, "the cache did not survive typing"
        assert generator.last_stats.reused_tokens > 100


def test_context_never_exceeds_model_positions(generator: Generator, tiny_loaded) -> None:
    settings = GenerationSettings(max_new_tokens=30, temperature=0.0, stop="none")
    draft = "word " * 2000  # no sentence or paragraph boundary at all
    result = generator.suggest(draft, settings)[0]
    assert result.tokens > 0
    assert len(generator._cache_ids) + settings.max_new_tokens <= tiny_loaded.model.config.n_positions


def test_memory_is_put_in_front_and_budgeted(generator: Generator) -> None:
    settings = preset("prose")
    plain = generator.budget("She opened the door.", settings)
    with_memory = generator.budget("She opened the door.", settings, memory="Characters: Anna, a sailor.")
    assert plain.memory == 0 and with_memory.memory > 5
    assert with_memory.draft == plain.draft
    prompt = generator._build_prompt("She opened the door.", settings, "Characters: Anna, a sailor.")
    assert generator._decode(prompt.ids).startswith("Characters: Anna")


def test_alternatives_are_returned_and_streamed_with_their_index(generator: Generator) -> None:
    settings = preset("prose", alternatives=3, seed=7, stop="none", max_new_tokens=6)
    indices: set[int] = set()
    results = generator.suggest("Once upon a time", settings, on_token=lambda i, t: indices.add(i))
    assert [r.index for r in results] == [0, 1, 2]
    assert indices == {0, 1, 2}


def test_seed_makes_sampling_repeatable(generator: Generator, tiny_loaded) -> None:
    settings = preset("prose", seed=42, stop="none", max_new_tokens=8)
    first = generator.suggest("Once upon a time", settings)[0].text
    second = Generator(tiny_loaded).suggest("Once upon a time", settings)[0].text
    assert first == second


def test_mid_word_context_is_completed_not_restarted(generator: Generator) -> None:
    """With "The sto" the first token must extend "sto" (token healing), never start a new word."""
    settings = GenerationSettings(max_new_tokens=3, temperature=1.0, stop="none", seed=3)
    prompt = generator._build_prompt("The sto", settings, "")
    healed = generator._decode(generator.tokenizer.convert_tokens_to_ids([prompt.heal_text]))
    assert healed and generator._decode(prompt.ids[1:]) + healed == "The sto"
    allowed = np.flatnonzero(generator._heal_mask(prompt.heal_text)).tolist()
    assert len(allowed) > 1 and all(generator._decode([i]).startswith(healed) for i in allowed)


def test_trailing_space_is_not_doubled(generator: Generator) -> None:
    for seed in range(5):
        text = generator.suggest("The storm broke over the harbour and ",
                                 GenerationSettings(max_new_tokens=4, temperature=1.0, stop="none", seed=seed))[0].text
        assert not text.startswith(" "), f"suggestion {text!r} would leave a double space"


def test_suggestions_are_valid_text(generator: Generator) -> None:
    for seed in range(4):
        text = generator.suggest("Café naïve 🌊", GenerationSettings(max_new_tokens=10, temperature=1.5,
                                                                     top_k=0, top_p=1.0, stop="none", seed=seed))[0].text
        assert "\ufffd" not in text
        text.encode("utf-8")


@pytest.mark.parametrize("rule,text,expected", [
    ("line", "the sea was grey\nand the sky", "the sea was grey"),
    ("line", "\nA new line starts here\nnext", "\nA new line starts here"),
    ("paragraph", "she said. Then\nmore", "she said. Then"),
    ("sentence", "he went home. And then", "he went home."),
    ("sentence", "“Stop!” she cried", "“Stop!”"),
    ("turn", "I will go.”\n“No you won't", "I will go.”"),
    ("turn", "I will go. HAMLET. Stay", None),
    ("turn", "I will go.\nHAMLET. Stay, I pray", "I will go."),
    ("none", "anything\n\nat all.", None),
])
def test_stop_rules(rule: str, text: str, expected: str | None) -> None:
    cut = stop_index(text, rule)
    assert (text[:cut] if cut is not None else None) == expected


def test_stop_rule_ends_a_suggestion(generator: Generator) -> None:
    for seed in range(3):
        result = generator.suggest("Shall I compare thee to a summer's day?\n", GenerationSettings(
            max_new_tokens=60, temperature=1.0, stop="line", seed=seed))[0]
        assert "\n" not in result.text.lstrip("\n")
        assert result.finish_reason in ("stop", "eos") or result.tokens == 60


def test_presets_differ_in_their_stop_rule() -> None:
    assert PRESETS["poetry"].stop == "line"
    assert PRESETS["dialogue"].stop == "turn"
    assert PRESETS["prose"].stop == "paragraph"
    assert preset("prose", max_new_tokens=5).max_new_tokens == 5
    with pytest.raises(ValueError, match="Unknown preset"):
        preset("limerick")


def test_top_k_and_top_p_restrict_the_choice() -> None:
    logits = np.array([[5.0, 4.0, 0.0, -1.0, -2.0]], dtype=np.float32)
    picks = {int(sample_next(logits, GenerationSettings(temperature=1.0, top_k=2, top_p=1.0),
                             np.random.default_rng(s))[0]) for s in range(50)}
    assert picks == {0, 1}
    picks = {int(sample_next(logits, GenerationSettings(temperature=1.0, top_k=0, top_p=0.5),
                             np.random.default_rng(s))[0]) for s in range(50)}
    assert picks == {0}
    flat = np.zeros((1, 5), dtype=np.float32)
    everything = {int(sample_next(flat, GenerationSettings(temperature=1.0, top_k=0, top_p=1.0),
                                  np.random.default_rng(s))[0]) for s in range(100)}
    assert everything == {0, 1, 2, 3, 4}  # no restriction: every token is possible


def test_write_produces_a_long_streamed_piece(generator: Generator) -> None:
    prompt, settings = form_prompt("poem", "The Lighthouse")
    assert prompt.startswith("The Lighthouse")
    settings = GenerationSettings(max_new_tokens=150, temperature=0.9, stop="none", seed=1)
    updates: list[str] = []
    result = generator.write(prompt, settings, on_token=lambda i, t: updates.append(t))
    # Longer than one chunk (a quarter of the window): chunks were chained into one piece.
    assert result.tokens > generator.window // 4
    assert updates and updates[-1].startswith(updates[0][:1])
    assert all(b.startswith(a) for a, b in zip(updates, updates[1:]))


def test_form_prompt_knows_its_forms() -> None:
    for form in ("poem", "dialogue", "story"):
        prompt, settings = form_prompt(form, "Night Harbour")
        assert "Night Harbour".upper() in prompt.upper() and settings.max_new_tokens > 100
    with pytest.raises(ValueError):
        form_prompt("sonnet-cycle", "x")


def test_a_row_with_nothing_left_to_sample_takes_its_best_score_not_a_random_token() -> None:
    logits = np.full((2, 6), -np.inf, dtype=np.float32)
    logits[1, 3] = 1.0  # the second row has one candidate; the first none at all
    picks = sample_next(logits, GenerationSettings(temperature=0.7, top_k=0, top_p=0.9), np.random.default_rng(0))
    assert picks.tolist() == [0, 3]  # no error, no NaN: the empty row ends up on its argmax


def test_ghost_choices_keep_greedy_text_when_no_opening_is_expected_to_save_more(generator: Generator,
                                                                                  monkeypatch) -> None:
    from dataclasses import replace

    from cw_desktop.ml import decoding

    monkeypatch.setattr(decoding, "expected_typing_saved", lambda *args, **kwargs: 0.0)
    for context in ("Once upon a time, the s", "The sto"):
        plain = generator.suggest(context, GREEDY)[0]
        weighed = generator.suggest(context, replace(GREEDY, ghost_choices=3))[0]
        # 12 tokens: decoding goes on past the look-ahead with the kept row's cache alone.
        assert (weighed.text, weighed.tokens) == (plain.text, plain.tokens) and plain.tokens == 12


def test_ghost_choices_continue_the_opening_expected_to_save_the_most(generator: Generator, monkeypatch) -> None:
    from dataclasses import replace

    from cw_desktop.ml import decoding

    # Prefer the least likely first token of the three (the third best): its row must be the one
    # that decodes on, with its own cache row.
    monkeypatch.setattr(decoding, "expected_typing_saved", lambda full, ends, logprobs, **kwargs: -logprobs[0])
    streamed: list[tuple[int, str]] = []
    weighed = generator.suggest("Once upon a time, the s", replace(GREEDY, ghost_choices=3),
                                on_token=lambda index, text: streamed.append((index, text)))[0]
    assert weighed.text == reference_greedy(generator, "Once upon a time, the s", 12, first_rank=2).replace("\ufffd", "")
    assert weighed.text != generator.suggest("Once upon a time, the s", GREEDY)[0].text
    # One ghost text streams (row 0), ending on what was returned; no alternatives appear.
    assert {index for index, _ in streamed} == {0} and streamed[-1][1] == weighed.text
