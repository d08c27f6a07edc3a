"""Rewriting a selection: the prompt (chat template or plain framing), the cleaning of chat manners,
and a run through the real engine on a tiny GPT-2."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cw_desktop.core.rewrite_request import MAX_SELECTION_CHARS, RewriteRequest, request_problem
from cw_desktop.ml import rewrite
from cw_desktop.ml.generation import Generator
from cw_desktop.ml.rewrite import (SYSTEM, RewriteTooLong, clean_rewrite, plan_prompt, rewrite_settings,
                                   run_rewrite)

PASSAGE = "The rain fell on the old roof all night, and nobody in the house could sleep."
CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def request(action: str = "shorten", selection: str = PASSAGE, **fields) -> RewriteRequest:
    return RewriteRequest(action=action, selection=selection, **fields)


@pytest.fixture
def chat_tokenizer(tiny_model_dir):
    """The tiny model's tokenizer, given a ChatML template (its own copy: the session's stays plain)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = CHATML
    return tokenizer


# -- the prompt -------------------------------------------------------------------------------------

def test_a_model_with_a_chat_template_is_asked_in_its_chat_format(chat_tokenizer, monkeypatch) -> None:
    around = request("shorten", before="It was late. ", after=" Morning came.")
    alone = plan_prompt(chat_tokenizer, around, 1024).text
    assert PASSAGE in alone and "It was late." not in alone  # by default the passage only (see SURROUNDING_CONTEXT)
    monkeypatch.setattr(rewrite, "SURROUNDING_CONTEXT", True)
    prompt = plan_prompt(chat_tokenizer, around, 1024)
    assert prompt.chat
    assert prompt.text.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n")
    assert prompt.text.endswith("<|im_end|>\n<|im_start|>assistant\n")  # the answer starts right here
    user = prompt.text.split("<|im_start|>user\n")[1]
    assert PASSAGE in user and "Shorten the passage" in user
    assert "It was late." in user and "Morning came." in user  # a little of the story around it
    assert prompt.stop == "none" and prompt.one_paragraph  # one paragraph shortened is one paragraph
    assert not plan_prompt(chat_tokenizer, request("expand"), 1024).one_paragraph  # may grow new paragraphs
    assert not plan_prompt(chat_tokenizer, request("shorten", selection="One.\n\nTwo."), 1024).one_paragraph


def test_each_action_asks_for_its_own_change(chat_tokenizer) -> None:
    texts = {action: plan_prompt(chat_tokenizer, request(action, instruction="make it funny"), 1024).text
             for action in ("rewrite", "expand", "shorten", "describe", "custom")}
    assert "fresh words" in texts["rewrite"] and "twice its length" in texts["expand"]
    assert "half its length" in texts["shorten"] and "smelled" in texts["describe"]
    assert "make it funny" in texts["custom"]
    assert len(set(texts.values())) == 5


def test_a_model_without_a_chat_template_gets_a_plain_framing(tiny_loaded) -> None:
    prompt = plan_prompt(tiny_loaded.tokenizer, request("shorten", before="It was late. "), 256)
    assert not prompt.chat
    assert prompt.text == f"Original: {PASSAGE}\nRewritten (shorter): "
    assert prompt.stop == "paragraph"  # a base model rambles on: one paragraph in, one out
    two_paragraphs = plan_prompt(tiny_loaded.tokenizer, request("expand", selection="One.\n\nTwo."), 256)
    assert two_paragraphs.stop == "none"
    custom = plan_prompt(tiny_loaded.tokenizer, request("custom", instruction="in the present tense."), 256)
    assert custom.text.endswith("\nRewritten (in the present tense): ")


def test_a_tight_window_drops_the_story_around_then_refuses(chat_tokenizer, monkeypatch) -> None:
    monkeypatch.setattr(rewrite, "SURROUNDING_CONTEXT", True)
    long_context = request("rewrite", before="Earlier words. " * 30)
    roomy = plan_prompt(chat_tokenizer, long_context, 4096)
    tight_window = len(chat_tokenizer.encode(roomy.text)) - 40
    tight = plan_prompt(chat_tokenizer, long_context, tight_window)
    assert "Earlier words" in roomy.text and "Earlier words" not in tight.text
    assert tight.max_new_tokens <= tight_window - len(chat_tokenizer.encode(tight.text))
    with pytest.raises(RewriteTooLong, match="too long for this model's window"):
        plan_prompt(chat_tokenizer, request("rewrite", selection=PASSAGE * 20), 256)


def test_requests_with_nothing_or_too_much_selected_are_refused_with_a_reason() -> None:
    assert request_problem(request(selection="   ")) == "Select the text to rewrite first."
    assert "too long" in request_problem(request(selection="word " * (MAX_SELECTION_CHARS // 4)))
    assert "instruction" in request_problem(request("custom"))
    assert "Unknown rewrite action" in request_problem(request("translate"))
    assert request_problem(request("custom", instruction="funnier")) is None


def test_settings_follow_the_plan_and_the_seed(tiny_loaded) -> None:
    plan = plan_prompt(tiny_loaded.tokenizer, request(seed=5, max_new_tokens=7), 256)
    settings = rewrite_settings(request(seed=5), plan)
    assert (settings.max_new_tokens, settings.seed, settings.stop, settings.alternatives) == (7, 5, "paragraph", 1)
    assert not settings.greedy_first and settings.temperature > 0


# -- cleaning the answer -----------------------------------------------------------------------------

@pytest.mark.parametrize("answer, expected", [
    ("Sure! Here is the rewritten passage:\n\nRain drummed on the roof; no one slept.",
     "Rain drummed on the roof; no one slept."),
    ("Here's a shorter version: Rain drummed all night.", "Rain drummed all night."),
    ("Here is a more vivid version of the passage.\nRain hammered the slates.", "Rain hammered the slates."),
    ("Rewritten passage (shorter):\nRain fell.", "Rain fell."),
    ('"Rain drummed all night; no one slept."', "Rain drummed all night; no one slept."),
    ("Certainly! “Rain drummed all night.”", "Rain drummed all night."),
    ("Rain fell.\n\nI hope this helps! Let me know if you want changes.", "Rain fell."),
    ("Rain fell all night.\n\nNote: I kept the past tense.", "Rain fell all night."),
    ("Rain fell.\nOriginal: The rain fell on the old roof", "Rain fell."),
    ("Rain fell.\n\nThe passage:\nShe walked down", "Rain fell."),
    ("Rain fell.\n\nShorten the passage to:\nShe", "Rain fell."),
    ("Rain fell.\n\nIn this rewriting, I've kept the tense.", "Rain fell."),
    ("Rain fell.\n\nThe passage", "Rain fell."),  # the framing starting over, cut by the length limit
    ("The rain fell. **Nobody** slept.", "The rain fell. Nobody slept."),
])
def test_chat_manners_are_stripped(answer: str, expected: str) -> None:
    assert clean_rewrite(answer, request())[0] == expected


@pytest.mark.parametrize("answer", [
    "“Come in,” she said. “Sit down.”",  # dialogue: its quotes are the story's own
    "Great waves crashed on the roof.",  # "Great" without "!" is a word of the story
    "Of course, nobody slept that night.",
    "This is the night nobody slept.\nThe rain went on.",
    "Rain fell.\n\nThe secret passage opened.",
    "Rain fell.\n\nThe passage was dark: beyond it, the sea.",
])
def test_the_story_itself_is_left_alone(answer: str) -> None:
    assert clean_rewrite(answer, request())[0] == answer


def test_quotes_are_kept_when_the_passage_was_a_quotation() -> None:
    quoted = request(selection="“We should go,” he said.")
    assert clean_rewrite("“We must leave now.”", quoted)[0] == "“We must leave now.”"


def test_the_passage_own_phrasing_is_not_taken_for_chat_junk() -> None:
    own = request(selection="“Here is the key,” he said, and the door swung open.")
    answer = "“Here is the key,” he told her, and the door opened."
    assert clean_rewrite(answer, own)[0] == answer
    assert clean_rewrite("He handed it over. Here is the answer: 42", request())[0] == "He handed it over."


def test_the_stream_holds_back_an_opening_until_it_shows_what_it_is() -> None:
    growing = ["Sure", "Sure! Here", "Sure! Here is the shorter", "Sure! Here is the shorter version:",
               "Sure! Here is the shorter version: Rain"]
    assert [clean_rewrite(text, request(), final=False)[0] for text in growing] == ["", "", "", "", "Rain"]
    assert clean_rewrite("The r", request(), final=False)[0] == ""  # may become "The rewritten passage:"
    assert clean_rewrite("The rain", request(), final=False)[0] == "The rain"


def test_one_paragraph_in_one_out_after_the_lead_in() -> None:
    answer = "Sure! Here is the shorter passage:\n\nRain fell all night.\n\nShe took a moment to reflect"
    assert clean_rewrite(answer, request(), one_paragraph=True) == ("Rain fell all night.", True)
    assert clean_rewrite(answer, request(), one_paragraph=False)[0].endswith("to reflect")


def test_comments_after_the_passage_end_the_stream() -> None:
    text, cut = clean_rewrite("Rain fell.\n\nI hope", request(), final=False)
    assert (text, cut) == ("Rain fell.", True)
    assert clean_rewrite("Rain fell and", request(), final=False) == ("Rain fell and", False)


# -- through the engine --------------------------------------------------------------------------------

def test_rewrite_streams_through_the_engine_and_restores_the_junk_filter(tiny_loaded) -> None:
    engine = Generator(tiny_loaded)
    streamed: list[str] = []
    result = run_rewrite(engine, request("rewrite", seed=3, max_new_tokens=24), on_text=streamed.append)
    assert result.tokens > 0 and not result.chat and result.finish_reason in ("eos", "stop", "length")
    assert streamed and streamed[-1].strip() == result.text.strip()
    assert engine.filter_junk  # ghost suggestions are filtered again afterwards
    again = run_rewrite(engine, request("rewrite", seed=3, max_new_tokens=24))
    assert again.text == result.text  # the same seed gives the same rewrite


def test_rewrite_with_a_chat_template_runs_and_stops_on_request(tiny_loaded, chat_tokenizer) -> None:
    # The tiny tokenizer spells everything out in short pieces: a terse template, a short passage.
    chat_tokenizer.chat_template = ("{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}"
                                    "{% endfor %}\nA: ")
    engine = Generator(replace(tiny_loaded, tokenizer=chat_tokenizer))
    short = "Rain fell."
    result = run_rewrite(engine, request("expand", selection=short, seed=1, max_new_tokens=8))
    assert result.chat and result.tokens > 0
    calls = 0

    def stop_after_three() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    stopped = run_rewrite(engine, request("expand", selection=short, seed=1, max_new_tokens=30),
                          should_stop=stop_after_three)
    assert stopped.finish_reason == "cancelled" and stopped.tokens <= 3


def test_a_rewrite_never_writes_a_banned_phrase(tiny_loaded) -> None:
    import re

    engine = Generator(tiny_loaded)
    free = run_rewrite(engine, request("rewrite", seed=3, max_new_tokens=24))
    word = re.findall(r"[A-Za-z]{3,}", free.text)[0]
    banned = run_rewrite(engine, request("rewrite", seed=3, max_new_tokens=24, banned_phrases=(word,)))
    assert not re.search(rf"\b{word}\b", banned.text, re.IGNORECASE)
