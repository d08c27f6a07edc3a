"""Suggestion history by place, retry settings and the swap rules (core/suggestion_history.py)."""

from __future__ import annotations

from cw_desktop.core.generation_settings import preset
from cw_desktop.core.suggestion_history import (ANCHOR_CHARS, RETRY_MIN_TEMPERATURE, AcceptedSpan,
                                                SuggestionHistory, place_key, retry_settings, swap_candidate,
                                                swap_refusal)
from cw_desktop.core.suggestion_log import make_event


def test_a_place_is_the_text_just_before_the_cursor_so_edits_further_back_keep_it() -> None:
    chapter = "Chapter one. " * 40 + "She opened the door and"
    edited_far_back = "Prologue, added later. " + chapter
    assert place_key(chapter) == place_key(edited_far_back)
    assert len(place_key(chapter)) == ANCHOR_CHARS
    assert place_key(chapter) != place_key(chapter + " then")  # the writer moved on: a new place
    assert place_key("Short draft") == "Short draft"


def test_history_keeps_every_new_suggestion_per_place_and_marks_the_latest_request() -> None:
    history = SuggestionHistory()
    here, there = place_key("The storm broke over the"), place_key("Elsewhere entirely")
    first = history.start_attempt(here)
    assert history.add(here, [" harbour.", "", " town."], first, [None, None, "copies your a.txt"]) != []
    assert history.place(here).texts() == [" harbour.", " town."]
    assert history.place(here).entries[1].copies == "copies your a.txt"
    assert not any(history.place(here).is_new(e) for e in history.place(here).entries)  # nothing earlier

    second = history.start_attempt(here)
    added = history.add(here, [" harbour. ", " hills."], second)
    assert [e.text for e in added] == [" hills."]  # the same words again are not a new suggestion
    place = history.place(here)
    assert place.texts() == [" harbour.", " town.", " hills."] and place.attempts == 2
    assert [place.is_new(e) for e in place.entries] == [False, False, True]
    assert history.place(there).texts() == [] and history.place(there).attempts == 0


def test_history_is_bounded_per_place_and_in_places() -> None:
    history = SuggestionHistory(max_places=3, max_per_place=4)
    for n in range(10):
        history.add("here", [f" option {n}"], n + 1)
    assert history.place("here").texts() == [" option 6", " option 7", " option 8", " option 9"]
    for key in ("a", "b", "c"):
        history.add(key, [" x"], 1)
    assert len(history) == 3 and history.place("here").texts() == []  # the oldest place went first


def test_retry_samples_every_alternative_with_a_new_seed_even_after_greedy_settings() -> None:
    greedy = preset("prose", temperature=0.0)
    again = retry_settings(greedy)
    assert again.greedy_first is False and again.temperature == RETRY_MIN_TEMPERATURE
    assert again.seed is not None and retry_settings(greedy, seed=5).seed == 5
    warm = retry_settings(preset("poetry"))
    assert warm.temperature == preset("poetry").temperature  # a warmer choice is the writer's own
    assert len({retry_settings(greedy).seed for _ in range(20)}) > 1


def test_swap_is_refused_when_it_would_remove_anything_the_writer_typed() -> None:
    span = AcceptedSpan(key="k", text=" the sea.")
    assert swap_refusal(span, " the sea.") == ""
    assert "edited" in swap_refusal(span, " the grey sea.")
    assert "no longer" in swap_refusal(span, "")  # undone, or deleted
    assert "typed" in swap_refusal(AcceptedSpan(key="k", text=" the sea.", typed=True), " the sea.")


def test_swap_candidate_cycles_through_the_others() -> None:
    texts = [" a", " b", " c"]
    assert swap_candidate(texts, " a") == 1
    assert swap_candidate(texts, " c") == 0
    assert swap_candidate(texts, " a", step=-1) == 2
    assert swap_candidate(texts, " unknown") == 0
    assert swap_candidate([" a", " a "], " a") is None  # only the same words again
    assert swap_candidate([], " a") is None


def test_log_lines_say_which_attempt_and_how_only_when_it_matters() -> None:
    first = make_event(model="m", outcome="rejected", suggestion=" x", attempt=1)
    assert "attempt" not in first and "via" not in first
    retried = make_event(model="m", outcome="accepted", suggestion=" y", attempt=3, via="retry")
    assert retried["attempt"] == 3 and retried["via"] == "retry"
