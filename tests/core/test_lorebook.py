"""Which lorebook entries fire for a draft, in which order, and which ones a full window drops."""

from __future__ import annotations

from cw_desktop.core.lorebook import fit_budget, insertion_order, scan
from cw_desktop.core.story_context import LoreEntry


def entry(name: str, *keys: str, **fields: object) -> LoreEntry:
    return LoreEntry(name=name, keys=list(keys), text=f"{name} is part of the story.", **fields)


def fired(entries: list[LoreEntry], draft: str, scan_chars: int = 2000) -> list[str]:
    return [e.name for e in scan(entries, draft, scan_chars).fired]


def test_key_fires_as_a_whole_word_in_any_case_but_not_inside_another_word() -> None:
    ann = entry("Ann", "Ann")
    assert fired([ann], "Then ANN came in.") == ["Ann"]
    assert fired([ann], "ann's coat was wet") == ["Ann"]  # a possessive is still the word
    assert fired([ann], "Annabel came in, and the annals were read.") == []
    assert fired([entry("Dr. Moss", "Dr. Moss")], "Then dr. moss spoke.") == ["Dr. Moss"]  # punctuation in a key
    assert fired([entry("Old Town", "old town")], "We walked to the Old\nTown.") == ["Old Town"]  # wrapped
    assert fired([entry("Old Town", "old town")], "the old townhouse") == []


def test_disabled_entry_never_fires_and_any_key_is_enough() -> None:
    ship = entry("Ship", "Albatross", "the ship", enabled=False)
    assert fired([ship], "The Albatross sailed; the ship creaked.") == []
    ship.enabled = True
    assert fired([ship], "Aboard the ship it was cold.") == ["Ship"]


def test_only_the_last_scan_chars_characters_count() -> None:
    draft = "Mara waved. " + "The sea was grey. " * 20
    assert fired([entry("Mara", "Mara")], draft, scan_chars=len(draft)) == ["Mara"]
    assert fired([entry("Mara", "Mara")], draft, scan_chars=100) == []


def test_regex_entries_fire_and_a_bad_regex_is_reported_not_raised() -> None:
    good = entry("Moons", r"moons?\b", regex=True)
    bad = entry("Broken", "(unclosed", regex=True)
    result = scan([bad, good], "Two moons rose.", 2000)
    assert [e.name for e in result.fired] == ["Moons"]
    assert len(result.problems) == 1 and "Broken" in result.problems[0] and "(unclosed" in result.problems[0]
    # As a plain key, the same text is a literal (no regex error).
    assert fired([entry("Literal", "(unclosed")], "an (unclosed bracket") == ["Literal"]


def test_order_is_priority_then_the_lorebook_order() -> None:
    entries = [entry("a", "x", priority=0), entry("b", "x", priority=5), entry("c", "x", priority=0),
               entry("d", "x", priority=5)]
    assert [e.name for e in insertion_order(entries)] == ["b", "d", "a", "c"]
    assert fired(entries, "x") == ["b", "d", "a", "c"]


def test_over_budget_the_lowest_priority_entries_drop_first() -> None:
    entries = [entry("minor", "x", priority=1), entry("hero", "x", priority=9), entry("place", "x", priority=5)]
    sizes = {"minor": 10, "hero": 30, "place": 20}
    fit = fit_budget(entries, lambda e: sizes[e.name], budget=55)
    assert [e.name for e in fit.kept] == ["hero", "place"] and [e.name for e in fit.dropped] == ["minor"]
    assert fit.tokens == 50
    # Even when the dropped entry alone would fit, a higher-priority one never goes before it.
    fit = fit_budget(entries, lambda e: sizes[e.name], budget=25)
    assert fit.kept == [] and [e.name for e in fit.dropped] == ["minor", "place", "hero"]
    assert fit_budget(entries, lambda e: sizes[e.name], budget=60).dropped == []
