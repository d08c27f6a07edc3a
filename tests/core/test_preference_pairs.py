"""Preference pairs from the suggestion log: what the writer chose over what they turned down."""

from __future__ import annotations

from pathlib import Path

import pytest

from cw_desktop.core.preference_pairs import (MIN_PAIRS, PreferencePair, TooFewPairsError, count_pairs,
                                              extract_pairs, pairs_from_log, split_pairs)
from cw_desktop.core.suggestion_log import SuggestionLog, make_event

HARBOUR = "The storm broke over the harbour and"
GARDEN = "She walked into the garden and"


def event(outcome: str, suggestion: str, context: str, accepted: str = "", after: str = "", **extra) -> dict:
    line = make_event(model="bundled", outcome=outcome, suggestion=suggestion, accepted_text=accepted,
                      context=context, after_text=after)
    line.update(extra)
    return line


def as_tuples(pairs: list[PreferencePair]) -> set[tuple[str, str, str]]:
    return {(p.context, p.chosen, p.rejected) for p in pairs}


def test_pairs_at_one_place_from_every_kind_of_outcome() -> None:
    events = [
        event("rejected", " a dragon flew past", HARBOUR),
        event("accepted", " the boats strained at their ropes", HARBOUR, accepted=" the boats strained at their ropes",
              after=" All night."),
        # The writer typed their own words over this one (after_text: what they typed instead).
        event("typed_over", " the gulls screamed", GARDEN, after=" picked a rose"),
        # Took two words, then wrote on themselves: chosen is what they actually wrote.
        event("partial", " sat down on the cold bench", GARDEN, accepted=" sat down", after=" by the pond"),
    ]
    pairs = extract_pairs(events)
    assert as_tuples(pairs) == {
        (HARBOUR, " the boats strained at their ropes", " a dragon flew past"),
        (GARDEN, " picked a rose", " the gulls screamed"),
        (GARDEN, " sat down by the pond", " sat down on the cold bench"),
        # Each chosen text at a place also beats the other suggestions turned down there.
        (GARDEN, " picked a rose", " sat down on the cold bench"),
        (GARDEN, " sat down by the pond", " the gulls screamed"),
    }
    assert {p.source for p in pairs} == {"accepted", "typed_over", "partial"}


def test_no_pair_without_a_chosen_text_or_when_both_sides_read_the_same() -> None:
    events = [
        event("rejected", " a dragon", HARBOUR),
        event("rejected", " a ghost", HARBOUR),  # nothing chosen at this place
        event("typed_over", " the gulls", "At dawn"),  # no after_text: we do not know what was written
        event("accepted", " the  rain fell", GARDEN, accepted=" the rain fell"),
        event("rejected", " the rain   fell", GARDEN),  # the same words: no preference
        event("partial", " sat down", GARDEN, accepted=" sat"),  # no follow-up text: not a choice yet
    ]
    assert extract_pairs(events) == []


def test_duplicates_count_once_and_a_swapped_out_suggestion_is_rejected() -> None:
    accepted = event("accepted", " the boats strained", HARBOUR, accepted=" the boats strained")
    rejected = event("rejected", " a dragon", HARBOUR)
    swapped = event("rejected", " the sea rose", HARBOUR, accepted=" the sea rose", swapped_out=True)
    pairs = extract_pairs([accepted, rejected, dict(rejected), dict(accepted), swapped])
    assert as_tuples(pairs) == {(HARBOUR, " the boats strained", " a dragon"),
                                (HARBOUR, " the boats strained", " the sea rose")}


def test_long_sides_are_clipped_at_a_word_end() -> None:
    long_text = " and" + " then the tide came in" * 20
    pairs = extract_pairs([event("accepted", long_text, HARBOUR, accepted=long_text),
                           event("rejected", " no", HARBOUR)], max_chars=40)
    assert len(pairs) == 1 and len(pairs[0].chosen) <= 40 and long_text.startswith(pairs[0].chosen)
    assert not pairs[0].chosen.endswith(" ")


def synthetic_log(path: Path, places: int) -> SuggestionLog:
    log = SuggestionLog(path)
    for index in range(places):
        context = f"Chapter {index}: the lamp burned low and"
        log.append(event("accepted", f" she read letter {index}", context, accepted=f" she read letter {index}"))
        log.append(event("rejected", f" a cat sang song {index}", context))
    return log


def test_held_out_pairs_are_split_by_place_and_stay_put_as_the_log_grows(tmp_path: Path) -> None:
    log = synthetic_log(tmp_path / "suggestions.jsonl", 40)
    first = split_pairs(extract_pairs(log.read()))
    assert first.train and first.held_out and first.total == 40
    assert not {p.place for p in first.train} & {p.place for p in first.held_out}
    assert 0.05 < len(first.held_out) / first.total < 0.5
    for index in range(40, 60):  # more writing later
        context = f"Chapter {index}: the lamp burned low and"
        log.append(event("accepted", " yes", context, accepted=" yes"))
        log.append(event("rejected", " no", context))
    grown = split_pairs(extract_pairs(log.read()))
    assert set(first.held_out) <= set(grown.held_out) and set(first.train) <= set(grown.train)


def test_too_few_pairs_is_a_clear_refusal(tmp_path: Path) -> None:
    log = synthetic_log(tmp_path / "suggestions.jsonl", MIN_PAIRS - 1)
    assert count_pairs(log.path) == MIN_PAIRS - 1
    with pytest.raises(TooFewPairsError, match=rf"Only {MIN_PAIRS - 1} pair.*at least {MIN_PAIRS}.*Nothing was trained"):
        pairs_from_log(log.path)
    assert count_pairs(tmp_path / "missing.jsonl") == 0
    synthetic_log(log.path, 30)
    assert pairs_from_log(log.path).total >= MIN_PAIRS
