"""Lorebook and author's note in the engine's prompt (tiny GPT-2): placement, budget, prefix cache."""

from __future__ import annotations

import pytest

from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.core.story_context import LoreEntry, StoryContext
from cw_desktop.ml.generation import Generator
from cw_desktop.ml.story_prompt import note_line, note_offset

GREEDY = GenerationSettings(max_new_tokens=8, temperature=0.0, stop="none", repetition_penalty=1.0)
NAMES = ["Ann", "Bram", "Cleo", "Dov", "Esk", "Fen", "Gil", "Hal", "Ivo", "Jun"]


@pytest.fixture
def generator(tiny_loaded) -> Generator:
    engine = Generator(tiny_loaded)
    engine.reset()
    return engine


def seen_by_model(engine: Generator, prompt) -> str:
    """The whole text the model reads (the healed-away last token put back)."""
    return engine._decode(prompt.ids[1:] + ([prompt.heal_id] if prompt.heal_id is not None else []))


def test_fired_entries_go_before_the_draft_and_others_stay_out(generator: Generator) -> None:
    story = StoryContext(memory="A sea story.", lorebook=[
        LoreEntry("Ann", ["Ann"], "Ann is the cook."), LoreEntry("Annabel", ["Annabel"], "Annabel sails."),
        LoreEntry("Off", ["ship"], "Never shown.", enabled=False)])
    draft = "The ship rolled. ann looked out."
    prompt = generator._build_prompt(draft, GREEDY, story)
    assert seen_by_model(generator, prompt) == "A sea story.\n\nAnn is the cook.\n\n" + draft
    assert prompt.budget.lore_entries == ["Ann"] and prompt.budget.lorebook > 0 and prompt.budget.dropped == []
    assert prompt.heal_text  # token healing still applies to the writer's last token
    without = generator.budget(draft, GREEDY, "A sea story.")
    assert without.lorebook == 0 and without.draft == prompt.budget.draft


def test_over_budget_the_low_priority_entry_drops_and_the_budget_says_so(generator: Generator) -> None:
    long_text = "The harbour of Vell is old and the walls are grey with salt. " * 3
    story = StoryContext(lorebook=[LoreEntry("Minor", ["Vell"], "A gull lives on the wall. " * 3, priority=0),
                                   LoreEntry("Vell", ["Vell"], long_text, priority=5)])
    prompt = generator._build_prompt("They came to Vell at dawn.", GREEDY, story)
    budget = prompt.budget
    assert budget.lore_entries == ["Vell"] and budget.dropped == ["Minor"]
    assert budget.memory + budget.lorebook + budget.authors_note <= (generator.window - GREEDY.max_new_tokens) // 2
    seen = seen_by_model(generator, prompt)
    assert "harbour of Vell" in seen and "gull" not in seen
    assert budget.free >= 0 and budget.draft > 0


@pytest.mark.parametrize("depth, expected", [
    (1, "One.\nTwo.\nThree.\n{note}Four is being typ"),
    (2, "One.\nTwo.\n{note}Three.\nFour is being typ"),
    (4, "{note}One.\nTwo.\nThree.\nFour is being typ"),
    (9, "{note}One.\nTwo.\nThree.\nFour is being typ"),  # fewer paragraphs than the depth: at the start
])
def test_authors_note_lands_exactly_depth_paragraphs_before_the_cursor(generator: Generator, depth: int,
                                                                       expected: str) -> None:
    story = StoryContext(authors_note="Style: terse, present tense", authors_note_depth=depth)
    prompt = generator._build_prompt("One.\nTwo.\nThree.\nFour is being typ", GREEDY, story)
    note = "[Author's note: Style: terse, present tense]\n"
    assert seen_by_model(generator, prompt) == expected.format(note=note)
    assert prompt.budget.authors_note == len(generator._encode(note))
    # The writer's own last token is what gets healed, never the note.
    assert generator._decode([prompt.heal_id]).strip() and "]" not in generator._decode([prompt.heal_id])


def test_note_placement_counts_blank_lines_as_breaks_and_keeps_a_bracketed_note() -> None:
    assert note_line("[Style: terse]") == "[Style: terse]\n"
    assert note_line("  ") == ""
    draft = "One.\n\nTwo.\n\n"  # the cursor on a fresh paragraph: depth 1 puts the note right before it
    assert draft[:note_offset(draft, 1)] == draft and draft[:note_offset(draft, 2)] == "One.\n\n"


def test_the_note_is_context_only(generator: Generator) -> None:
    story = StoryContext(authors_note="Style: terse", authors_note_depth=1)
    draft = "The storm broke over the harbour.\nThe boats strained at their ropes and the"
    results = generator.suggest(draft, GREEDY, story=story)
    assert results[0].text and "note" not in results[0].text.lower()
    plain = Generator(generator.loaded)
    assert plain.suggest(draft, GREEDY)[0].tokens > 0  # the same request without a note still works


def test_typing_keeps_the_prefix_cache_with_ten_entries_and_a_note(generator: Generator) -> None:
    # Short texts: the tiny model's 512-token vocabulary spends a token on nearly every character.
    story = StoryContext(authors_note="terse", authors_note_depth=2,
                         lorebook=[LoreEntry(name, [name], f"{name} rows.", priority=i % 3)
                                   for i, name in enumerate(NAMES)])
    draft = ("The crew: " + ", ".join(NAMES) + ".\nThey sailed at dawn.\nThe wind rose and the sea went grey.\n"
             "Ann said noth")
    generator.suggest(draft, GREEDY, story=story)
    budget = generator.budget(draft, GREEDY, story)
    assert len(budget.lore_entries) == 10 and budget.dropped == [] and budget.authors_note > 0
    prompt_length = len(generator._build_prompt(draft, GREEDY, story).ids)
    for typed in "ing at all":
        draft += typed
        generator.suggest(draft, GREEDY, story=story)
        assert generator.last_stats.prefilled_tokens <= 4, "a keystroke recomputed the lorebook or the draft"
        assert generator.last_stats.reused_tokens >= prompt_length - 4
    # A new paragraph moves the note: only the paragraphs after its old place run again.
    draft += ".\n"
    generator.suggest(draft, GREEDY, story=story)
    assert generator.last_stats.reused_tokens > budget.lorebook + 20
