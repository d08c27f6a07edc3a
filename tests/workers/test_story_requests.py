"""The generation worker takes the story context (plain data) and answers under it."""

from __future__ import annotations



from cw_desktop.core.generation_settings import preset
from cw_desktop.core.story_context import LoreEntry, StoryContext
from cw_desktop.workers.generation_worker import GenerationWorker
from signal_relay import relay


def test_budget_and_suggestion_use_the_story_as_it_was_submitted(qtbot, worker: GenerationWorker) -> None:
    story = StoryContext(memory="Sea.", authors_note="terse",
                         lorebook=[LoreEntry("Ann", ["Ann"], "Ann cooks.")])
    with qtbot.waitSignal(relay(worker.budget_ready).fired, timeout=20_000) as answered:
        worker.submit_budget("Then Ann spoke.", preset("prose"), story)
        story.lorebook.clear()  # the GUI edits on at once: the request keeps its own copy
    budget = answered.args[0][1]
    assert budget.memory > 0 and budget.lorebook > 0 and budget.authors_note > 0
    assert budget.lore_entries == ["Ann"]
    with qtbot.waitSignal(relay(worker.suggestions_ready).fired, timeout=20_000) as ready:
        worker.submit_suggest("Then Ann spoke.", preset("prose", max_new_tokens=4, stop="none"), story)
    assert ready.args[0][1][0].tokens > 0


def test_plain_memory_still_works(qtbot, worker: GenerationWorker) -> None:
    with qtbot.waitSignal(relay(worker.budget_ready).fired, timeout=20_000) as answered:
        worker.submit_budget("word " * 20, preset("prose"), "Jane is proud.")
    assert answered.args[0][1].memory > 0 and answered.args[0][1].lorebook == 0
