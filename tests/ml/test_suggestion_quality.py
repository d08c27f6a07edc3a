"""What the writer sees as ghost text on a tiny GPT-2: greedy first, no junk, their own names, ranked alternatives."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cw_desktop.ml.generation import GenerationSettings, Generator, preset


@pytest.fixture
def generator(tiny_loaded) -> Generator:
    return Generator(tiny_loaded)


class _DigitLover:
    """A stand-in for the project vocabulary that makes the model babble digits (a junk generator)."""

    def __init__(self, token: int) -> None:
        self.token = token

    def set_draft_ids(self, ids: list[int]) -> None:
        pass

    def mix(self, logits: np.ndarray, contexts: list[list[int]]) -> np.ndarray:
        boosted = logits.copy()
        boosted[:, self.token] += 1000.0
        return boosted


def test_a_run_of_digits_is_never_shown(generator: Generator) -> None:
    generator.vocabulary = _DigitLover(generator.tokenizer.convert_tokens_to_ids("7"))  # type: ignore[assignment]
    streamed: list[str] = []
    settings = GenerationSettings(max_new_tokens=12, temperature=0.0, stop="none")
    result = generator.suggest("She knelt down to pray.", settings, on_token=lambda i, t: streamed.append(t))[0]
    assert not re.search(r"\d{5}", result.text)
    assert not any(re.search(r"\d", text) for text in streamed)
    assert result.finish_reason == "stop"


def test_carriage_returns_and_unicode_separators_arrive_as_plain_line_breaks(generator: Generator) -> None:
    """An editor turns "\r" or U+2029 into a paragraph break of its own, so accepting would insert a
    different text from the one shown (and saved files would mix line endings)."""
    returns = generator.tokenizer.encode("\r", add_special_tokens=False)
    assert len(returns) == 1
    generator.vocabulary = _DigitLover(returns[0])  # type: ignore[assignment]
    streamed: list[str] = []
    settings = GenerationSettings(max_new_tokens=6, temperature=0.0, stop="none")
    result = generator.suggest("She knelt down to pray.", settings, on_token=lambda i, t: streamed.append(t))[0]
    assert "\n" in result.text
    assert not any(c in text for text in [result.text, *streamed] for c in "\r\u2028\u2029")


def test_the_ghost_text_is_the_most_likely_words_whatever_the_temperature(generator: Generator) -> None:
    texts = {generator.suggest("Once upon a time there was", preset("prose", seed=seed, stop="none",
                                                                      max_new_tokens=10))[0].text
             for seed in range(4)}
    assert len(texts) == 1


def test_alternatives_still_vary_and_come_ranked(generator: Generator) -> None:
    results = generator.suggest("Once upon a time there was", preset("prose", seed=3, alternatives=4, stop="none",
                                                                     max_new_tokens=8))
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert len({r.text for r in results}) > 1
    useful = [r for r in results[1:] if r.text.strip() and r.text != results[0].text]
    assert [r.score for r in useful] == sorted((r.score for r in useful), reverse=True)


def test_a_name_from_the_draft_is_suggested_after_it_has_been_used(generator: Generator) -> None:
    draft = "They walked to Quillerbrook Hall. " * 4 + "At last they came to Quillerbrook"
    settings = GenerationSettings(max_new_tokens=8, temperature=0.0, stop="none", repetition_penalty=1.0)
    with_cache = generator.suggest(draft, settings)[0].text
    generator.vocabulary = None
    generator.reset()
    without = generator.suggest(draft, settings)[0].text
    assert with_cache.startswith(" Hall")
    assert not without.startswith(" Hall")


def test_the_folder_vocabulary_helps_on_the_first_page(generator: Generator) -> None:
    generator.set_project_texts(["The carriage stopped at Quillerbrook Hall at noon."] * 3)
    settings = GenerationSettings(max_new_tokens=8, temperature=0.0, stop="none", repetition_penalty=1.0)
    assert generator.suggest("She was driven to Quillerbrook", settings)[0].text.startswith(" Hall")
